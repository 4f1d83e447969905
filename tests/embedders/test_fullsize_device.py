"""Device and dtype choice, and the batcher that halves its batch on out-of-memory."""

from __future__ import annotations

import pytest
import torch

from pagerag.ingest.errors import ConfigError, ModelError
from pagerag.retriever.embedders.device import (
    AdaptiveBatcher,
    is_out_of_memory,
    pick_device,
    pick_dtype,
    to_numpy,
)

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU answers")


class FakeGpuModel:
    """Raises CUDA's out-of-memory error for batches above ``limit`` items."""

    def __init__(self, limit: int, error: type[Exception] = torch.OutOfMemoryError) -> None:
        self.limit = limit
        self.error = error
        self.batches: list[int] = []

    def __call__(self, batch: list[str]) -> list[int]:
        self.batches.append(len(batch))
        if len(batch) > self.limit:
            raise self.error(f"CUDA out of memory. Tried to allocate {len(batch)} GiB")
        return [len(text) for text in batch]


@no_cuda
def test_auto_device_is_cpu_without_gpu() -> None:
    assert pick_device() == "cpu"
    assert pick_device("auto") == "cpu"
    assert pick_dtype("cpu") == torch.float32


@no_cuda
def test_requested_cuda_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="CUDA is not available"):
        pick_device("cuda")


def test_unknown_device_and_dtype_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown device"):
        pick_device("tpu")
    with pytest.raises(ConfigError, match="unknown dtype"):
        pick_dtype("cpu", "int3")
    assert pick_dtype("cpu", "bf16") == torch.bfloat16
    assert pick_dtype("cuda", "float32") == torch.float32


def test_out_of_memory_halves_the_batch_and_keeps_order() -> None:
    model = FakeGpuModel(limit=3)
    batcher = AdaptiveBatcher(16)
    texts = [f"text {'x' * i}" for i in range(10)]
    assert batcher.map(model, texts) == [len(t) for t in texts]
    assert batcher.batch_size == 2 and batcher.halvings == 3
    assert model.batches[:4] == [10, 8, 4, 2]  # 16 -> 8 -> 4 -> 2, then the run goes on
    assert all(n <= 2 for n in model.batches[4:])
    # The reduced size is kept: a second run does not hit the limit again.
    model.batches.clear()
    batcher.map(model, texts)
    assert max(model.batches) == 2


def test_sorted_batches_return_results_in_input_order() -> None:
    model = FakeGpuModel(limit=100)
    texts = ["a", "ccc", "bb", "dddd", "e"]
    assert AdaptiveBatcher(2).map(model, texts, sort_key=len) == [1, 3, 2, 4, 1]
    assert model.batches == [2, 2, 1]


def test_out_of_memory_at_batch_size_one_fails_with_model_error() -> None:
    with pytest.raises(ModelError, match="out of memory even at batch size 1"):
        AdaptiveBatcher(4).map(FakeGpuModel(limit=0), ["a", "b"])


def test_runtime_error_with_oom_message_counts_and_others_propagate() -> None:
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    model = FakeGpuModel(limit=1, error=RuntimeError)
    assert AdaptiveBatcher(4).map(model, ["a", "bb", "ccc"]) == [1, 2, 3]

    def broken(batch: list[str]) -> list[int]:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        AdaptiveBatcher(4).map(broken, ["a"])


def test_wrong_result_count_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="2 results for a batch of 1"):
        AdaptiveBatcher(1).map(lambda batch: [1, 2], ["a"])


def test_to_numpy_turns_bf16_into_float32() -> None:
    array = to_numpy(torch.ones(2, 3, dtype=torch.bfloat16))
    assert array.dtype.name == "float32" and array.shape == (2, 3)


@pytest.mark.gpu
def test_cuda_is_picked_with_bf16() -> None:
    assert pick_device() == "cuda"
    assert pick_dtype("cuda") == torch.bfloat16
    assert pick_device("cuda:0") == "cuda:0"
