"""`PageRAG`: one object that owns an open index; the CLI, the API, the server and LangChain use it.

Example:
    >>> from pagerag import PageRAG
    >>> with PageRAG.open(".pagerag") as rag:  # doctest: +SKIP
    ...     rag.ingest("sample_docs")
    ...     hits = rag.search("revenue by region", k=3)
    ...     answer = rag.ask("What was the total revenue in 2023?")
    >>> answer.text, [(c.source, c.page) for c in answer.citations]  # doctest: +SKIP

Opening the same index twice in one process gives two handles over one engine and one
copy of the models (see :mod:`pagerag.retriever.index`); threads may search and ask at
once, and one ingestion at a time runs beside them. Pages of a document become
searchable together, when the document is published.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.errors import ConfigError, PageragError
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths, remove_documents
from pagerag.ingest.progress import IngestProgress
from pagerag.ingest.schedule import Processor, process
from pagerag.ingest.types import DocumentInfo, IngestReport, WordBox
from pagerag.pipelines.answer import DEFAULT_MIN_RELEVANCE, Answer, Chat
from pagerag.pipelines.llm import DEFAULT_LLM, LLM, build_llm
from pagerag.retriever.types import MAX_K, MODES, Hit, Mode, SearchFilter

if TYPE_CHECKING:
    from pagerag.pipelines.ray_ingest import RayOptions
    from pagerag.retriever.index import PageIndex
    from pagerag.retriever.langchain import PageRetriever


@dataclass(frozen=True, slots=True)
class PageView:
    """One indexed page, as a reader sees it.

    Attributes:
        doc_id: the document's content hash.
        source: document path relative to the ingested root.
        page: 1-based page number.
        page_count: pages in the document.
        title: the document's title ("" when unknown).
        text: the page text (native text layer, OCR and slide notes).
        ocr_used: whether OCR produced part of the text.
        lang: language code ("" when unknown).
        labels: page numbers printed on the page.
        image_path: the rendered page image, or None.
        thumbnail_path: its thumbnail, or None.
        width: page width in points.
        height: page height in points.
    """

    doc_id: str
    source: str
    page: int
    page_count: int
    title: str
    text: str
    ocr_used: bool
    lang: str
    labels: tuple[int, ...]
    image_path: Path | None
    thumbnail_path: Path | None
    width: float
    height: float


class AnswerStream:
    """The pieces of an answer as the model writes them; :attr:`answer` once they are all read.

    Example:
        >>> stream = rag.ask("What was revenue in 2023?", stream=True)  # doctest: +SKIP
        >>> for piece in stream:  # doctest: +SKIP
        ...     print(piece, end="")
        >>> stream.answer.citations  # doctest: +SKIP
    """

    _DONE = object()

    def __init__(self, run: Callable[[Callable[[str], None]], Answer]) -> None:
        self._queue: queue.Queue[object] = queue.Queue()
        self._answer: Answer | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, args=(run,), daemon=True, name="pagerag-answer")
        self._thread.start()

    def _work(self, run: Callable[[Callable[[str], None]], Answer]) -> None:
        try:
            self._answer = run(self._queue.put)
        except BaseException as exc:  # handed to the reader, raised there
            self._error = exc
        finally:
            self._queue.put(self._DONE)

    def __iter__(self) -> Iterator[str]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                self._queue.put(self._DONE)  # a second iteration ends at once
                if self._error is not None:
                    raise self._error
                return
            assert isinstance(item, str)
            yield item

    @property
    def answer(self) -> Answer:
        """The whole answer with its citations (waits for the model to finish)."""
        for _ in self:
            pass
        assert self._answer is not None
        return self._answer


class PageRAG:
    """An open index: ingest, search, read pages, ask, and LangChain retrievers over it.

    Open with :meth:`open`; close with :meth:`close` or a ``with`` block. Every method
    raises :class:`~pagerag.ingest.errors.PageragError` subclasses for bad input or a
    broken index, with a one-line message.
    """

    def __init__(self, index: PageIndex, *, llm: str | LLM = DEFAULT_LLM) -> None:
        self._index = index
        self.index_dir = index.index_dir
        self._default_llm = llm
        self._llms: dict[str, LLM] = {}
        self._llm_lock = threading.Lock()
        self._ingest_lock = _ingest_lock(index.index_dir)

    @classmethod
    def open(
        cls,
        index: str | Path = ".pagerag",
        *,
        qdrant_url: str | None = None,
        api_key: str | None = None,
        models: Mapping[str, str] | None = None,
        device: str | None = None,
        llm: str | LLM = DEFAULT_LLM,
    ) -> PageRAG:
        """Open (or create) the index in the directory ``index``.

        Args:
            index: the index directory.
            qdrant_url: a Qdrant server for the vectors instead of the embedded engine.
            api_key: the Qdrant server's key.
            models: model names by role for a new index (``{"dense": ..., "multi": ..., "sparse": ...}``);
                None: the ones the index was built with, or the CPU defaults.
            device: torch device for full-size models (None: picked automatically).
            llm: the answer model :meth:`ask` uses when it is given none.

        Raises:
            IndexLocked: another process has the embedded index open (share it with ``pagerag serve``).
            CollectionMismatch: the index was built with other models.
        """
        from pagerag.retriever.index import PageIndex

        page_index = PageIndex.open(
            Path(index), models=models, url=qdrant_url, api_key=api_key, device=device
        )
        return cls(page_index, llm=llm)

    @property
    def index(self) -> PageIndex:
        """The open :class:`~pagerag.retriever.index.PageIndex` (raises ``IndexClosed`` after close)."""
        self._index.ensure_open()
        return self._index

    @property
    def models(self) -> dict[str, str]:
        """The index's models by role."""
        return dict(self._index.spec.models)

    # ------------------------------------------------------------ the library

    def ingest(
        self,
        *paths: str | Path,
        sync: bool = False,
        progress: bool | Callable[[IngestProgress], None] = False,
        options: IngestOptions | None = None,
        ray: RayOptions | str | bool | None = None,
    ) -> IngestReport:
        """Bring the index up to date with files and folders (unchanged files cost a hash).

        Ingests into one index run one at a time in a process (a second waits); searches go
        on meanwhile and see each document when all its pages are in.

        Args:
            paths: files and folders.
            sync: also remove documents whose files are gone from the folders given.
            progress: True for a progress bar on stderr, or a function called with each update.
            options: rendering, OCR and worker settings.
            ray: render, OCR and embed on Ray (``pagerag[ray]``): True for a Ray on this machine, an
                address (``"auto"``, ``"HOST:PORT"``), or :class:`~pagerag.pipelines.ray_ingest.RayOptions`.

        Returns:
            What the run did; ``report.failed`` names each file that failed and why.
        """
        if not paths:
            raise ConfigError("nothing to ingest: give files or folders")
        opts = options or IngestOptions()
        if sync:
            opts = replace(opts, sync=True)
        processor: Processor = process
        if ray is not None and ray is not False:
            from pagerag.pipelines.ray_ingest import ray_processor

            processor = ray_processor(ray)
        index = self.index
        with self._ingest_lock, Catalog.open(self.index_dir) as catalog:
            try:
                return ingest_paths(
                    [Path(p) for p in paths],
                    catalog=catalog,
                    sink=index,
                    options=opts,
                    progress=progress,
                    processor=processor,
                )
            finally:
                index.flush()

    def remove(self, *names: str) -> list[str]:
        """Remove documents named by source, file path, folder or id prefix (8+ characters).

        Returns:
            The ids of the removed documents.

        Raises:
            ConfigError: a name matches no document, or several when it is not a folder (nothing is removed).
        """
        index = self.index
        with self._ingest_lock, Catalog.open(self.index_dir) as catalog:
            doc_ids: list[str] = []
            for name in names:
                doc_ids += [d for d in named(catalog, name) if d not in doc_ids]
            remove_documents(doc_ids, catalog=catalog, sink=index)
            index.flush()
        return doc_ids

    def documents(self) -> list[DocumentInfo]:
        """The documents in the index, by source."""
        self._index.ensure_open()
        with Catalog.open(self.index_dir) as catalog:
            return catalog.documents()

    def document(self, doc_id: str) -> DocumentInfo:
        """One document.

        Raises:
            NotFound: no document has this id.
        """
        self._index.ensure_open()
        with Catalog.open(self.index_dir) as catalog:
            doc = catalog.document(doc_id)
        if doc is None:
            raise NotFound(f"no document {doc_id!r} in the index")
        return doc

    def files(self) -> dict[str, Path]:
        """Each document's file on this machine, by document id."""
        self._index.ensure_open()
        with Catalog.open(self.index_dir) as catalog:
            return {doc_id: path for doc_id, (path, _source) in catalog.locations().items()}

    def page(self, doc_id: str, page: int) -> PageView:
        """One page of a document: text, labels, language, OCR flag, image and thumbnail paths.

        Raises:
            NotFound: no such document, or no such page in it.
        """
        doc = self.document(doc_id)
        if not 1 <= page <= doc.pages:
            raise NotFound(f"{doc.source} has pages 1-{doc.pages}, not {page}")
        with Catalog.open(self.index_dir) as catalog:
            p = catalog.page(doc_id, page)
        return PageView(
            doc_id=p.doc_id,
            source=p.source,
            page=p.page,
            page_count=p.page_count,
            title=p.title,
            text=p.text,
            ocr_used=p.ocr_used,
            lang=p.lang,
            labels=p.labels,
            image_path=_existing(p.image_path),
            thumbnail_path=_existing(p.thumb_path),
            width=p.width,
            height=p.height,
        )

    def words(self, doc_id: str, page: int) -> list[WordBox]:
        """The words of a page with their boxes in page-image pixels (for drawing evidence on the image).

        Raises:
            NotFound: no such document, or no such page in it.
        """
        self.page(doc_id, page)
        with Catalog.open(self.index_dir) as catalog:
            return catalog.words(doc_id, page)

    # ------------------------------------------------------------ search and answers

    def search(
        self,
        query: str,
        k: int = 5,
        mode: Mode = "hybrid",
        filters: SearchFilter | Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        """The ``k`` pages that best answer ``query``.

        Args:
            query: the question or keywords.
            k: pages to return (1 to :data:`MAX_K`).
            mode: ``hybrid`` (default), ``fusion``, ``dense``, ``sparse`` or ``multi``.
            filters: a :class:`SearchFilter`, or a mapping (``{"source": "a/*.pdf", "page": "2-5"}``).
        """
        return self.search_many([query], k=k, mode=mode, filters=filters)[0]

    def search_many(
        self,
        queries: Sequence[str],
        k: int = 5,
        mode: Mode = "hybrid",
        filters: SearchFilter | Mapping[str, Any] | None = None,
    ) -> list[list[Hit]]:
        """:meth:`search` for many queries at once (one embedding batch, one store batch)."""
        check_search(queries, k, mode)
        return self.index.search_many(list(queries), k=k, mode=mode, filter=to_filter(filters))

    def ask(
        self,
        question: str,
        k: int = 3,
        llm: str | LLM | None = None,
        history: Sequence[tuple[str, str]] | None = None,
        stream: bool = False,
        filters: SearchFilter | Mapping[str, Any] | None = None,
        min_relevance: float | None = None,
    ) -> Any:
        """Answer ``question`` from the best ``k`` pages, citing them.

        Args:
            question: what to ask.
            k: pages given to the model.
            llm: an answer model spec (``"extractive"``, ``"gemma-270m"``, ``"openai:MODEL"``, ...) or an
                :class:`LLM`; None: the one this handle was opened with.
            history: earlier ``(question, answer)`` turns: a follow-up is understood with them.
            stream: return an :class:`AnswerStream` of the answer's pieces instead of waiting.
            filters: restricts the search (as in :meth:`search`).
            min_relevance: below this relevance the closest pages are listed instead of an answer
                (None: the threshold calibrated for the default models; 0: always answer).

        Returns:
            An :class:`~pagerag.pipelines.answer.Answer`, or an :class:`AnswerStream` with ``stream=True``.
        """
        if not question.strip():
            raise ConfigError("the question is empty")
        check_search([question], k, "hybrid")
        chat = self.chat(k=k, llm=llm, filters=filters, min_relevance=min_relevance, history=history)
        if stream:
            return AnswerStream(lambda on_text: chat.ask(question, on_text=on_text))
        return chat.ask(question)

    def chat(
        self,
        *,
        k: int = 3,
        llm: str | LLM | None = None,
        filters: SearchFilter | Mapping[str, Any] | None = None,
        min_relevance: float | None = None,
        history: Sequence[tuple[str, str]] | None = None,
    ) -> Chat:
        """A conversation over this index: follow-up questions are understood with the earlier turns."""
        chat = Chat(
            index=self.index,
            llm=self.llm(llm),
            k=k,
            filter=to_filter(filters),
            min_relevance=self._min_relevance(min_relevance),
            words=lambda hit: self.words(hit.doc_id, hit.page),
        )
        for question, answer in history or ():
            chat.rewrite(question)
            chat.history.append((question, answer))
        return chat

    def llm(self, spec: str | LLM | None = None) -> LLM:
        """The answer model for ``spec`` (built once per handle and spec)."""
        chosen = self._default_llm if spec is None else spec
        if not isinstance(chosen, str):
            return chosen
        with self._llm_lock:
            if chosen not in self._llms:
                self._llms[chosen] = build_llm(chosen)
            return self._llms[chosen]

    def _min_relevance(self, asked: float | None) -> float | None:
        if asked is not None:
            return asked or None
        from pagerag.retriever.embedders.registry import DEFAULT_MODELS

        # Calibrated on the default multi-vector model's MaxSim (the score the answer step reads), which
        # the other roles do not change: an index built before bm25-bigrams keeps it.
        return DEFAULT_MIN_RELEVANCE if self.models.get("multi") == DEFAULT_MODELS["multi"] else None

    def as_retriever(self, k: int = 4, **search_kwargs: Any) -> PageRetriever:
        """A LangChain retriever over this index (needs ``pagerag[langchain]``).

        ``search_kwargs``: ``mode``, ``filter`` (a :class:`SearchFilter` or mapping), ``prefetch``.
        The retriever uses this handle: after :meth:`close` it raises ``IndexClosed``.
        """
        from pagerag.retriever.langchain import PageRetriever

        if "filter" in search_kwargs:
            search_kwargs["filter"] = to_filter(search_kwargs["filter"])
        return PageRetriever(index=self.index, k=k, **search_kwargs)

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Release this handle (the engine closes with the process's last handle). Idempotent."""
        self._index.close()

    def __enter__(self) -> PageRAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._index.closed else f"models={self.models}"
        return f"PageRAG({str(self.index_dir)!r}, {state})"


_INGEST_LOCKS: dict[Path, threading.Lock] = {}
_INGEST_LOCKS_GUARD = threading.Lock()


def _ingest_lock(index_dir: Path) -> threading.Lock:
    """One lock per index in this process: handles' ingests and removals wait for each other."""
    with _INGEST_LOCKS_GUARD:
        return _INGEST_LOCKS.setdefault(index_dir.resolve(), threading.Lock())


class NotFound(PageragError, LookupError):
    """No such document or page."""


def check_search(queries: Sequence[str], k: int, mode: str) -> None:
    """Reject what no search can answer well, with a one-line reason.

    Raises:
        ConfigError: an empty query, ``k`` out of 1..MAX_K, an unknown mode.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be between 1 and {MAX_K}, not {k!r}")
    if mode not in MODES:
        raise ConfigError(f"unknown search mode {mode!r}: choose one of {', '.join(MODES)}")
    for query in queries:
        if not isinstance(query, str) or not query.strip():
            raise ConfigError("the query is empty")


def to_filter(filters: SearchFilter | Mapping[str, Any] | None) -> SearchFilter | None:
    """A :class:`SearchFilter` from a mapping (``{"source": ..., "doc": ..., "page": "2-5", "lang": ...}``).

    Raises:
        ConfigError: an unknown field or a malformed value.
    """
    if filters is None or isinstance(filters, SearchFilter):
        return filters
    from pagerag.retriever.search import parse_filters

    items: list[str] = []
    for key, value in filters.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            if not isinstance(one, str | int) or isinstance(one, bool):
                raise ConfigError(f"filter {key!r}: give a string or a number, not {one!r}")
            items.append(f"{key}={one}")
    return parse_filters(items) if items else None


def matching(catalog: Catalog, given: str) -> list[str]:
    """Documents named by ``given``: a source, a file path, a folder that holds them, or an id prefix."""
    wanted = Path(os.path.abspath(given))
    found = []
    for doc_id, (path, source) in catalog.locations().items():
        if (
            source == given
            or path == wanted
            or path.is_relative_to(wanted)
            or (len(given) >= 8 and doc_id.startswith(given))
        ):
            found.append(doc_id)
    return sorted(found)


def named(catalog: Catalog, name: str) -> list[str]:
    """The documents ``name`` stands for (:func:`matching`); a name that is not a folder must name one.

    Raises:
        ConfigError: no document, or several for a name that is not a folder (listing them).
    """
    found = matching(catalog, name)
    sources = {doc_id: source for doc_id, (_path, source) in catalog.locations().items()}
    if not found:
        alike = sorted(s for s in sources.values() if Path(s).name == Path(name).name)
        hint = f"; documents of that name: {', '.join(alike)}" if alike else ""
        raise ConfigError(f"{name} is not in the index {catalog.index_dir}{hint}")
    if len(found) > 1 and not Path(name).is_dir():
        listed = ", ".join(sorted(sources[d] for d in found))
        raise ConfigError(
            f"{name} names {len(found)} documents ({listed}): give one source as `pagerag list` shows it"
        )
    return found


def _existing(path: Path | None) -> Path | None:
    return path if path is not None and path.exists() else None
