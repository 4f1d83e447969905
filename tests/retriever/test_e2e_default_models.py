"""End to end with the real default embedder (e5-small + MiniLM tokens + BM25) on tiny pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pagerag.ingest.types import DocumentInfo, Page
from pagerag.pipelines.cli import main
from pagerag.retriever.index import PageIndex
from pagerag.retriever.types import MODES

pytestmark = pytest.mark.slow  # loads the packaged models (about a minute on a busy 2-core box)

PAGES = {
    "finance.pdf": [
        "Quarterly report. Revenue rose to 4.2 million euros in the third quarter, driven by exports.",
        "Staff headcount and office locations in Berlin, Paris and Madrid.",
    ],
    "safety.pdf": [
        "Die Mitarbeiter erhalten jedes Jahr eine Schulung zur Arbeitssicherheit und zum Brandschutz.",
        "Emergency exits must be kept clear; fire extinguishers are inspected monthly.",
    ],
}


def test_default_models_index_search_reopen_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "idx"
    with PageIndex.open(root) as index:  # no models given: the defaults
        for n, (source, texts) in enumerate(PAGES.items()):
            doc_id = f"doc{n}"
            pages = [Page(doc_id, source, i, len(texts), t) for i, t in enumerate(texts, 1)]
            index.write(DocumentInfo(doc_id, source, len(texts)), pages)
            index.publish(doc_id)
        for mode in MODES:
            hits = index.search("how much revenue in the third quarter", k=2, mode=mode)
            assert (hits[0].source, hits[0].page) == ("finance.pdf", 1), mode
        assert index.search("fire extinguishers inspection", k=1)[0].source == "safety.pdf"
    meta = json.loads((root / "index.json").read_text())
    assert set(meta["models"]) == {"dense", "multi", "sparse"}

    # The CLI reopens it with the models recorded in index.json.
    assert main(["search", "exports revenue", "--index", str(root), "--json", "-k", "1"]) == 0
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert (hit["source"], hit["page"]) == ("finance.pdf", 1)
