"""jina-embeddings-v4: page images and queries to a Matryoshka dense vector and 128-d token vectors.

The model (Qwen2.5-VL + LoRA adapters) ships its own code on the model hub, loaded with
``trust_remote_code``. Its public API is ``encode_image`` / ``encode_text``, each call
returning EITHER the single vector or the multi-vector. Its forward pass computes both,
so when the model exposes the processor that ``encode_*`` use (``model.processor``) this
adapter calls the forward pass once per batch and takes both outputs; otherwise it falls
back to two public calls per batch (two forward passes), and says so in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from pagerag.ingest.errors import ConfigError, ModelError
from pagerag.ingest.types import Page
from pagerag.retriever import maxsim
from pagerag.retriever.embedders import visual
from pagerag.retriever.embedders.device import (
    AdaptiveBatcher,
    import_torch,
    pick_device,
    pick_dtype,
    to_numpy,
)
from pagerag.retriever.embedders.weights import local_weights
from pagerag.retriever.types import EmbedderSpec, Embedding, FloatArray, VectorSpec

log = logging.getLogger(__name__)

MATRYOSHKA_DIMS = (128, 256, 512, 1024, 2048)
MULTI_DIM = 128
_Prompt = Literal["query", "passage"]


class JinaV4Embedder:
    """Embedder over jina-embeddings-v4 (``jinaai/jina-embeddings-v4`` or a local copy).

    Args:
        model_id_or_path: hub id or local directory of the model.
        device: ``None``/``"auto"`` (cuda, mps, cpu), or a torch device string.
        dense_dim: Matryoshka truncation of the single vector (128, 256, 512, 1024, 2048).
        multi_dim: token-vector dimensions kept (<= 128; fewer is a lossy truncation).
        task: the LoRA adapter (``"retrieval"``, ``"text-matching"``, ``"code"``).
        page_input: ``"image"`` embeds the rendered page, ``"text"`` its text (passage prompt).
        pooling: first-stage multi-vector: ``None``, ``"tokens[:F]"`` or ``"mean:G"``.
        batch_size: starting batch size (halved on out-of-memory).
        max_length: token limit of a text.
        max_pixels: image size limit passed to the processor (None: the model's default).
        dtype: weights dtype (default bf16 on CUDA, fp32 on CPU).
        one_pass: True/False forces the forward-pass / public-API path; None picks.
        model: an already loaded model object (skips loading).

    Example:
        >>> emb = JinaV4Embedder("jinaai/jina-embeddings-v4", dense_dim=512)  # doctest: +SKIP
        >>> emb.embed_queries(["revenue in 2023"])[0].dense.shape  # doctest: +SKIP
        (512,)
    """

    def __init__(
        self,
        model_id_or_path: str,
        *,
        device: str | None = None,
        dense_dim: int = 2048,
        multi_dim: int = MULTI_DIM,
        task: str = "retrieval",
        page_input: Literal["image", "text"] = "image",
        pooling: str | None = None,
        batch_size: int = 8,
        max_length: int = 8192,
        max_pixels: int | None = None,
        dtype: str | None = None,
        one_pass: bool | None = None,
        model: Any = None,
    ) -> None:
        if dense_dim not in MATRYOSHKA_DIMS:
            raise ConfigError(f"jina-v4 dense_dim must be one of {MATRYOSHKA_DIMS}, got {dense_dim}")
        if not 0 < multi_dim <= MULTI_DIM:
            raise ConfigError(f"jina-v4 multi_dim must be in 1..{MULTI_DIM}, got {multi_dim}")
        if page_input not in ("image", "text"):
            raise ConfigError(f"jina-v4 page_input must be 'image' or 'text', got {page_input!r}")
        self.model_id = model_id_or_path
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.dense_dim = dense_dim
        self.multi_dim = multi_dim
        self.task = task
        self.page_input = page_input
        self._pooling = visual.parse_pooling(pooling, grid_ok=False)
        self.max_length = max_length
        self.max_pixels = max_pixels
        self.batcher = AdaptiveBatcher(batch_size)
        self.model = model if model is not None else self._load()
        self.one_pass = self._has_forward_api() if one_pass is None else one_pass
        self._one_pass_forced = one_pass is True
        if self.one_pass and not self._has_forward_api():
            raise ConfigError("one_pass=True needs the model's processor (model.processor.process_*)")
        if not self.one_pass:
            log.info("jina-v4: no model.processor; dense and multi take two forward passes per batch")
        models = {"dense": f"jina-v4:{model_id_or_path}", "multi": f"jina-v4:{model_id_or_path}"}
        multi, pooled = visual.multi_specs(multi_dim, self._pooling is not None)
        self._spec = EmbedderSpec(VectorSpec("dense", dense_dim), multi, pooled, None, models)

    @property
    def spec(self) -> EmbedderSpec:
        """Dense (``dense_dim``), multi (``multi_dim`` per token) and optional pooled vectors."""
        return self._spec

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        """Embeds each page's image (or its text with the passage prompt, if ``page_input="text"``)."""
        if self.page_input == "text":
            return self.batcher.map(
                lambda b: self._encode_texts([p.text for p in b], "passage", pooled=True),
                list(pages),
                sort_key=lambda p: len(p.text),
            )
        return self.batcher.map(self._encode_pages, list(pages))

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        """Embeds queries with the query prompt (no pooled vector: queries are short)."""
        return self.batcher.map(
            lambda b: self._encode_texts(b, "query", pooled=False), list(texts), sort_key=len
        )

    def _load(self) -> Any:
        from transformers import AutoModel

        try:
            model = AutoModel.from_pretrained(
                local_weights(self.model_id, "jina-v4"), trust_remote_code=True, dtype=self.dtype
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"jina-v4: cannot load {self.model_id!r}: {exc}") from exc
        for name in ("encode_text", "encode_image"):
            if not callable(getattr(model, name, None)):
                raise ModelError(
                    f"jina-v4: {self.model_id!r} has no {name}(): not a jina-embeddings-v4 model"
                )
        return model.to(self.device).eval()

    def _has_forward_api(self) -> bool:
        proc: Any = getattr(self.model, "processor", None)
        return callable(getattr(proc, "process_texts", None)) and callable(
            getattr(proc, "process_images", None)
        )

    def _encode_pages(self, pages: list[Page]) -> list[Embedding]:
        images = visual.load_page_images(pages)
        proc: Any = getattr(self.model, "processor", None)
        done = self._try_one_pass(lambda: proc.process_images(images=images, **self._pixel_kwargs()), True)
        if done is not None:
            return done
        dense = self.model.encode_image(
            images=images,
            task=self.task,
            batch_size=len(images),
            truncate_dim=self.dense_dim,
            **self._pixel_kwargs(),
        )
        multi = self.model.encode_image(
            images=images,
            task=self.task,
            batch_size=len(images),
            return_multivector=True,
            **self._pixel_kwargs(),
        )
        return self._assemble(dense, multi, pooled=True)

    def _encode_texts(self, texts: list[str], prompt: _Prompt, *, pooled: bool) -> list[Embedding]:
        prefix = "Query" if prompt == "query" else "Passage"
        proc: Any = getattr(self.model, "processor", None)
        done = self._try_one_pass(
            lambda: proc.process_texts(texts=texts, max_length=self.max_length, prefix=prefix), pooled
        )
        if done is not None:
            return done
        common = {
            "task": self.task,
            "prompt_name": prompt,
            "batch_size": len(texts),
            "max_length": self.max_length,
        }
        dense = self.model.encode_text(texts=texts, truncate_dim=self.dense_dim, **common)
        multi = self.model.encode_text(texts=texts, return_multivector=True, **common)
        return self._assemble(dense, multi, pooled=pooled)

    def _try_one_pass(self, process: Callable[[], Any], pooled: bool) -> list[Embedding] | None:
        """The single-pass result, or None to use the public API.

        The single pass uses the model's processor and forward pass, which jina's code does
        not document as public: if their signatures differ from what this adapter expects,
        it falls back to ``encode_*`` for good (unless ``one_pass=True`` was asked for).
        """
        if not self.one_pass:
            return None
        try:
            return self._forward(process(), pooled=pooled)
        except (TypeError, KeyError, AttributeError, _NoJointOutput) as exc:
            if self._one_pass_forced:
                raise ModelError(f"jina-v4: the single forward pass failed: {exc}") from exc
            log.warning("jina-v4: single forward pass failed (%s); using encode_image/encode_text", exc)
            self.one_pass = False
            return None

    def _pixel_kwargs(self) -> dict[str, Any]:
        return {} if self.max_pixels is None else {"max_pixels": self.max_pixels}

    def _forward(self, inputs: Any, *, pooled: bool) -> list[Embedding]:
        """One forward pass: ``single_vec_emb`` and ``multi_vec_emb`` of the same batch."""
        torch = import_torch()
        batch = {k: (v.to(self.device) if hasattr(v, "to") else v) for k, v in inputs.items()}
        device_type = self.device.split(":", 1)[0]
        autocast = device_type != "cpu" and self.dtype != torch.float32
        with torch.inference_mode(), torch.autocast(device_type, dtype=self.dtype, enabled=autocast):
            out = self.model(task_label=self.task, **batch)
        single = getattr(out, "single_vec_emb", None)
        multi = getattr(out, "multi_vec_emb", None)
        if single is None or multi is None:
            raise _NoJointOutput("the forward pass gave no single_vec_emb/multi_vec_emb")
        mask = batch["attention_mask"].bool()
        rows = [m[k] for m, k in zip(multi, mask, strict=True)]
        return self._assemble(single, rows, pooled=pooled)

    def _assemble(self, dense: Any, multi: Sequence[Any], *, pooled: bool) -> list[Embedding]:
        if len(dense) != len(multi):
            raise ModelError(f"jina-v4: {len(dense)} dense vectors for {len(multi)} multi-vectors")
        out = []
        for d, m in zip(dense, multi, strict=True):
            dense_np = maxsim.truncate(_as_numpy(d), self.dense_dim)
            multi_np = maxsim.truncate(_as_numpy(m), self.multi_dim) if len(m) else _empty(self.multi_dim)
            pooled_np = visual.pool(multi_np, self._pooling) if pooled else None
            out.append(Embedding(dense=dense_np, multi=multi_np, pooled=pooled_np))
        return out


class _NoJointOutput(Exception):
    """The model's forward pass does not return both single and multi vectors."""


def _as_numpy(x: Any) -> FloatArray:
    if isinstance(x, np.ndarray):
        return x.astype(np.float32, copy=False)
    return to_numpy(x)


def _empty(dim: int) -> FloatArray:
    return np.zeros((0, dim), dtype=np.float32)
