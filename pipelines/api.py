"""The two calls most users need: index a folder, ask a question.

Example:
    >>> from pagerag.pipelines import index_folder, ask
    >>> report = index_folder("sample_docs", index=".pagerag")  # doctest: +SKIP
    >>> answer = ask("What was the total revenue in 2023?", index=".pagerag")  # doctest: +SKIP
    >>> answer.text, [(c.source, c.page) for c in answer.citations]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pagerag.ingest.options import IngestOptions
from pagerag.ingest.types import IngestReport
from pagerag.pipelines.answer import Answer
from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.llm import DEFAULT_LLM
from pagerag.retriever.types import SearchFilter


def index_folder(
    *paths: str | Path,
    index: str | Path = ".pagerag",
    options: IngestOptions | None = None,
    models: Mapping[str, str] | None = None,
    url: str | None = None,
    api_key: str | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest files and folders into the index at ``index`` (incremental: unchanged files cost a hash).

    Args:
        paths: files and folders to ingest.
        index: the index directory (created if missing).
        options: rendering, OCR and worker settings (defaults: 144 dpi, OCR where needed).
        models: embedder names (``{"dense": ..., "multi": ..., "sparse": ...}``; default: the CPU defaults).
        url: a Qdrant server instead of the embedded engine.
        api_key: the server's key.
        progress: show a progress bar.

    Returns:
        What the run did; ``report.failed`` names each file that failed and why.
    """
    with PageRAG.open(index, models=models, qdrant_url=url, api_key=api_key) as rag:
        return rag.ingest(*paths, options=options, progress=progress)


def ask(
    question: str,
    *,
    index: str | Path = ".pagerag",
    llm: str = DEFAULT_LLM,
    k: int = 5,
    filter: SearchFilter | None = None,
    url: str | None = None,
    api_key: str | None = None,
) -> Answer:
    """Answer ``question`` from the index at ``index``, citing the pages it used.

    Args:
        question: what to ask.
        index: the index directory.
        llm: an answer model spec (``"extractive"``, ``"gemma-270m"``, ``"openai:MODEL"``, ``"hf:PATH"``).
        k: pages given to the model.
        filter: restricts retrieval (sources, pages, any payload field).
        url: a Qdrant server instead of the embedded engine.
        api_key: the server's key.

    Returns:
        The answer, its citations and the retrieved pages.
    """
    with PageRAG.open(index, qdrant_url=url, api_key=api_key) as rag:
        answer: Answer = rag.ask(question, k=k, llm=llm, filters=filter)
        return answer
