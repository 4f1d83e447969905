"""GGUF files through llama-cpp-python (the optional ``[llamacpp]`` extra): quantized, fast on CPU."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import MissingDependency, ModelError
from pagerag.pipelines.llm.base import Prompt


def available() -> bool:
    """llama-cpp-python is importable."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppLLM:
    """A GGUF model run by llama.cpp, prompted with the completion text and cut at its stops.

    Example:
        >>> llm = LlamaCppLLM(Path("model.gguf"))  # doctest: +SKIP
    """

    vision = False

    def __init__(
        self,
        path: Path,
        *,
        context_tokens: int = 4096,
        max_new_tokens: int = 256,
        threads: int | None = None,
        stops: tuple[str, ...] = (),
        name: str | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise MissingDependency("llama-cpp-python", "llamacpp") from exc
        if not path.is_file():
            raise ModelError(f"{path}: no such GGUF file")
        try:
            self._llm: Any = Llama(str(path), n_ctx=context_tokens, n_threads=threads, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: llama.cpp cannot load it: {exc}") from exc
        self.name = name or f"gguf:{path}"
        self.context_tokens = context_tokens
        self.max_new_tokens = max_new_tokens
        self.stops = stops

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False))

    def generate(self, prompt: Prompt, images: Sequence[Path] = (), *, stream: bool = True) -> Iterator[str]:
        out = self._llm(
            prompt.completion,
            max_tokens=self.max_new_tokens,
            temperature=0.0,
            stop=[*prompt.stop, *self.stops],
            stream=stream,
        )
        if not stream:
            yield str(out["choices"][0]["text"])
            return
        for chunk in out:
            yield str(chunk["choices"][0]["text"])
