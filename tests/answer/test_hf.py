"""Local transformers answerers: a tiny random VLM and chat/base LLMs, and the packaged gemma GGUF."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from pagerag.ingest.errors import ConfigError, ModelError
from pagerag.pipelines.answer import ask
from pagerag.pipelines.llm import build_llm
from pagerag.pipelines.llm.hf import HFLLM, cut_at_stops
from pagerag.pipelines.prompt import build_prompt

from . import tiny_models
from .conftest import PAGES, TinyIndex, make_hit


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-llms")
    tiny_models.build_llava(root / "vlm")
    tiny_models.build_chat_llm(root / "chat")
    tiny_models.build_chat_llm(root / "base", chat=False)
    return root


def _hits(tmp_path: Path) -> list:  # type: ignore[type-arg]
    hits = []
    for i, ((source, page), text) in enumerate(list(PAGES.items())[:2]):
        image = tmp_path / f"p{i}.png"
        Image.new("RGB", (90, 120), (250, 250, 250 - 60 * i)).save(image)
        hits.append(make_hit(source, page, text, 1.0 - i / 10, image))
    return hits


def test_vlm_gets_the_page_images_and_answers(tiny_dir: Path, tmp_path: Path) -> None:
    llm = HFLLM(str(tiny_dir / "vlm"), max_new_tokens=6, threads=1)
    assert llm.vision and llm.chat and llm.image_tokens > 0
    hits = _hits(tmp_path)
    prompt = build_prompt("What was revenue?", hits, context_tokens=1024, max_new_tokens=6)
    inputs = llm._inputs(prompt, prompt.images())
    assert inputs["pixel_values"].shape[0] == 2, "one image per source"
    image_id = llm._tokenizer.convert_tokens_to_ids("<image>")
    assert int((inputs["input_ids"] == image_id).sum()) == 2 * 4, "each image expands to its patch tokens"
    streamed = list(llm.generate(prompt, prompt.images(), stream=True))
    whole = "".join(llm.generate(prompt, prompt.images(), stream=False))
    assert "".join(streamed) == whole and whole


def test_vlm_through_ask_sends_the_images_of_the_sources(tiny_dir: Path, tiny_index: TinyIndex) -> None:
    llm = build_llm(f"hf:{tiny_dir / 'vlm'}", max_new_tokens=4, threads=1)
    answer = ask("total revenue 2023", index=tiny_index, llm=llm, k=2)
    assert answer.found and len(answer.hits) == 2 and answer.llm.startswith("hf:")


def test_chat_llm_uses_the_chat_template(tiny_dir: Path) -> None:
    llm = HFLLM(str(tiny_dir / "chat"), max_new_tokens=5, threads=1)
    assert llm.chat and not llm.vision
    prompt = build_prompt("q?", [make_hit("a.pdf", 1, "Alpha")], context_tokens=1024, max_new_tokens=5)
    text = llm._tokenizer.decode(llm._inputs(prompt, [])["input_ids"][0])
    assert text.startswith("<|im_start|>system\nYou answer questions")
    assert text.endswith("<|im_start|>assistant\n")
    assert "".join(llm.generate(prompt, stream=False)) == "".join(llm.generate(prompt, stream=True))


def test_base_llm_gets_the_completion_prompt(tiny_dir: Path) -> None:
    llm = HFLLM(str(tiny_dir / "base"), max_new_tokens=5, threads=1, context_tokens=4096)
    assert not llm.chat
    assert llm.context_tokens == 1024, "never more than the model's own context"
    prompt = build_prompt("q?", [make_hit("a.pdf", 1, "Alpha")], context_tokens=1024, max_new_tokens=5)
    text = llm._tokenizer.decode(llm._inputs(prompt, [])["input_ids"][0])
    assert text.endswith("Question: q?\nAnswer:")


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["The answer", " is 4 [1].", "\nQuestion: next"], "The answer is 4 [1]."),
        (["A", "B\nQu", "estion:", " x"], "AB"),
        (["no stop here"], "no stop here"),
        (["cut <sou", "rce n=2>"], "cut "),
    ],
)
def test_output_is_cut_at_the_first_stop_sequence(pieces: list[str], expected: str) -> None:
    assert "".join(cut_at_stops(iter(pieces), ("\nQuestion:", "<source"))) == expected


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load the model"):
        HFLLM(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="no such GGUF file"):
        build_llm(f"gguf:{tmp_path / 'missing.gguf'}", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="cache directory"):
        build_llm("gemma-270m")


@pytest.mark.slow
def test_packaged_gemma_answers_the_demo_question_from_the_chart_page(tmp_path: Path) -> None:
    """The packaged 270M GGUF, de-quantized by transformers: loads, answers within the budget, stops."""
    cache = Path(os.environ.get("PAGERAG_TEST_CACHE", tmp_path))
    llm = build_llm("gemma-270m", cache_dir=cache, threads=1, max_new_tokens=32)
    assert llm.name == "gemma-270m" and llm.context_tokens == 4096
    index = TinyIndex(dict(PAGES))
    answer = ask("What was the total revenue in 2023?", index=index, llm=llm, k=2)
    assert answer.text and len(answer.text) < 400
    assert "Question:" not in answer.text and "<source" not in answer.text
    assert all(1 <= c.n <= 2 for c in answer.citations)
    assert any(f.name == "config.json" for f in cache.rglob("config.json")), "the conversion is cached"


@pytest.mark.gpu
def test_local_models_run_on_cuda_in_bf16(tiny_dir: Path, tmp_path: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    vlm = HFLLM(str(tiny_dir / "vlm"), max_new_tokens=6)
    assert vlm.device == "cuda" and next(vlm._model.parameters()).dtype == torch.bfloat16
    hits = _hits(tmp_path)
    prompt = build_prompt("What was revenue?", hits, context_tokens=1024, max_new_tokens=6)
    assert vlm._inputs(prompt, prompt.images())["pixel_values"].device.type == "cuda"
    streamed = "".join(vlm.generate(prompt, prompt.images(), stream=True))
    assert streamed and streamed == "".join(vlm.generate(prompt, prompt.images(), stream=False))
    chat = HFLLM(str(tiny_dir / "chat"), max_new_tokens=6)
    assert chat.device == "cuda" and chat.context_tokens == 1024, "no CPU cap on a GPU"
    assert "".join(chat.generate(prompt, stream=True))


def test_gguf_goes_to_llama_cpp_when_it_is_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dispatch and prompt handling only: llama-cpp-python itself is an optional extra not installed here."""
    import sys
    import types

    from pagerag.pipelines.llm import llamacpp

    seen: dict[str, object] = {}

    class Llama:  # the slice of llama_cpp.Llama that LlamaCppLLM uses
        def __init__(self, path: str, n_ctx: int, n_threads: int | None, verbose: bool) -> None:
            seen["init"] = (path, n_ctx)

        def tokenize(self, data: bytes, add_bos: bool = False) -> list[bytes]:
            return data.split()

        def __call__(self, prompt: str, **kw: object) -> object:
            seen.update(kw, prompt=prompt)
            if kw["stream"]:
                return iter([{"choices": [{"text": "$4.2M "}]}, {"choices": [{"text": "[1]"}]}])
            return {"choices": [{"text": "$4.2M [1]"}]}

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(llamacpp, "available", lambda: True)
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=Llama))
    llm = build_llm(f"gguf:{gguf}", max_new_tokens=20)
    assert isinstance(llm, llamacpp.LlamaCppLLM) and seen["init"] == (str(gguf), 4096)
    assert llm.count_tokens("a b c") == 3
    prompt = build_prompt(
        "revenue?", [make_hit("a.pdf", 1, "Revenue $4.2M")], context_tokens=4096, max_new_tokens=20
    )
    assert "".join(llm.generate(prompt, stream=True)) == "$4.2M [1]"
    assert "".join(llm.generate(prompt, stream=False)) == "$4.2M [1]"
    assert seen["prompt"] == prompt.completion and seen["max_tokens"] == 20 and seen["temperature"] == 0.0
    assert "\nQuestion:" in seen["stop"]  # type: ignore[operator]


def test_llama_cpp_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from pagerag.ingest.errors import MissingDependency
    from pagerag.pipelines.llm.llamacpp import LlamaCppLLM

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingDependency, match=r'pip install "pagerag\[llamacpp\]"'):
        LlamaCppLLM(tmp_path / "model.gguf")
