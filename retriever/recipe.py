"""The hybrid search recipe: which prefetches, how they are fused, how the final order is made.

Chosen by measurement (``benchmarks/quality.py``, table in ``docs/bench/quality.md``)
and carried out by the store as one Qdrant query::

    prefetch dense  (top prefetch) ─┐
    prefetch sparse (top prefetch) ├─ RRF(rrf_k, weights) ─ top rerank ─ MaxSim on multi ─┐
    prefetch pooled (top prefetch) ┘                                                       │
    final (when set): fusion of [MaxSim-ranked, sparse prefetch, dense prefetch] ───────────┘

A search over several documents (not filtered to one) uses ``final_across`` instead of
``final`` (in the default recipe the dense list joins the final fusion there), unless its best
pages in the ``final`` order all come from one document (``one_document_top``). The final
fusion is DBSF by default (``Fusion.Dbsf``: each list's scores scaled by its own mean +- 3
std, then summed), because score fusion keeps how much better the top pages are, which rank
fusion throws away: on devset-long it gains about 0.025 nDCG@5 over RRF, and pure MaxSim
order is worse than BM25 alone (docs/bench/quality.md).
With ``languages`` (the default), the English-only MaxSim is kept to English queries on English
pages, and the multilingual dense vector takes its place elsewhere (per-prefetch ``lang`` filters)::

    English query:  final fusion of [MaxSim-ranked English pages, sparse, dense of the other pages]
    other language: final fusion of [sparse prefetch, dense prefetch]

Every step is a native Qdrant query (``Prefetch``, ``Fusion.Rrf`` with weights,
``Fusion.Dbsf``, multi-vector ``Nearest`` with MaxSim, payload filters per prefetch), in
qdrant-edge 0.9 and the server. DBSF has no weights in Qdrant: a list of weight n takes part n times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pagerag.ingest.errors import ConfigError


@dataclass(frozen=True, slots=True)
class HybridRecipe:
    """How the hybrid query is put together.

    Attributes:
        prefetch: candidates each first stage (dense, sparse, pooled multi) fetches.
        rerank: candidates kept after the first fusion for the MaxSim rerank (None: ``prefetch``).
        rrf_k: the RRF rank constant of both fusions.
        weights: RRF weights of the dense, sparse and pooled first stages.
        final: weights (maxsim, sparse, dense) of a last fusion of the MaxSim-ranked
            candidates with the sparse and dense prefetches; None: the order is pure MaxSim.
            DBSF has no weights in Qdrant: there a weight is how many times a list takes part (whole numbers).
        final_fusion: ``"dbsf"`` (score fusion) or ``"rrf"`` (rank fusion with ``rrf_k`` and weights).
        final_across: the ``final`` weights of a search that is not kept to one document (a corpus
            search; None: ``final``). The dense vector (one per page, the page's topic) tells the
            documents apart but not the pages of one long document: it joins the final fusion
            only when the search spans documents (+.02 to +.11 nDCG@5 in corpus scope on devset-long
            and devset-xling; -.02 in doc scope on devset-long, where it is left out).
        one_document_top: a search across documents whose best ``one_document_top`` pages, in the
            ``final`` order, all come from one document is in effect a search in that document and
            keeps that order (None: never). Pages of one document are told apart by MaxSim and BM25,
            not by the dense vector (with bm25-bigrams, devset corpus scope .882 -> .900 at 5;
            devset-long and devset-xling within .001). It costs a second query when the best pages
            span documents.
        page_refs: pages the query names ("the chart on page 17", "the cover") come first, matched
            by printed number and by position within the best hit's document
            (:mod:`pagerag.retriever.pagerefs`).
        languages: when the multi-vector model reads English only (MiniLM) and the query's language
            is known (:func:`pagerag.retriever.language.query_language`), MaxSim ranks only the
            pages where query and page are both English (or the page's language is unknown); on the
            others the multilingual dense list takes its place in the final fusion, with its weight.
            A query in another language is ranked by the final fusion of BM25 and dense alone.

    Example:
        >>> HybridRecipe(prefetch=100).rerank_limit
        100
    """

    prefetch: int = 50
    rerank: int | None = None
    rrf_k: int = 60
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    final: tuple[float, float, float] | None = (1.0, 1.0, 0.0)
    final_fusion: Literal["dbsf", "rrf"] = "dbsf"
    final_across: tuple[float, float, float] | None = None
    one_document_top: int | None = None
    page_refs: bool = True
    languages: bool = True

    def __post_init__(self) -> None:
        if (
            self.prefetch < 1
            or (self.rerank is not None and self.rerank < 1)
            or self.rrf_k < 1
            or (self.one_document_top is not None and self.one_document_top < 1)
        ):
            raise ConfigError(f"recipe: prefetch, rerank, rrf_k, one_document_top must be 1 or more ({self})")
        for name, ws in (
            ("weights", self.weights),
            ("final", self.final or (1.0,)),
            ("final_across", self.final_across or (1.0,)),
        ):
            if any(w < 0 for w in ws) or not any(w > 0 for w in ws):
                raise ConfigError(f"recipe: {name} must be non-negative with one above 0 ({ws})")
        if self.final_fusion not in ("dbsf", "rrf"):
            raise ConfigError(f"recipe: final_fusion must be 'dbsf' or 'rrf', not {self.final_fusion!r}")
        for fused in (self.final, self.final_across):
            if self.final_fusion == "dbsf" and fused and any(w != round(w) for w in fused):
                raise ConfigError(
                    f"recipe: DBSF weights are whole numbers (times a list takes part): {fused}"
                )

    @property
    def rerank_limit(self) -> int:
        """Candidates the MaxSim rerank sees."""
        return self.rerank if self.rerank is not None else self.prefetch


DEFAULT_RECIPE = HybridRecipe(final_across=(1.0, 1.0, 1.0), one_document_top=5)
"""The default: MaxSim and BM25 within a document (or when the best 5 pages are all of one document),
with the dense list across documents, language-aware."""
