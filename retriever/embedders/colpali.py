"""ColQwen2 / ColQwen2.5 and ColPali: page images to per-patch token vectors (late interaction).

Loaded through transformers (``ColQwen2ForRetrieval`` + ``ColQwen2Processor``,
``ColPaliForRetrieval`` + ``ColPaliProcessor``), the family read from the checkpoint's
``config.json``. The multi-vector is the model's own per-token embedding (L2-normalised,
padding dropped); the dense vector is the normalised mean of the multi-vectors (these
models have no single-vector head); the pooled first-stage vector is, by default, the
mean of each row and each column of the image-patch grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

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

Family = Literal["colqwen2", "colpali"]
_CLASSES: dict[str, tuple[str, str]] = {
    "colqwen2": ("ColQwen2ForRetrieval", "ColQwen2Processor"),
    "colpali": ("ColPaliForRetrieval", "ColPaliProcessor"),
}


class ColVisionEmbedder:
    """Embedder over a ColQwen2(.5) or ColPali checkpoint in transformers format.

    Args:
        model_id_or_path: hub id or local directory (e.g. ``vidore/colqwen2-v1.0-hf``).
        device: ``None``/``"auto"`` (cuda, mps, cpu), or a torch device string.
        family: ``"colqwen2"`` or ``"colpali"``; None reads ``model_type`` from the config.
        multi_dim: keep this many dimensions of the token vectors (Matryoshka-style
            truncation, re-normalised); None keeps the model's (128).
        pooling: first-stage multi-vector of a page: ``"rows_cols"`` (default), ``"tokens[:F]"``,
            ``"mean:G"`` or None.
        batch_size: starting batch size (halved on out-of-memory).
        dtype: weights dtype (default bf16 on CUDA, fp32 on CPU).
        model: an already loaded model (then ``processor`` is required too).
        processor: an already loaded processor.

    Example:
        >>> emb = ColVisionEmbedder("vidore/colqwen2-v1.0-hf")  # doctest: +SKIP
        >>> emb.embed_queries(["revenue chart"])[0].multi.shape  # doctest: +SKIP
        (23, 128)
    """

    def __init__(
        self,
        model_id_or_path: str,
        *,
        device: str | None = None,
        family: Family | None = None,
        multi_dim: int | None = None,
        pooling: str | None = "rows_cols",
        batch_size: int = 4,
        dtype: str | None = None,
        model: Any = None,
        processor: Any = None,
    ) -> None:
        if (model is None) != (processor is None):
            raise ConfigError("pass both model and processor, or neither")
        self.model_id = model_id_or_path
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self._pooling = visual.parse_pooling(pooling, grid_ok=True)
        self.batcher = AdaptiveBatcher(batch_size)
        if model is None:
            weights = local_weights(model_id_or_path, family or "colpali")
            self.family = family or self._read_family(weights)
            self.model, self.processor = self._load(weights)
        else:
            self.family = family or _family_of(str(model.config.model_type))
            self.model, self.processor = model, processor
        full = int(self.model.config.embedding_dim)
        self.multi_dim = full if multi_dim is None else multi_dim
        if not 0 < self.multi_dim <= full:
            raise ConfigError(f"{self.family}: multi_dim must be in 1..{full}, got {multi_dim}")
        self.image_token_id = int(self.processor.image_token_id)
        name = f"{self.family}:{model_id_or_path}"
        multi, pooled = visual.multi_specs(self.multi_dim, self._pooling is not None)
        self._spec = EmbedderSpec(
            VectorSpec("dense", self.multi_dim), multi, pooled, None, {"dense": name, "multi": name}
        )

    @property
    def spec(self) -> EmbedderSpec:
        """Dense (mean of token vectors), multi and pooled vectors, all ``multi_dim`` wide."""
        return self._spec

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        """Embeds each page's image: all of its tokens as the multi-vector."""
        return self.batcher.map(self._encode_pages, list(pages))

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        """Embeds queries with the model's query prompt and augmentation tokens."""
        return self.batcher.map(self._encode_queries, list(texts), sort_key=len)

    def _read_family(self, weights: str) -> Family:
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(weights)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"cannot read the config of {self.model_id!r}: {exc}. A transformers-format ColQwen2/ColPali "
                "checkpoint is needed (e.g. vidore/colqwen2-v1.0-hf, vidore/colpali-v1.3-hf); colpali-engine "
                "LoRA checkpoints must be converted first"
            ) from exc
        return _family_of(str(config.model_type))

    def _load(self, weights: str) -> tuple[Any, Any]:
        import transformers

        model_cls, proc_cls = (getattr(transformers, n) for n in _CLASSES[self.family])
        try:
            model = model_cls.from_pretrained(weights, dtype=self.dtype)
            processor = proc_cls.from_pretrained(weights)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{self.family}: cannot load {self.model_id!r}: {exc}") from exc
        return model.to(self.device).eval(), processor

    def _run(self, inputs: Any) -> tuple[Any, Any]:
        torch = import_torch()
        batch = {}
        for key, value in inputs.items():
            if key == "labels":
                continue
            is_float = torch.is_floating_point(value)
            batch[key] = value.to(self.device, dtype=self.dtype) if is_float else value.to(self.device)
        with torch.inference_mode():
            out = self.model(**batch)
        return out.embeddings, batch

    def _encode_pages(self, pages: list[Page]) -> list[Embedding]:
        images = visual.load_page_images(pages)
        emb, batch = self._run(self.processor.process_images(images=images))
        out = []
        for i in range(len(pages)):
            mask = batch["attention_mask"][i].bool()
            multi = self._truncate(to_numpy(emb[i][mask]))
            is_image = (batch["input_ids"][i][mask] == self.image_token_id).cpu().numpy()
            rows, cols = self._grid(batch, i, int(is_image.sum()))
            pooled = visual.pool(multi, self._pooling, (multi[is_image], rows, cols))
            out.append(Embedding(dense=visual.mean_vector(multi), multi=multi, pooled=pooled))
        return out

    def _encode_queries(self, texts: list[str]) -> list[Embedding]:
        emb, batch = self._run(self.processor.process_queries(text=texts))
        out = []
        for i in range(len(texts)):
            multi = self._truncate(to_numpy(emb[i][batch["attention_mask"][i].bool()]))
            out.append(Embedding(dense=visual.mean_vector(multi), multi=multi))
        return out

    def _grid(self, batch: dict[str, Any], i: int, n_patches: int) -> tuple[int, int]:
        """Rows and columns of the image-token grid of batch item ``i``."""
        if self.family == "colqwen2":
            t, h, w = (int(x) for x in batch["image_grid_thw"][i])
            merge = int(getattr(self.processor.image_processor, "merge_size", 2))
            return t * (h // merge), w // merge
        side = math.isqrt(n_patches)
        if side * side != n_patches:
            raise ModelError(f"colpali: {n_patches} image tokens are not a square grid")
        return side, side

    def _truncate(self, multi: FloatArray) -> FloatArray:
        return maxsim.truncate(multi, self.multi_dim)  # re-normalises too (bf16 rows drift off 1)


def _family_of(model_type: str) -> Family:
    if model_type in ("colqwen2", "colqwen2_5"):
        return "colqwen2"
    if model_type == "colpali":
        return "colpali"
    raise ModelError(f"model_type {model_type!r} is not a ColQwen2/ColPali checkpoint")
