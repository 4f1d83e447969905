"""Query building: an embedded query and a mode become one Qdrant query plan.

``hybrid`` (the default) is one request::

    prefetch dense (top N) ─┐
    prefetch sparse (top N) ├─ RRF ─ rerank by full MaxSim on `multi` ─ top k
    prefetch pooled (top N) ┘

followed, when the recipe has ``final`` weights (the default), by one more fusion (DBSF
or weighted RRF) of the MaxSim ranking with the sparse and dense prefetches: ``final`` within
one document, ``final_across`` for a search that spans documents. When the multi-vector model
reads English only and the query's language is known, MaxSim is kept to English pages and the
dense list takes its place on the others (:func:`_across_languages`). The recipe
(:class:`pagerag.retriever.recipe.HybridRecipe`) sets the sizes and weights.

``fusion`` stops after RRF, ``multi`` reranks the pooled top N by full MaxSim, and
``dense`` / ``sparse`` query one vector. Filters become payload conditions; a source
glob is resolved against the list of indexed sources (Qdrant has no glob match).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import ConfigError
from pagerag.retriever.language import ENGLISH, english_only, reads_text_only, same_language
from pagerag.retriever.recipe import DEFAULT_RECIPE, HybridRecipe
from pagerag.retriever.store.base import (
    HAS_TEXT,
    INT_PAYLOAD,
    AnyOf,
    Between,
    Cond,
    Dbsf,
    Eq,
    Nearest,
    Rrf,
    Scored,
    Sparse,
    Stage,
    Where,
)
from pagerag.retriever.types import MODES, EmbedderSpec, Embedding, Hit, Mode, SearchFilter


def build_stage(
    query: Embedding,
    spec: EmbedderSpec,
    *,
    mode: Mode = "hybrid",
    k: int = 10,
    recipe: HybridRecipe = DEFAULT_RECIPE,
    lang: str | None = None,
    one_document: bool = False,
) -> Stage | None:
    """The query plan for one embedded query; None when the query cannot match anything.

    ``lang`` is the query's language (:func:`pagerag.retriever.language.query_language`),
    None when unknown; with the recipe's ``languages`` it decides which signals rank which pages.
    The lists of a model that reads text (not page images) hold only the pages with text
    (:data:`~pagerag.retriever.store.base.HAS_TEXT`): a text model's vector of an empty page is no
    evidence, yet it can sit near every query.

    Raises:
        ConfigError: unknown mode, or a mode that needs a vector the models do not produce.
    """
    stage = _plan(query, spec, mode=mode, k=k, recipe=recipe, lang=lang, one_document=one_document)
    return None if stage is None else _with_text(stage, _text_vectors(spec))


def one_document_top(recipe: HybridRecipe, mode: Mode, one_document: bool) -> int | None:
    """How many best pages decide whether a search across documents keeps the within-document order
    (``recipe.one_document_top``, :func:`in_one_document`); None when the search has no such choice: a search
    kept to one document, another mode, or a recipe whose two orders are the same."""
    top = recipe.one_document_top
    if top is None or one_document or mode != "hybrid" or recipe.final_across in (None, recipe.final):
        return None
    return top


def in_one_document(found: Sequence[Scored], top: int) -> bool:
    """Whether the best ``top`` points all belong to one document."""
    return len({str(p.payload.get("doc_id", "")) for p in found[:top]}) == 1


def _text_vectors(spec: EmbedderSpec) -> frozenset[str]:
    """The named vectors that a text model (not an image model) made."""
    names = []
    if reads_text_only(spec.models.get("dense", "")):
        names.append(spec.dense.name)
    if spec.multi is not None and reads_text_only(spec.models.get("multi", "")):
        names += [spec.multi.name, *([spec.pooled.name] if spec.pooled else [])]
    return frozenset(names)


def _with_text(stage: Stage, text_vectors: frozenset[str]) -> Stage:
    """``stage`` with every text-model stage kept to the pages with text."""
    prefetch = tuple(_with_text(p, text_vectors) for p in stage.prefetch)
    where = stage.where
    if isinstance(stage.query, Nearest) and stage.query.using in text_vectors:
        where = where.both(HAS_TEXT)
    return replace(stage, prefetch=prefetch, where=where)


def _plan(
    query: Embedding,
    spec: EmbedderSpec,
    *,
    mode: Mode,
    k: int,
    recipe: HybridRecipe,
    lang: str | None,
    one_document: bool,
) -> Stage | None:
    """:func:`build_stage` before the text-model stages are kept to the pages with text."""
    if mode not in MODES:
        raise ConfigError(f"unknown search mode {mode!r}: choose one of {', '.join(MODES)}")
    if k < 1 or recipe.prefetch < 1:
        raise ConfigError(f"k and prefetch must be at least 1 (got k={k}, prefetch={recipe.prefetch})")
    n = max(recipe.prefetch, k)
    if not one_document and recipe.final_across is not None:
        recipe = replace(recipe, final=recipe.final_across)
    dense = Nearest(spec.dense.name, query.dense.astype("float32").tolist())
    sparse = None
    if spec.sparse and query.sparse is not None and query.sparse.indices:
        sparse = Nearest(spec.sparse, Sparse(list(query.sparse.indices), list(query.sparse.values)))
    multi = None
    pooled = None
    if spec.multi is not None and query.multi is not None and len(query.multi):
        tokens = query.multi.astype("float32").tolist()
        multi = Nearest(spec.multi.name, tokens)
        pooled = Nearest(spec.pooled.name if spec.pooled else spec.multi.name, tokens)

    if mode == "dense":
        return Stage(dense, k)
    if mode == "sparse":
        if not spec.sparse:
            raise ConfigError("mode 'sparse' needs a sparse model; this index has none")
        return Stage(sparse, k) if sparse else None
    if mode == "multi":
        if spec.multi is None:
            raise ConfigError("mode 'multi' needs a multi-vector model; this index has none")
        if multi is None or pooled is None:
            return None
        return Stage(multi, k, (Stage(pooled, n),)) if spec.pooled else Stage(multi, k)

    if mode == "fusion" or multi is None:
        return _hybrid(dense, sparse, pooled, None, spec, k, n, recipe)
    if recipe.languages and lang and recipe.final is not None and english_only(spec.models.get("multi", "")):
        return _across_languages(dense, sparse, pooled, multi, spec, k, n, recipe, lang)
    return _hybrid(dense, sparse, pooled, multi, spec, k, n, recipe)


def _first_stage(
    dense: Nearest,
    sparse: Nearest | None,
    pooled: Nearest | None,
    spec: EmbedderSpec,
    n: int,
    recipe: HybridRecipe,
) -> tuple[Rrf, tuple[Stage, ...]] | None:
    """The RRF of the prefetches (dense, sparse, pooled multi) and the prefetches."""
    firsts = [(dense, recipe.weights[0]), (sparse, recipe.weights[1])]
    if spec.pooled is not None:
        firsts.append((pooled, recipe.weights[2]))
    used = [(q, w) for q, w in firsts if q is not None and w > 0]
    if not used:
        return None
    weights = tuple(w for _, w in used)
    rrf = Rrf(recipe.rrf_k, None if all(w == 1.0 for w in weights) else weights)
    return rrf, tuple(Stage(q, n) for q, _ in used)


def _hybrid(
    dense: Nearest,
    sparse: Nearest | None,
    pooled: Nearest | None,
    multi: Nearest | None,
    spec: EmbedderSpec,
    k: int,
    n: int,
    recipe: HybridRecipe,
) -> Stage | None:
    """Fusion of the prefetches, then (with ``multi``) the MaxSim rerank and the final fusion."""
    first = _first_stage(dense, sparse, pooled, spec, n, recipe)
    if first is None:
        return None
    rrf, prefetch = first
    if multi is None:
        return Stage(rrf, k, prefetch)
    rerank = max(recipe.rerank_limit, k)
    if recipe.final is None:
        return Stage(multi, k, (Stage(rrf, rerank, prefetch),))
    ranked = Stage(multi, rerank, (Stage(rrf, rerank, prefetch),))
    w_multi, w_sparse, w_dense = recipe.final
    return _final([(ranked, w_multi), (_top(sparse, n), w_sparse), (Stage(dense, n), w_dense)], k, recipe)


def _across_languages(
    dense: Nearest,
    sparse: Nearest | None,
    pooled: Nearest | None,
    multi: Nearest,
    spec: EmbedderSpec,
    k: int,
    n: int,
    recipe: HybridRecipe,
    lang: str,
) -> Stage | None:
    """The hybrid plan when the multi-vector model reads English only and the query's language is known.

    MaxSim ranks the pages only where query and page are both in English (or the page's language
    is unknown); elsewhere the multilingual dense list takes its place, with its weight. BM25 stays
    on every page: names, numbers and technical terms match across languages.
    """
    assert recipe.final is not None
    w_multi, w_sparse, w_dense = recipe.final
    top_sparse, top_dense = _top(sparse, n), Stage(dense, n)
    if lang != ENGLISH:
        return _final([(top_sparse, w_sparse), (top_dense, w_dense + w_multi)], k, recipe)
    english = Where((AnyOf("lang", same_language(ENGLISH)),))
    others = Where(must_not=english.must)
    first = _first_stage(dense, sparse, pooled, spec, n, recipe)
    if first is None:
        return None
    rrf, prefetch = first
    rerank = max(recipe.rerank_limit, k)
    ranked = Stage(multi, rerank, (Stage(rrf, rerank, prefetch),), english)
    lists = [
        (ranked, w_multi),
        (top_sparse, w_sparse),
        (top_dense, w_dense),
        (Stage(dense, n, where=others), w_multi),
    ]
    return _final(lists, k, recipe)


def _top(query: Nearest | None, n: int) -> Stage | None:
    return None if query is None else Stage(query, n)


def _final(lists: list[tuple[Stage | None, float]], k: int, recipe: HybridRecipe) -> Stage:
    """The final fusion of weighted ranked lists (those of weight 0 or without a query left out)."""
    used = [(st, w) for st, w in lists if st is not None and w > 0]
    if recipe.final_fusion == "dbsf":
        # DBSF has no weights in Qdrant: a list of weight n takes part n times.
        return Stage(Dbsf(), k, tuple(st for st, w in used for _ in range(round(w))))
    weights = tuple(w for _, w in used)
    return Stage(
        Rrf(recipe.rrf_k, None if all(w == 1.0 for w in weights) else weights), k, tuple(st for st, _ in used)
    )


def one_document(flt: SearchFilter | None) -> bool:
    """Whether ``flt`` keeps a search inside one document (one source or one document id, no glob)."""
    if flt is None or flt.source_glob:
        return False
    return len(set(flt.sources)) == 1 or len(set(flt.doc_ids)) == 1


def parse_value(key: str, value: str) -> str | int:
    """A ``--filter key=value`` value, as an int for integer payload fields."""
    if key in INT_PAYLOAD:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"filter {key}={value!r}: {key} is a number") from None
    return value


def to_where(flt: SearchFilter | None, sources: Callable[[], list[str]]) -> Where:
    """Payload conditions for ``flt``; ``sources`` lists indexed sources (to resolve a glob)."""
    if flt is None:
        return Where()
    conds: list[Cond] = []
    if flt.sources:
        conds.append(AnyOf("source", tuple(flt.sources)))
    if flt.source_glob:
        conds.append(AnyOf("source", tuple(fnmatch.filter(sources(), flt.source_glob))))
    if flt.doc_ids:
        conds.append(AnyOf("doc_id", tuple(flt.doc_ids)))
    if flt.page_min is not None or flt.page_max is not None:
        conds.append(Between("page", flt.page_min, flt.page_max))
    conds += [Eq(key, parse_value(key, value)) for key, value in flt.fields]
    return Where(tuple(conds))


FILTER_FIELDS = ("source", "doc", "doc_id", "page", "labels", "lang", "ocr", "title", "page_count")
"""What a search can be restricted by (``--filter key=value``, the API's ``filters``)."""


def parse_filters(items: list[str]) -> SearchFilter:
    """``key=value`` strings (the CLI's ``--filter``) to a :class:`SearchFilter`.

    ``source=`` with ``*?[`` is a glob, otherwise an exact path; ``doc=``/``doc_id=`` a
    document hash; ``page=N`` or ``page=N-M`` a page range; the other :data:`FILTER_FIELDS`
    (``labels``, ``lang``, ``ocr``, ``title``, ``page_count``) a payload field.

    Raises:
        ConfigError: a malformed item, an unknown field or an empty page range.

    Example:
        >>> parse_filters(["source=reports/*.pdf", "page=2-5"]).page_max
        5
    """
    sources: list[str] = []
    glob: str | None = None
    docs: list[str] = []
    pmin: int | None = None
    pmax: int | None = None
    fields: list[tuple[str, str]] = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"filter {item!r}: expected key=value")
        if key not in FILTER_FIELDS:
            raise ConfigError(f"unknown filter field {key!r}: use {', '.join(FILTER_FIELDS)}")
        if key == "source":
            if any(ch in value for ch in "*?["):
                if glob is not None:
                    raise ConfigError("only one source glob per search")
                glob = value
            else:
                sources.append(value)
        elif key in ("doc", "doc_id"):
            docs.append(value)
        elif key == "page":
            lo, dash, hi = value.partition("-")
            try:
                pmin = int(lo) if lo.strip() else None
                pmax = (int(hi) if hi.strip() else None) if dash else pmin
            except ValueError:
                raise ConfigError(f"filter {item!r}: page=N or page=N-M") from None
            if pmin is not None and pmax is not None and pmin > pmax:
                raise ConfigError(f"filter {item!r}: the range is empty ({pmin} > {pmax})")
        else:
            fields.append((key, value))
    return SearchFilter(tuple(sources), glob, tuple(docs), pmin, pmax, tuple(fields))


def to_hit(point: Scored, images: Path | None = None) -> Hit:
    """A scored point as a :class:`Hit`; its image is found under ``images`` (the index's image folder)."""
    p = point.payload
    return Hit(
        source=str(p.get("source", "")),
        page=int(p.get("page", 0)),
        score=point.score,
        text=str(p.get("text", "")),
        image_path=_image(p, images),
        doc_id=str(p.get("doc_id", "")),
        title=str(p.get("title", "")),
        labels=tuple(int(x) for x in p.get("labels") or ()),
    )


def _image(payload: dict[str, Any], images: Path | None) -> Path | None:
    """The page image: its name under ``images``; an index written before names were stored kept a path."""
    name = str(payload.get("image") or "")
    if name:
        return images / name[:2] / name if images is not None else Path(name)
    old = str(payload.get("image_path") or "")
    if not old:
        return None
    path = Path(old)
    if images is not None and not path.exists():  # the index moved since: find the image in its new place
        return images / path.parent.name / path.name
    return path
