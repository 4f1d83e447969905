"""ColBERT-style text late interaction (jina-colbert-v2, colbertv2.0, PyLate checkpoints).

A BERT / XLM-RoBERTa encoder loaded with transformers, then the checkpoint's linear
projection to 128 dimensions (``linear.weight`` next to the encoder weights, as in
colbert-ai and jina-colbert-v2, or a sentence-transformers/PyLate ``1_Dense`` module),
per-token L2 normalisation and optional Matryoshka truncation to 64 (jina-colbert-v2:
-1.7% quality for half the storage). Queries and documents get their marker token after
``[CLS]``; queries are padded to ``query_length`` with mask tokens (query augmentation);
punctuation tokens are dropped from documents. Scoring is MaxSim
(:mod:`pagerag.retriever.maxsim`); the dense vector is the normalised mean of the
token vectors (ColBERT has no single-vector head).
"""

from __future__ import annotations

import json
import string
from typing import TYPE_CHECKING, Any

import numpy as np

from pagerag.ingest.errors import ConfigError, ModelError
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
from pagerag.retriever.types import EmbedderSpec, Embedding, VectorSpec

if TYPE_CHECKING:
    import torch

_MARKERS = {"query": ("[QueryMarker]", "[unused0]"), "document": ("[DocumentMarker]", "[unused1]")}


class ColbertEmbedder(visual.TextSides):
    """Embedder over a ColBERT checkpoint; pages are embedded from ``page.text``.

    Args:
        model_id_or_path: hub id or local directory (``jinaai/jina-colbert-v2``, ``colbert-ir/colbertv2.0``).
        device: ``None``/``"auto"`` (cuda, mps, cpu), or a torch device string.
        dim: keep this many dimensions of the token vectors (None: the projection's, 128).
        query_length: query tokens including markers and mask-token expansion.
        document_length: document token limit (None: the tokenizer's, at most 8192).
        query_marker: token put after ``[CLS]`` in queries (None: ``[QueryMarker]`` if the
            vocabulary has it, else ``[unused0]``).
        document_marker: likewise for documents (``[DocumentMarker]`` / ``[unused1]``).
        attend_to_expansion_tokens: queries attend to their mask-token padding (jina-colbert-v2).
        pooling: first-stage multi-vector of a page: None, ``"tokens[:F]"`` or ``"mean:G"``.
        batch_size: starting batch size (halved on out-of-memory).
        dtype: weights dtype (default bf16 on CUDA, fp32 on CPU).
        trust_remote_code: allow the checkpoint's own code (jina-colbert-v2 ships its
            XLM-RoBERTa implementation); None: allow it when the checkpoint's config declares
            code (``auto_map``), as the checkpoint was named by the user.

    Example:
        >>> emb = ColbertEmbedder("jinaai/jina-colbert-v2", dim=64, trust_remote_code=True)  # doctest: +SKIP
        >>> emb.embed_queries(["revenue 2023"])[0].multi.shape  # doctest: +SKIP
        (32, 64)
    """

    def __init__(
        self,
        model_id_or_path: str,
        *,
        device: str | None = None,
        dim: int | None = None,
        query_length: int = 32,
        document_length: int | None = None,
        query_marker: str | None = None,
        document_marker: str | None = None,
        attend_to_expansion_tokens: bool = True,
        pooling: str | None = None,
        batch_size: int = 16,
        dtype: str | None = None,
        trust_remote_code: bool | None = None,
    ) -> None:
        if query_length < 4:
            raise ConfigError(f"query_length must be >= 4, got {query_length}")
        self.model_id = model_id_or_path
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self._pooling = visual.parse_pooling(pooling, grid_ok=False)
        self.batcher = AdaptiveBatcher(batch_size)
        self.attend_to_expansion = attend_to_expansion_tokens
        if trust_remote_code is None:
            trust_remote_code = "auto_map" in _read_config(model_id_or_path)
        self.tokenizer, self.model = self._load(trust_remote_code)
        weight, bias = load_projection(model_id_or_path)
        self.weight = weight.to(self.device)
        self.bias = None if bias is None else bias.to(self.device)
        hidden = int(self.model.config.hidden_size)
        if self.weight.shape[1] != hidden:
            raise ModelError(
                f"{model_id_or_path}: projection expects {self.weight.shape[1]}-d input, model is {hidden}"
            )
        full = int(self.weight.shape[0])
        self.dim = full if dim is None else dim
        if not 0 < self.dim <= full:
            raise ConfigError(f"colbert dim must be in 1..{full}, got {dim}")
        self.query_length = query_length
        self.document_length = document_length or self._max_length()
        self.markers = {
            "query": self._marker_id(query_marker, "query"),
            "document": self._marker_id(document_marker, "document"),
        }
        self.skip_ids = self._punctuation_ids()
        name = f"colbert:{model_id_or_path}"
        multi, pooled = visual.multi_specs(self.dim, self._pooling is not None)
        self._spec = EmbedderSpec(
            VectorSpec("dense", self.dim), multi, pooled, None, {"dense": name, "multi": name}
        )

    @property
    def spec(self) -> EmbedderSpec:
        """Dense (mean of token vectors) and multi vectors, ``dim`` wide."""
        return self._spec

    def _load(self, trust_remote_code: bool) -> tuple[Any, Any]:
        from transformers import AutoModel, AutoTokenizer

        try:
            weights = local_weights(self.model_id, "colbert")
            tokenizer = AutoTokenizer.from_pretrained(weights, trust_remote_code=trust_remote_code)
            model = AutoModel.from_pretrained(weights, trust_remote_code=trust_remote_code, dtype=self.dtype)
        except (OSError, ValueError) as exc:
            raise ModelError(f"colbert: cannot load {self.model_id!r}: {exc}") from exc
        if tokenizer.mask_token_id is None or tokenizer.cls_token_id is None:
            raise ModelError(f"colbert: the tokenizer of {self.model_id!r} has no mask or cls token")
        return tokenizer, model.to(self.device).eval()

    def _marker_id(self, marker: str | None, side: visual.Side) -> int:
        vocab = self.tokenizer.get_vocab()
        candidates = (marker,) if marker is not None else _MARKERS[side]
        for token in candidates:
            if token in vocab:
                return int(vocab[token])
        raise ModelError(f"colbert: no {side} marker token ({' or '.join(candidates)}) in the vocabulary")

    def _max_length(self) -> int:
        """The longest document the model takes: tokenizer limit, position table, at most 8192."""
        limit = min(int(getattr(self.tokenizer, "model_max_length", 8192) or 8192), 8192)
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if positions:  # RoBERTa-style position ids start after the padding index
            offset = 2 if "roberta" in str(self.model.config.model_type) else 0
            limit = min(limit, int(positions) - offset)
        return limit

    def _punctuation_ids(self) -> frozenset[int]:
        """Tokens that are one punctuation character, alone or word-initial (``.`` and ``▁.``)."""
        ids = set()
        unk = self.tokenizer.unk_token_id
        for char in string.punctuation:
            tokens = self.tokenizer.encode(char, add_special_tokens=False)
            if len(tokens) == 1:
                ids.add(int(tokens[0]))
            ids.add(int(self.tokenizer.convert_tokens_to_ids(char)))
        ids.discard(unk)
        return frozenset(ids)

    def _tokenize(self, texts: list[str], side: visual.Side) -> tuple[Any, Any]:
        """Token ids with the marker inserted after [CLS]; queries padded with mask tokens."""
        torch = import_torch()
        length = self.query_length if side == "query" else self.document_length
        enc = self.tokenizer(
            texts,
            padding="max_length" if side == "query" else "longest",
            truncation=True,
            max_length=length - 1,
            return_tensors="pt",
        )
        ids, mask = enc["input_ids"], enc["attention_mask"]
        marker = torch.full((ids.shape[0], 1), self.markers[side], dtype=ids.dtype)
        ids = torch.cat([ids[:, :1], marker, ids[:, 1:]], dim=1)
        mask = torch.cat([mask[:, :1], torch.ones_like(marker), mask[:, 1:]], dim=1)
        if side == "query":
            expansion = ids == self.tokenizer.pad_token_id
            ids = ids.masked_fill(expansion, self.tokenizer.mask_token_id)
            if self.attend_to_expansion:
                mask = mask.masked_fill(expansion, 1)
        return ids, mask

    def _encode(self, texts: list[str], side: visual.Side) -> list[Embedding]:
        torch = import_torch()
        ids, mask = self._tokenize(texts, side)
        with torch.inference_mode():
            hidden = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))[0]
            projected = torch.nn.functional.linear(hidden.float(), self.weight, self.bias)
            vectors = to_numpy(torch.nn.functional.normalize(projected, dim=-1))
        ids_np, mask_np = ids.numpy(), mask.numpy().astype(bool)
        out = []
        for i in range(len(texts)):
            if side == "query":
                keep = np.ones(ids_np.shape[1], dtype=bool)  # ColBERT scores with every query position
            else:
                keep = mask_np[i] & ~np.isin(ids_np[i], list(self.skip_ids))
            multi = vectors[i][keep]
            if self.dim < multi.shape[1]:
                multi = maxsim.truncate(multi, self.dim)
            pooled = visual.pool(multi, self._pooling) if side == "document" else None
            out.append(Embedding(dense=visual.mean_vector(multi), multi=multi, pooled=pooled))
        return out


def _find(model_id_or_path: str, name: str) -> str | None:
    """A file of a local checkpoint directory or of a cached/downloadable hub model, or None."""
    from transformers.utils.hub import cached_file

    try:
        found = cached_file(model_id_or_path, name, _raise_exceptions_for_missing_entries=False)
    except (OSError, ValueError):
        return None
    return str(found) if found else None


def _read_config(model_id_or_path: str) -> dict[str, Any]:
    path = _find(model_id_or_path, "config.json")
    if path is None:
        return {}
    with open(path, encoding="utf-8") as fh:
        config = json.load(fh)
    return config if isinstance(config, dict) else {}


def load_projection(model_id_or_path: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The ColBERT linear projection (float32 weight (out, hidden), optional bias) of a checkpoint.

    Looks for a sentence-transformers/PyLate ``1_Dense`` module, then for a top-level
    ``linear.weight`` tensor in the main weights (colbert-ai, jina-colbert-v2).

    Raises:
        ModelError: neither is present.
    """
    from safetensors.torch import load_file

    for name in ("1_Dense/model.safetensors", "model.safetensors"):
        path = _find(model_id_or_path, name)
        if path is None:
            continue
        tensors = load_file(path)
        if "linear.weight" in tensors:
            bias = tensors.get("linear.bias")
            return tensors["linear.weight"].float(), (None if bias is None else bias.float())
    raise ModelError(
        f"colbert: {model_id_or_path!r} has no projection (no 1_Dense module and no linear.weight "
        "in model.safetensors): not a ColBERT checkpoint"
    )
