"""Any sentence-transformers model (hub id or local path) as a text embedder.

The dense vector is the model's sentence embedding (query / document prompts through
``encode_query`` / ``encode_document`` where the library has them); the multi-vector is
the same pass's token embeddings (``output_value=None`` returns both), L2-normalised,
for MaxSim. Models not trained for late interaction still give a useful MaxSim signal
(all-MiniLM-L6-v2 token MaxSim reranking, docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pagerag.ingest.errors import ConfigError, MissingDependency, ModelError
from pagerag.retriever import maxsim
from pagerag.retriever.embedders import visual
from pagerag.retriever.embedders.device import AdaptiveBatcher, pick_device, pick_dtype, to_numpy
from pagerag.retriever.embedders.weights import local_weights
from pagerag.retriever.types import EmbedderSpec, Embedding, FloatArray, VectorSpec


class SentenceTransformerEmbedder(visual.TextSides):
    """Embedder over a sentence-transformers model; pages are embedded from ``page.text``.

    Args:
        model_id_or_path: hub id or local directory of a sentence-transformers model.
        device: ``None``/``"auto"`` (cuda, mps, cpu), or a torch device string.
        multi: also produce token vectors (multi-vector) from the same forward pass.
        dense_dim: Matryoshka truncation of the dense vector (None: full size).
        pooling: first-stage multi-vector of a page: None, ``"tokens[:F]"`` or ``"mean:G"``.
        batch_size: starting batch size (halved on out-of-memory); texts are batched by length.
        max_seq_length: token limit (None: the model's).
        dtype: weights dtype (default bf16 on CUDA, fp32 on CPU).
        trust_remote_code: allow the model's own code (some hub models need it).
        model: an already loaded ``SentenceTransformer``.

    Example:
        >>> emb = SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> emb.spec.dense.dim  # doctest: +SKIP
        384
    """

    def __init__(
        self,
        model_id_or_path: str,
        *,
        device: str | None = None,
        multi: bool = True,
        dense_dim: int | None = None,
        pooling: str | None = None,
        batch_size: int = 32,
        max_seq_length: int | None = None,
        dtype: str | None = None,
        trust_remote_code: bool = False,
        model: Any = None,
    ) -> None:
        self.model_id = model_id_or_path
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.multi = multi
        self._pooling = visual.parse_pooling(pooling, grid_ok=False)
        if self._pooling is not None and not multi:
            raise ConfigError("pooling needs multi=True")
        self.batcher = AdaptiveBatcher(batch_size)
        self.model = model if model is not None else self._load(trust_remote_code)
        if max_seq_length is not None:
            self.model.max_seq_length = max_seq_length
        full = _dimension(self.model)
        self.dense_dim = full if dense_dim is None else dense_dim
        if not 0 < self.dense_dim <= full:
            raise ConfigError(f"dense_dim must be in 1..{full}, got {dense_dim}")
        self.token_dim = _token_dimension(self.model, full)
        name = f"st:{model_id_or_path}"
        models = {"dense": name} | ({"multi": name} if multi else {})
        multi_spec, pooled_spec = visual.multi_specs(self.token_dim, self._pooling is not None)
        self._spec = EmbedderSpec(
            VectorSpec("dense", self.dense_dim), multi_spec if multi else None, pooled_spec, None, models
        )

    @property
    def spec(self) -> EmbedderSpec:
        """Dense (``dense_dim``) and, with ``multi``, token vectors of the transformer's width."""
        return self._spec

    def _load(self, trust_remote_code: bool) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependency("sentence-transformers", "gpu-models") from exc
        kwargs: dict[str, Any] = {"device": self.device, "trust_remote_code": trust_remote_code}
        if not self.device.startswith("cpu"):
            kwargs["model_kwargs"] = {"dtype": self.dtype}
        try:
            return SentenceTransformer(local_weights(self.model_id, "st"), **kwargs)
        except (OSError, ValueError) as exc:
            raise ModelError(f"sentence-transformers: cannot load {self.model_id!r}: {exc}") from exc

    def _encode(self, texts: list[str], side: visual.Side) -> list[Embedding]:
        common: dict[str, Any] = {"batch_size": len(texts), "show_progress_bar": False}
        if not self.multi:
            dense = self._call(
                texts, side, output_value="sentence_embedding", convert_to_numpy=True, **common
            )
            return [
                Embedding(dense=maxsim.truncate(np.asarray(d, np.float32), self.dense_dim)) for d in dense
            ]
        rows = self._call(texts, side, output_value=None, **common)
        out = []
        for row in rows:
            dense = maxsim.truncate(_np(row["sentence_embedding"]), self.dense_dim)
            tokens = _np(row["token_embeddings"])
            if "attention_mask" in row:
                tokens = tokens[_np(row["attention_mask"]).astype(bool)]
            multi = maxsim.normalize(tokens)
            pooled = visual.pool(multi, self._pooling) if side == "document" else None
            out.append(Embedding(dense=dense, multi=multi, pooled=pooled))
        return out

    def _call(self, texts: list[str], side: visual.Side, **kwargs: Any) -> Any:
        """``encode_query``/``encode_document`` (sentence-transformers >= 5), else ``encode`` + prompt."""
        method = getattr(self.model, f"encode_{side}", None)
        if method is not None:
            return method(texts, **kwargs)
        prompts = getattr(self.model, "prompts", {}) or {}
        names = ("query",) if side == "query" else ("document", "passage")
        prompt_name = next((n for n in names if n in prompts), None)
        return self.model.encode(texts, prompt_name=prompt_name, **kwargs)


def _np(value: Any) -> FloatArray:
    return value.astype(np.float32, copy=False) if isinstance(value, np.ndarray) else to_numpy(value)


def _dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = getter()
    if not dim:
        raise ModelError("sentence-transformers model reports no embedding dimension")
    return int(dim)


def _token_dimension(model: Any, default: int) -> int:
    first = model[0] if hasattr(model, "__getitem__") else None
    for name in ("get_embedding_dimension", "get_word_embedding_dimension"):
        getter = getattr(first, name, None)
        if getter is not None:
            return int(getter())
    return default
