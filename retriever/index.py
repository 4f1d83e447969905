"""`PageIndex`: an embedder and a store behind one object; ingestion's sink and the search API.

An index directory holds ``index.json`` (the models and vector spec it was built with),
the embedded Qdrant engine under ``qdrant/`` (unless a server is used) and, written by
ingestion, the page table ``catalog.sqlite`` and page images.

Concurrency: in one process, any number of ``PageIndex`` handles share one open engine
per index (reference-counted: the last ``close()`` releases it) and one copy of each set of
models; threads may search at once. The embedded engine has one process at a time (a second
one gets :class:`~pagerag.ingest.errors.IndexLocked` naming the holder's pid): share it
between processes with ``pagerag serve``, or put the vectors in a Qdrant server
(``url=``/``--qdrant-url``).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import CollectionMismatch, ConfigError, IndexClosed
from pagerag.ingest.types import DocumentInfo, Page
from pagerag.retriever.embedders.base import Embedder
from pagerag.retriever.language import query_language
from pagerag.retriever.pagerefs import page_refs
from pagerag.retriever.recipe import DEFAULT_RECIPE, HybridRecipe
from pagerag.retriever.search import (
    build_stage,
    in_one_document,
    one_document,
    one_document_top,
    to_hit,
    to_where,
)
from pagerag.retriever.store import Store
from pagerag.retriever.store.base import AnyOf, Eq, Plan, Scored
from pagerag.retriever.store.facade import REINDEX_HINT
from pagerag.retriever.types import EmbedderSpec, Embedding, Hit, Mode, SearchFilter, VectorSpec

META_NAME = "index.json"
META_VERSION = 1
SCORE_DEPTH = 100
"""How deep a query's own ranking is read for the score of a page it names ("slide 3")."""
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


_EMBEDDERS: dict[tuple[tuple[tuple[str, str], ...], str | None], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def _default_embedder(models: Mapping[str, str] | None, device: str | None) -> Embedder:
    """The embedder for ``models``, built once per process and shared by every index that uses them."""
    from pagerag.retriever.embedders.registry import DEFAULT_MODELS, build_embedder

    key = (tuple(sorted((models or DEFAULT_MODELS).items())), device)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = build_embedder(models, device=device)
        return _EMBEDDERS[key]


def _every_role(built_with: Mapping[str, str]) -> dict[str, str]:
    """An index's models with ``"none"`` for the roles it was built without (index.json leaves them out)."""
    from pagerag.retriever.embedders.registry import NONE, ROLES

    return {role: built_with.get(role, NONE) for role in ROLES}


class _Shared:
    """One open store, shared by every handle of its index in this process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.refs = 0


_STORES: dict[tuple[str, ...], _Shared] = {}
_STORES_LOCK = threading.RLock()


def _store_key(index_dir: Path, url: str | None, collection: str, client: Any) -> tuple[str, ...]:
    if client is not None:
        return ("client", str(id(client)), collection)
    if url is not None:
        return ("qdrant", url, collection)
    return ("edge", str(index_dir.resolve()))


def _acquire_store(key: tuple[str, ...], opener: Callable[[], Store]) -> tuple[Store, bool]:
    """The shared store for ``key`` (opened on first use) and whether this call opened it."""
    with _STORES_LOCK:
        shared = _STORES.get(key)
        first = shared is None
        if shared is None:
            shared = _Shared(opener())
            _STORES[key] = shared
        shared.refs += 1
        return shared.store, first


def _release_store(key: tuple[str, ...], store: Store) -> None:
    with _STORES_LOCK:
        shared = _STORES.get(key)
        if shared is None or shared.store is not store:
            store.close()
            return
        shared.refs -= 1
        if shared.refs <= 0:
            del _STORES[key]
            store.close()


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
        self,
        index_dir: Path,
        store: Store,
        embedder: Embedder,
        recipe: HybridRecipe = DEFAULT_RECIPE,
        *,
        shared_key: tuple[str, ...] = (),
    ) -> None:
        self.index_dir = index_dir
        self.images = index_dir.absolute() / "images"  # page images (written by ingestion) live here
        self._store: Store | None = store
        self.embedder = embedder
        self.spec = embedder.spec
        self.recipe = recipe
        self._dirty = False
        self._shared_key = shared_key

    @property
    def store(self) -> Store:
        """The open store.

        Raises:
            IndexClosed: this handle was closed.
        """
        if self._store is None:
            raise IndexClosed(f"{self.index_dir}: this index handle is closed; open the index again")
        return self._store

    def ensure_open(self) -> None:
        """Raise :class:`IndexClosed` when this handle was closed."""
        self.store  # noqa: B018 - the property raises

    @property
    def closed(self) -> bool:
        return self._store is None

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
        meta = read_meta(index_dir)
        if meta is None and embedder is None:  # a new index: models load (or fail) before anything is written
            embedder = _default_embedder(models or None, device)
        index_dir.mkdir(parents=True, exist_ok=True)
        built_with: dict[str, str] = dict(meta.get("models", {})) if meta else {}
        every_role = _every_role(built_with)
        if meta and models:
            differ = {r: n for r, n in models.items() if every_role.get(r) != n}
            if differ:
                raise CollectionMismatch(
                    f"{index_dir} was built with models {built_with}, not {dict(models)}: {REINDEX_HINT}"
                )
        if meta and meta.get("backend") == "qdrant" and url is None and client is None:
            raise ConfigError(
                f"{index_dir} keeps its vectors in a Qdrant server (collection {meta.get('collection')!r}): "
                "give its URL (--qdrant-url or QDRANT_URL)"
            )
        key = _store_key(index_dir, url, collection, client)

        def opener() -> Store:
            if client is not None:
                return Store(client=client, collection=collection)
            if url is not None:
                return Store(url=url, api_key=api_key, collection=collection)
            return Store(index_dir / "qdrant")  # takes the single-writer lock first: fails fast

        store, first = _acquire_store(key, opener)
        try:
            # An existing index loads the models it was built with (the named ones agree with them).
            chosen = {**every_role, **(models or {})} if built_with else (models or None)
            if embedder is None and meta and isinstance(meta.get("spec"), dict):
                embedder = _LazyEmbedder(
                    lambda: _default_embedder(chosen, device), _spec_from_json(meta["spec"]), index_dir
                )
            elif embedder is None:
                embedder = _default_embedder(chosen, device)
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
            if store.embedded and first:
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
            _release_store(key, store)
            raise
        return cls(index_dir, store, embedder, recipe or DEFAULT_RECIPE, shared_key=key)

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

    def flush(self) -> None:
        """Build the vector indexes for what this handle wrote (the embedded engine does not by itself)."""
        if self._dirty:
            self.store.optimize()
            self._dirty = False

    def close(self) -> None:
        """Flush, then release this handle (the engine closes with the last handle). Idempotent."""
        if self._store is None:
            return
        try:
            self.flush()
        finally:
            store, self._store = self._store, None
            _release_store(self._shared_key, store)

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
        embeddings: Sequence[Embedding] | None = None,
    ) -> list[list[Hit]]:
        """:meth:`search` for many queries: one embedding batch and one store batch.

        ``filters`` gives each query its own filter (it overrides ``filter``); ``embeddings``
        are the queries' embeddings when the caller has them already.
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

        if embeddings is None:
            embeddings = self.embedder.embed_queries(list(queries))
        plans: list[Plan | None] = []
        within: list[Plan | None] = []  # a search across documents: its within-document plan
        for text, emb, flt in zip(queries, embeddings, per_query, strict=True):
            lang = query_language(text) if recipe.languages else None
            one = one_document(flt)
            stage = build_stage(emb, self.spec, mode=mode, k=k, recipe=recipe, lang=lang, one_document=one)
            depth = one_document_top(recipe, mode, one)
            alt = None
            if depth is not None:  # the within-document plan, deep enough to judge its best pages
                alt = build_stage(
                    emb, self.spec, mode=mode, k=max(k, depth), recipe=recipe, lang=lang, one_document=True
                )
            where = to_where(flt, sources)
            plans.append(None if stage is None else Plan(stage, where))
            within.append(None if alt is None or stage is None else Plan(alt, where))
        # The within-document order first; a search whose best pages span documents is then run across them.
        first = [inside or plan for plan, inside in zip(plans, within, strict=True)]
        results = iter(self.store.query([p for p in first if p is not None]))
        raw = [next(results) if p is not None else [] for p in first]
        top = recipe.one_document_top or 0
        spread: list[tuple[int, Plan]] = []
        for i, (plan, inside) in enumerate(zip(plans, within, strict=True)):
            if inside is None or plan is None:
                continue
            if in_one_document(raw[i], top):
                plans[i], raw[i] = inside, raw[i][:k]
            else:
                spread.append((i, plan))
        for (i, _), found in zip(spread, self.store.query([p for _, p in spread]), strict=True):
            raw[i] = found
        hits = [[to_hit(s, self.images) for s in r] for r in raw]
        if mode == "hybrid" and recipe.page_refs:
            self._named_pages_first(queries, plans, raw, hits, k)
        return hits

    def search_scored(
        self, query: str, *, k: int = 10, mode: Mode = "hybrid", filter: SearchFilter | None = None
    ) -> tuple[list[Hit], float]:
        """:meth:`search`, and the best page's score by multi-vector MaxSim alone, from one query embedding.

        The MaxSim score says how well the best page matches (the answer step's relevance);
        fused rankings say nothing about that. Without a multi-vector model it is the first hit's score.
        """
        embeddings = self.embedder.embed_queries([query])
        hits = self.search_many([query], k=k, mode=mode, filter=filter, embeddings=embeddings)[0]
        if self.spec.multi is None or mode == "multi":
            return hits, hits[0].score if hits else 0.0
        best = self.search_many([query], k=1, mode="multi", filter=filter, embeddings=embeddings)[0]
        return hits, best[0].score if best else 0.0

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
        group in the order of the same query restricted to them. A named page keeps the score
        it has in the query's own ranking (the restricted query's fused scores are on another
        scale), looked up :data:`SCORE_DEPTH` deep; one ranked below that scores 0.
        """
        extra: list[Plan] = []
        owner: list[tuple[int, bool]] = []  # (query, True: its own ranking read deeper for the scores)
        for i, (query, plan, found) in enumerate(zip(queries, plans, raw, strict=True)):
            refs = page_refs(query)
            if not refs or plan is None or not found:
                continue
            top = found[0].payload
            in_doc = plan.where.and_(Eq("doc_id", str(top.get("doc_id", ""))))
            named = [AnyOf("labels", refs.numbers)] if refs.numbers else []
            positions = refs.positions(int(top.get("page_count", 0)))
            named += [AnyOf("page", positions)] if positions else []
            if named:
                extra += [Plan(plan.stage, in_doc.and_(cond)) for cond in named]
                extra.append(Plan(replace(plan.stage, limit=max(k, SCORE_DEPTH)), plan.where))
                owner += [(i, False)] * len(named) + [(i, True)]
        if not extra:
            return
        first: dict[int, list[Hit]] = {}
        scores: dict[int, dict[tuple[str, int], float]] = {}
        for (i, ranking), found in zip(owner, self.store.query(extra), strict=True):
            found_hits = [to_hit(s, self.images) for s in found]
            if ranking:
                scores[i] = {(h.doc_id, h.page): h.score for h in found_hits}
            else:
                first.setdefault(i, []).extend(found_hits)
        for i, named_hits in first.items():
            seen: set[tuple[str, int]] = set()
            ordered: list[Hit] = []
            for hit in [*named_hits, *hits[i]]:
                key = (hit.doc_id, hit.page)
                if key not in seen:
                    seen.add(key)
                    ordered.append(replace(hit, score=scores[i].get(key, 0.0)))
            hits[i] = ordered[:k]

    def documents(self) -> list[DocumentInfo]:
        """The searchable documents, by source path."""
        return self.store.documents()

    def __repr__(self) -> str:
        return f"PageIndex({str(self.index_dir)!r}, models={dict(self.spec.models)})"
