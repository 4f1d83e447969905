"""Device, dtype and batch-size choices shared by the full-size (torch) embedders.

``pick_device`` takes cuda, then mps, then cpu; ``pick_dtype`` gives bf16 on CUDA;
:class:`AdaptiveBatcher` runs a model over batches and halves the batch when the GPU
runs out of memory instead of failing the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from pagerag.ingest.errors import ConfigError, MissingDependency, ModelError
from pagerag.retriever.types import FloatArray

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16"}
_DTYPES |= {"float16": "float16", "fp16": "float16"}


def import_torch() -> Any:
    """Imports torch, or raises :class:`MissingDependency` with the install command."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a core dependency here
        raise MissingDependency("torch", "gpu-models") from exc
    return torch


def pick_device(requested: str | None = None) -> str:
    """Returns the torch device to run on.

    Args:
        requested: ``None`` or ``"auto"`` picks cuda, then mps, then cpu; otherwise a
            torch device string (``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"``) that is
            checked to exist here.

    Raises:
        ConfigError: the requested device is unknown or not available on this machine.

    Example:
        >>> pick_device("cpu")
        'cpu'
    """
    torch = import_torch()
    if requested is None or requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    kind = requested.split(":", 1)[0]
    if kind == "cpu":
        return requested
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {requested!r} was requested but CUDA is not available here")
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {requested!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return requested
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"device {requested!r} was requested but MPS is not available here")
        return requested
    raise ConfigError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps")


def pick_dtype(device: str, requested: str | None = None) -> torch.dtype:
    """Returns the weight dtype for ``device``: bf16 on CUDA, fp16 on MPS, fp32 on CPU.

    Args:
        device: a device string from :func:`pick_device`.
        requested: ``None``/``"auto"``, or one of float32, bfloat16, float16 (short
            forms fp32, bf16, fp16 accepted).

    Raises:
        ConfigError: an unknown dtype name.
    """
    torch = import_torch()
    if requested is not None and requested != "auto":
        name = _DTYPES.get(requested.lower())
        if name is None:
            raise ConfigError(f"unknown dtype {requested!r}: use float32, bfloat16 or float16")
        return getattr(torch, name)  # type: ignore[no-any-return]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16  # type: ignore[no-any-return]
    if device.startswith("mps"):
        return torch.float16  # type: ignore[no-any-return]
    return torch.float32  # type: ignore[no-any-return]


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CUDA/MPS out-of-memory error (``torch.OutOfMemoryError`` or its message)."""
    torch = import_torch()
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_cached_memory() -> None:
    torch = import_torch()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        mps.empty_cache()


class AdaptiveBatcher:
    """Runs a batch function over items, halving the batch size on out-of-memory.

    The reduced size is kept for later batches (and later calls), so a run that hit
    the memory limit once does not hit it on every batch.

    Example:
        >>> b = AdaptiveBatcher(8)
        >>> b.map(lambda xs: [x * 2 for x in xs], [1, 2, 3])
        [2, 4, 6]
    """

    def __init__(self, batch_size: int, *, min_batch_size: int = 1) -> None:
        if batch_size < 1 or min_batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.min_batch_size = min(min_batch_size, batch_size)
        self.halvings = 0

    def map(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        items: Sequence[T],
        *,
        sort_key: Callable[[T], int] | None = None,
    ) -> list[R]:
        """Applies ``fn`` to consecutive batches of ``items``; returns results in input order.

        Args:
            fn: takes a batch (list) and returns one result per item.
            items: the inputs.
            sort_key: if given, items are batched in descending order of this key (e.g.
                text length) so each batch pads little; the output order is unchanged.

        Raises:
            ModelError: out of memory even at the smallest batch size, or ``fn``
                returned the wrong number of results.
        """
        order = list(range(len(items)))
        if sort_key is not None:
            order.sort(key=lambda i: sort_key(items[i]), reverse=True)
        results: list[R | None] = [None] * len(items)
        start = 0
        while start < len(order):
            idx = order[start : start + self.batch_size]
            batch = [items[i] for i in idx]
            try:
                out = fn(batch)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                if self.batch_size <= self.min_batch_size:
                    raise ModelError(
                        f"out of memory even at batch size {self.batch_size}: {str(exc).splitlines()[0]}"
                    ) from exc
                _free_cached_memory()
                self.batch_size = max(self.min_batch_size, self.batch_size // 2)
                self.halvings += 1
                log.warning("out of memory: batch size halved to %d", self.batch_size)
                continue
            if len(out) != len(batch):
                raise ModelError(f"model returned {len(out)} results for a batch of {len(batch)}")
            for i, r in zip(idx, out, strict=True):
                results[i] = r
            start += len(batch)
        return results  # type: ignore[return-value]


def to_numpy(tensor: torch.Tensor) -> FloatArray:
    """A float32 numpy copy of a tensor on any device and in any float dtype (bf16 too)."""
    return np.ascontiguousarray(tensor.detach().to("cpu").float().numpy(), dtype=np.float32)
