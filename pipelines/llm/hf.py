"""Local transformers models: text LLMs, vision-language models and GGUF files.

A model with a chat template gets the system and user messages (and, for a
vision model, the page images); a base model gets the completion prompt and is
cut at the prompt's stop sequences. A GGUF file is de-quantized by transformers
once and the result cached as a plain checkpoint when a cache directory is given.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import LLMError, ModelError
from pagerag.pipelines.llm.base import Prompt

_CPU_CONTEXT = 4096  # prefill cost grows with the prompt: a sane default on CPU


class HFLLM:
    """A transformers model answering from the prompt (and page images for VLMs).

    Args:
        model: a model directory or hub id (hubs need network; pagerag never downloads itself).
        gguf_file: a GGUF file name inside ``model`` to load instead of safetensors.
        cache_dir: where a de-quantized GGUF checkpoint is kept for fast later loads.
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).
        context_tokens: the prompt + answer budget (default: the model's, at most 4096 on CPU).
        max_new_tokens: the most tokens an answer may take.
        threads: torch CPU threads (None: leave as set).
        image_max_pixels: page images are scaled down to at most this many pixels.
        stops: more sequences that end an answer (with the prompt's own for base models).
        name: what to call the model in messages.

    Example:
        >>> llm = HFLLM("/models/Qwen2.5-VL-3B-Instruct")  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str,
        *,
        gguf_file: str | None = None,
        cache_dir: Path | None = None,
        device: str | None = None,
        context_tokens: int | None = None,
        max_new_tokens: int = 256,
        threads: int | None = None,
        image_max_pixels: int = 448 * 448,
        stops: tuple[str, ...] = (),
        name: str | None = None,
    ) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.name = name or (f"gguf:{Path(model) / gguf_file}" if gguf_file else f"hf:{model}")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.max_new_tokens = max_new_tokens
        self.image_max_pixels = image_max_pixels
        self.stops = stops
        self._lock = threading.Lock()
        path = model
        if gguf_file and cache_dir is not None:
            path, gguf_file = str(_dequantized(Path(model) / gguf_file, cache_dir)), None
        self._load(path, gguf_file)
        limit = _context_of(self._model.config)
        default = limit if self.device != "cpu" else min(limit, _CPU_CONTEXT)
        self.context_tokens = min(context_tokens or default, limit)
        # Qwen2-VL style processors: one image token per 28x28 patch after merging.
        self.image_tokens = image_max_pixels // (28 * 28) + 8 if self.vision else 0

    def _load(self, path: str, gguf_file: str | None) -> None:
        import torch
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForImageTextToText,
            AutoProcessor,
            AutoTokenizer,
        )

        extra: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
        dtype = torch.float32 if self.device == "cpu" else torch.bfloat16
        try:
            config = AutoConfig.from_pretrained(path, **extra)
            self.vision = getattr(config, "vision_config", None) is not None
            if self.vision:
                self._processor: Any = AutoProcessor.from_pretrained(path)  # type: ignore[no-untyped-call]
                self._tokenizer: Any = self._processor.tokenizer
                model_class: Any = AutoModelForImageTextToText
            else:
                self._processor = None
                self._tokenizer = AutoTokenizer.from_pretrained(path, **extra)
                model_class = AutoModelForCausalLM
            self._model: Any = model_class.from_pretrained(path, dtype=dtype, **extra).to(self.device)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(f"{path}: cannot load the model: {exc}") from exc
        self._model.eval()
        self.chat = bool(getattr(self._tokenizer, "chat_template", None))

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, prompt: Prompt, images: Sequence[Path] = (), *, stream: bool = True) -> Iterator[str]:
        inputs = self._inputs(prompt, list(images) or (prompt.images() if self.vision else []))
        stops = self.stops + (() if self.chat else prompt.stop)
        pieces = self._stream(inputs, stops) if stream else iter([self._run(inputs, stops)])
        yield from cut_at_stops(pieces, stops)

    def _inputs(self, prompt: Prompt, images: list[Path]) -> Any:
        if not self.chat:
            return self._tokenizer(prompt.completion, return_tensors="pt").to(self.device)
        if not self.vision:
            messages = [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ]
            ids = self._tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            return ids.to(self.device)
        from PIL import Image

        pictures = []
        for path in images:
            try:
                with Image.open(path) as im:
                    pictures.append(_shrink(im.convert("RGB"), self.image_max_pixels))
            except OSError as exc:
                raise LLMError(f"{path}: cannot read the page image: {exc}") from exc
        content: list[dict[str, Any]] = [{"type": "image"} for _ in pictures]
        content.append({"type": "text", "text": prompt.user})
        vlm_messages: list[dict[str, Any]] = [
            {"role": "system", "content": [{"type": "text", "text": prompt.system}]},
            {"role": "user", "content": content},
        ]
        text = self._processor.apply_chat_template(vlm_messages, add_generation_prompt=True, tokenize=False)
        return self._processor(text=[text], images=pictures or None, return_tensors="pt").to(self.device)

    def _kwargs(self, inputs: Any, stops: Sequence[str]) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(inputs)
        kwargs.update(max_new_tokens=self.max_new_tokens, do_sample=False)
        if stops:
            kwargs.update(stop_strings=list(stops), tokenizer=self._tokenizer)
        return kwargs

    def _run(self, inputs: Any, stops: Sequence[str]) -> str:
        import torch

        with self._lock, torch.inference_mode():
            out = self._model.generate(**self._kwargs(inputs, stops))
        new = out[0][inputs["input_ids"].shape[1] :]
        return str(self._tokenizer.decode(new, skip_special_tokens=True))

    def _stream(self, inputs: Any, stops: Sequence[str]) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []

        def work() -> None:
            try:
                with self._lock, torch.inference_mode():
                    self._model.generate(**self._kwargs(inputs, stops), streamer=streamer)
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)
                streamer.end()  # type: ignore[no-untyped-call]

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        yield from streamer
        thread.join()
        if failure:
            raise LLMError(f"{self.name}: generation failed: {failure[0]}") from failure[0]


def cut_at_stops(pieces: Iterator[str], stops: Sequence[str]) -> Iterator[str]:
    """Stream ``pieces`` up to the first stop sequence, holding back what might start one."""
    if not stops:
        yield from pieces
        return
    hold = max(len(s) for s in stops) - 1
    buffer = ""
    for piece in pieces:
        buffer += piece
        cut = min((i for i in (buffer.find(s) for s in stops) if i >= 0), default=-1)
        if cut >= 0:
            yield buffer[:cut]
            return
        if len(buffer) > hold:
            yield buffer[: len(buffer) - hold]
            buffer = buffer[len(buffer) - hold :]
    yield buffer


def _shrink(image: Any, max_pixels: int) -> Any:
    w, h = image.size
    if w * h <= max_pixels:
        return image
    scale = (max_pixels / (w * h)) ** 0.5
    return image.resize((max(28, int(w * scale)), max(28, int(h * scale))))


def _context_of(config: Any) -> int:
    for c in (getattr(config, "text_config", None), config):
        value = getattr(c, "max_position_embeddings", None) if c is not None else None
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def _dequantized(gguf: Path, cache_dir: Path) -> Path:
    """A plain transformers checkpoint of ``gguf``, converted once and kept in ``cache_dir``."""
    if not gguf.is_file():
        raise ModelError(f"{gguf}: no such GGUF file")
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir / f"{gguf.stem}-{key}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"{gguf}: cannot load the GGUF file: {exc}") from exc
    # The de-quantized weights are plain tensors: drop the GGUF marker so they can be saved.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    tokenizer.save_pretrained(partial)
    model.save_pretrained(partial)
    partial.replace(target)
    return target
