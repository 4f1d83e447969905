"""`PageIndex`: an embedder and a store behind one object; ingestion's sink and the search API.

An index directory holds ``index.json`` (the models and vector spec it was built with),
the embedded Qdrant engine under ``qdrant/`` (unless a server is used) and, written by
ingestion, the page table ``catalog.sqlite`` and page images.

Concurrency: the embedded engine has one process at a time (a second one gets
:class:`~pagerag.ingest.errors.IndexLocked` naming the holder's pid). To search while
another process ingests, put the vectors in a Qdrant server (``url=``/``--qdrant-url``):
any number of processes can then open the same index.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import CollectionMismatch, ConfigError
from pagerag.ingest.types import DocumentInfo, Page
from pagerag.retriever.embedders.base import Embedder
from pagerag.retriever.pagerefs import page_refs
from pagerag.retriever.recipe import DEFAULT_RECIPE, HybridRecipe
from pagerag.retriever.search import build_stage, to_hit, to_where
from pagerag.retriever.store import Store
from pagerag.retriever.store.base import AnyOf, Eq, Plan, Scored
from pagerag.retriever.store.facade import REINDEX_HINT
from pagerag.retriever.types import EmbedderSpec, Embedding, Hit, Mode, SearchFilter, VectorSpec

META_NAME = "index.json"
META_VERSION = 1
_CHANGED = "this version of pagerag gives those models other vectors (dimensions, pooling or storage changed)"


def _spec_json(spec: EmbedderSpec) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(asdict(spec)))
    return data


def read_meta(index_dir: Path) -> dict[str, Any] | None:
    """The contents of ``index_dir/index.json``, or None for a new index."""
    path = Path(index_dir) / META_NAME
    if not path.exists():
        return None
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable index metadata ({exc})") from exc
    return meta


def _write_meta(index_dir: Path, meta: Mapping[str, Any]) -> None:
    path = index_dir / META_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _default_embedder(models: Mapping[str, str] | None, device: str | None) -> Embedder:
    from pagerag.retriever.embedders.registry import build_embedder

    embedder: Embedder = build_embedder(models, device=device)
    return embedder


def _spec_from_json(data: Mapping[str, Any]) -> EmbedderSpec:
    def vector(v: Mapping[str, Any] | None) -> VectorSpec | None:
        return VectorSpec(**v) if v else None

    dense = vector(data["dense"])
    assert dense is not None
    return EmbedderSpec(
        dense=dense,
        multi=vector(data.get("multi")),
        pooled=vector(data.get("pooled")),
        sparse=data.get("sparse"),
        models=dict(data.get("models", {})),
    )


class _LazyEmbedder:
    """An existing index's models, loaded on the first embedding; until then the spec comes from index.json.

    Opening an index to list, remove or repair documents then costs no model loading.
    """

    def __init__(self, load: Callable[[], Embedder], spec: EmbedderSpec, index_dir: Path) -> None:
        self._load = load
        self._spec = spec
        self._index_dir = index_dir
        self._embedder: Embedder | None = None

    @property
    def spec(self) -> EmbedderSpec:
        return self._spec

    def _get(self) -> Embedder:
        if self._embedder is None:
            embedder = self._load()
            if _spec_json(embedder.spec) != _spec_json(self._spec):
                built = dict(self._spec.models)
                raise CollectionMismatch(
                    f"{self._index_dir} was built with models {built}; {_CHANGED}: {REINDEX_HINT}"
                )
            self._embedder = embedder
        return self._embedder

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        return self._get().embed_pages(pages)

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        return self._get().embed_queries(texts)


class PageIndex:
    """Pages in, ranked pages out. Implements :class:`~pagerag.ingest.sink.PageSink`.

    Example:
        >>> with PageIndex.open(Path(".pagerag")) as index:  # doctest: +SKIP
        ...     for hit in index.search("revenue by region in 2023", k=5):
        ...         print(hit.source, hit.page, round(hit.score, 3))
    """

    def __init__(
        self, index_dir: Path, store: Store, embedder: Embedder, recipe: HybridRecipe = DEFAULT_RECIPE
    ) -> None:
        self.index_dir = index_dir
        self.store = store
        self.embedder = embedder
        self.spec = embedder.spec
        self.recipe = recipe
        self._dirty = False

    @classmethod
    def open(
        cls,
        index_dir: Path,
        *,
        models: Mapping[str, str] | None = None,
        url: str | None = None,
        api_key: str | None = None,
        embedder: Embedder | None = None,
        client: Any = None,
        collection: str = "pagerag",
        recipe: HybridRecipe | None = None,
        device: str | None = None,
    ) -> PageIndex:
        """Open (or create) the index in ``index_dir``.

        Args:
            index_dir: the index directory (created if missing).
            models: model names by role (``{"dense": ..., "multi": ..., "sparse": ...}``); None
                uses the models the index was built with, or the defaults for a new index.
            url: a Qdrant server URL (``":memory:"``: qdrant-client's local mode); None uses the
                embedded engine in ``index_dir/qdrant``.
            api_key: the server's API key.
            embedder: an embedder to use instead of building one from ``models``.
            client: a ready ``QdrantClient`` to use instead of ``url``.
            collection: the collection name on a server.
            recipe: how hybrid search is put together (None: the default recipe).
            device: torch device for full-size models (None: picked automatically).

        Raises:
            CollectionMismatch: the index was built with other models.
            IndexLocked: another process has the embedded index open.
        """
        index_dir = Path(index_dir)
        index_dir.mkdir(parents=True, exist_ok=True)
        meta = read_meta(index_dir)
        built_with: dict[str, str] = dict(meta.get("models", {})) if meta else {}
        if meta and models:
            differ = {r: n for r, n in models.items() if built_with.get(r) != n}
            if differ:
                raise CollectionMismatch(
                    f"{index_dir} was built with models {built_with}, not {dict(models)}: {REINDEX_HINT}"
                )
        if meta and meta.get("backend") == "qdrant" and url is None and client is None:
            raise ConfigError(
                f"{index_dir} keeps its vectors in a Qdrant server (collection {meta.get('collection')!r}): "
                "give its URL (--qdrant-url or QDRANT_URL)"
            )
        if client is not None:
            store = Store(client=client, collection=collection)
        elif url is not None:
            store = Store(url=url, api_key=api_key, collection=collection)
        else:
            store = Store(index_dir / "qdrant")  # takes the single-writer lock first: fails fast
        try:
            if embedder is None and meta and isinstance(meta.get("spec"), dict):
                chosen = models if models else (built_with or None)
                embedder = _LazyEmbedder(
                    lambda: _default_embedder(chosen, device), _spec_from_json(meta["spec"]), index_dir
                )
            elif embedder is None:
                embedder = _default_embedder(models if models else (built_with or None), device)
            spec = embedder.spec
            if meta and meta.get("spec") != _spec_json(spec):
                same_names = built_with == dict(spec.models)
                raise CollectionMismatch(
                    f"{index_dir} was built with models {built_with}; "
                    + (
                        _CHANGED
                        if same_names
                        else f"the embedder given is {dict(spec.models)} with other vectors"
                    )
                    + f": {REINDEX_HINT}"
                )
            store.ensure(spec)
            if store.embedded:
                store.discard_pending()  # pages a crashed writer never published
            if meta is None:
                _write_meta(
                    index_dir,
                    {
                        "version": META_VERSION,
                        "models": dict(spec.models),
                        "spec": _spec_json(spec),
                        "backend": "edge" if store.embedded else "qdrant",
                        "collection": None if store.embedded else collection,
                    },
                )
        except BaseException:
            store.close()
            raise
        return cls(index_dir, store, embedder, recipe or DEFAULT_RECIPE)

    # ------------------------------------------------------------ PageSink

    def write(self, doc: DocumentInfo, pages: Sequence[Page]) -> None:
        """Embed and store pages; a new document stays invisible until :meth:`publish`."""
        if not pages:
            return
        stray = {p.doc_id for p in pages} - {doc.doc_id}
        if stray:
            raise ConfigError(f"{doc.source}: pages of other documents passed to write(): {sorted(stray)}")
        self.store.write(self.spec, pages, self.embedder.embed_pages(pages))
        self._dirty = True

    def publish(self, doc_id: str, replaces: Sequence[str] = ()) -> None:
        self.store.publish(doc_id, replaces)
        self._dirty = True

    def remove(self, doc_ids: Sequence[str]) -> None:
        self.store.remove(doc_ids)
        self._dirty = True

    def rename(self, doc_id: str, source: str) -> None:
        self.store.rename(doc_id, source)

    def published_doc_ids(self) -> set[str]:
        return self.store.published_doc_ids()

    def close(self) -> None:
        """Build vector indexes for what was written (embedded engine), flush and release."""
        try:
            if self._dirty:
                self.store.optimize()
                self._dirty = False
        finally:
            self.store.close()

    def __enter__(self) -> PageIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ search

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        mode: Mode = "hybrid",
        prefetch: int | None = None,
        filter: SearchFilter | None = None,
    ) -> list[Hit]:
        """The top ``k`` pages for ``query``.

        Args:
            query: the question or keywords.
            k: pages to return.
            mode: ``hybrid`` (fusion then MaxSim rerank), ``fusion``, ``dense``, ``sparse`` or ``multi``.
            prefetch: candidates per first stage (None: the recipe's).
            filter: restrict to sources, a source glob, documents, a page range or payload fields.
        """
        return self.search_many([query], k=k, mode=mode, prefetch=prefetch, filter=filter)[0]

    def search_many(
        self,
        queries: Sequence[str],
        *,
        k: int = 10,
        mode: Mode = "hybrid",
        prefetch: int | None = None,
        filter: SearchFilter | None = None,
        filters: Sequence[SearchFilter | None] | None = None,
    ) -> list[list[Hit]]:
        """:meth:`search` for many queries: one embedding batch and one store batch.

        ``filters`` gives each query its own filter (it overrides ``filter``).
        """
        if filters is not None and len(filters) != len(queries):
            raise ConfigError(f"{len(queries)} queries but {len(filters)} filters")
        if not queries:
            return []
        recipe = self.recipe if prefetch is None else replace(self.recipe, prefetch=prefetch)
        per_query = list(filters) if filters is not None else [filter] * len(queries)
        sources_cache: list[str] | None = None

        def sources() -> list[str]:
            nonlocal sources_cache
            if sources_cache is None:
                sources_cache = self.store.sources()
            return sources_cache

        embeddings = self.embedder.embed_queries(list(queries))
        plans: list[Plan | None] = []
        for emb, flt in zip(embeddings, per_query, strict=True):
            stage = build_stage(emb, self.spec, mode=mode, k=k, recipe=recipe)
            plans.append(None if stage is None else Plan(stage, to_where(flt, sources)))
        todo = [p for p in plans if p is not None]
        results = iter(self.store.query(todo))
        raw = [next(results) if p is not None else [] for p in plans]
        hits = [[to_hit(s) for s in r] for r in raw]
        if mode == "hybrid" and recipe.page_refs:
            self._named_pages_first(queries, plans, raw, hits, k)
        return hits

    def _named_pages_first(
        self,
        queries: Sequence[str],
        plans: Sequence[Plan | None],
        raw: Sequence[Sequence[Scored]],
        hits: list[list[Hit]],
        k: int,
    ) -> None:
        """Put the pages each query names ("page 17", "the cover") first, in place.

        The named pages are looked for in the document of the best hit (the one the question
        is about): first those printed with the number, then those at that position, each
        group in the order of the same query restricted to them.
        """
        extra: list[Plan] = []
        owner: list[int] = []
        for i, (query, plan, found) in enumerate(zip(queries, plans, raw, strict=True)):
            refs = page_refs(query)
            if not refs or plan is None or not found:
                continue
            top = found[0].payload
            in_doc = plan.where.and_(Eq("doc_id", str(top.get("doc_id", ""))))
            if refs.numbers:
                extra.append(Plan(plan.stage, in_doc.and_(AnyOf("labels", refs.numbers))))
                owner.append(i)
            positions = refs.positions(int(top.get("page_count", 0)))
            if positions:
                extra.append(Plan(plan.stage, in_doc.and_(AnyOf("page", positions))))
                owner.append(i)
        if not extra:
            return
        named: dict[int, list[Hit]] = {}
        for i, found_named in zip(owner, self.store.query(extra), strict=True):
            named.setdefault(i, []).extend(to_hit(s) for s in found_named)
        for i, first in named.items():
            seen: set[tuple[str, int]] = set()
            ordered: list[Hit] = []
            for hit in [*first, *hits[i]]:
                if (hit.doc_id, hit.page) not in seen:
                    seen.add((hit.doc_id, hit.page))
                    ordered.append(hit)
            hits[i] = ordered[:k]

    def documents(self) -> list[DocumentInfo]:
        """The searchable documents, by source path."""
        return self.store.documents()

    def __repr__(self) -> str:
        return f"PageIndex({str(self.index_dir)!r}, models={dict(self.spec.models)})"
