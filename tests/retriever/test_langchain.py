"""PageRetriever: the BaseRetriever contract (sync, async, batch) and composition in LangChain."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from pagerag.retriever.index import PageIndex
from pagerag.retriever.types import SearchFilter

pytest.importorskip("langchain_core")

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from pagerag.retriever.langchain import PageRetriever


def test_invoke_returns_documents_with_page_metadata(filled: PageIndex) -> None:
    docs = PageRetriever(index=filled, k=2).invoke("carbon emissions fell")
    assert len(docs) == 2 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.page_content == "carbon emissions fell by ten percent"
    assert {k: top.metadata[k] for k in ("source", "page", "doc_id", "image")} == {
        "source": "reports/sustainability.pdf",
        "page": 1,
        "doc_id": "doc-b",
        "image": None,
    }
    assert top.metadata["score"] >= docs[1].metadata["score"]


def test_mode_and_filter_are_passed_through(filled: PageIndex) -> None:
    retriever = PageRetriever(index=filled, k=5, mode="dense", filter=SearchFilter(source_glob="slides/*"))
    assert {d.metadata["source"] for d in retriever.invoke("budget")} == {"slides/kickoff.pptx"}


def test_async_and_batch(filled: PageIndex) -> None:
    retriever = PageRetriever(index=filled, k=1)

    async def both() -> list[list[Document]]:
        return list(
            await asyncio.gather(retriever.ainvoke("water usage"), retriever.ainvoke("kickoff agenda"))
        )

    a, b = asyncio.run(both())
    assert (a[0].metadata["source"], a[0].metadata["page"]) == ("reports/sustainability.pdf", 2)
    assert (b[0].metadata["source"], b[0].metadata["page"]) == ("slides/kickoff.pptx", 1)
    batch = retriever.batch(["water usage", "kickoff agenda"])
    assert [d[0].page_content for d in batch] == [a[0].page_content, b[0].page_content]
    abatch = asyncio.run(retriever.abatch(["balance sheet"]))
    assert abatch[0][0].metadata["page"] == 3


def test_lcel_chain(filled: PageIndex) -> None:
    def format_docs(docs: list[Document]) -> str:
        return "\n".join(f"[{d.metadata['source']} p.{d.metadata['page']}] {d.page_content}" for d in docs)

    prompt = RunnableLambda(lambda x: f"Context:\n{x['context']}\nQuestion: {x['question']}")
    chain = {
        "context": PageRetriever(index=filled, k=1) | format_docs,
        "question": RunnablePassthrough(),
    } | prompt
    out = chain.invoke("how did revenue grow in europe")
    assert "[reports/annual_2023.pdf p.2] revenue grew in europe and asia during 2023" in out
    assert out.endswith("Question: how did revenue grow in europe")


def test_ensemble_of_two_page_retrievers(filled: PageIndex) -> None:
    from langchain_classic.retrievers import EnsembleRetriever

    sparse = PageRetriever(index=filled, k=2, mode="sparse")
    dense = PageRetriever(index=filled, k=2, mode="dense", filter=SearchFilter(doc_ids=("doc-c",)))
    ensemble = EnsembleRetriever(retrievers=[sparse, dense], weights=[0.5, 0.5], id_key="doc_id")
    docs = ensemble.invoke("budget approval carbon")
    assert docs and all(isinstance(d, Document) for d in docs)
    assert {"doc-b", "doc-c"} <= {d.metadata["doc_id"] for d in docs}


def test_from_index_opens_with_the_models_it_was_built_with(filled: PageIndex, tmp_path: object) -> None:
    from pathlib import Path

    from .fakes import HashEmbedder  # noqa: TID251

    root = Path(str(tmp_path)) / "idx"
    with PageIndex.open(root, embedder=HashEmbedder()) as index:
        from .conftest import fill  # noqa: TID251

        fill(index)
    retriever = PageRetriever.from_index(root, k=3, mode="fusion", embedder=HashEmbedder(), prefetch=10)
    try:
        assert retriever.k == 3 and retriever.mode == "fusion" and retriever.prefetch == 10
        assert retriever.invoke("water usage")[0].metadata["page"] == 2
    finally:
        retriever.index.close()


def test_import_without_langchain_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "try:\n    import pagerag.retriever.langchain\nexcept ImportError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (
        out.stdout.strip()
        == 'MissingDependency langchain-core is not installed: pip install "pagerag[langchain]"'
    )
