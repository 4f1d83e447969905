"""`pagerag ingest`, `list`, `remove`: a folder full of bad files, the JSON report, exit codes.

They run the whole command: page table, the packaged models and the embedded store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from ingest_docs import ZERO_PAGE_PDF, write_encrypted, write_pdf

from pagerag.ingest.catalog import Catalog
from pagerag.pipelines import cli


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, object]:
    code = cli.main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out)


def _bad_folder(root: Path, pdf_factory: Callable[..., Path]) -> Path:
    docs = root / "docs"
    good = pdf_factory("good.pdf", pages=2)
    data = good.read_bytes()
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    (docs / "truncated.pdf").write_bytes(data[: len(data) // 2])
    write_encrypted(docs / "locked.pdf", "s3cret")
    (docs / "zero_pages.pdf").write_bytes(ZERO_PAGE_PDF)
    (docs / "empty.pdf").write_bytes(b"")
    (docs / "png_named.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    write_pdf(docs / "poster.pdf", ["a 200 x 200 inch poster"], size=(14400, 14400))
    with open(os.fsencode(docs) + b"/r\xe9sum\xe9.pdf", "wb") as fh:  # Latin-1 bytes in the name
        fh.write(pdf_factory("x.pdf", folder=root / "src", seed=3).read_bytes())
    (docs / ("n" * 240 + ".pdf")).write_bytes(pdf_factory("y.pdf", folder=root / "src", seed=4).read_bytes())
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    (docs / "notes.xyz").write_text("unsupported")
    return docs


def test_a_folder_of_bad_files_reports_each_and_ingests_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pdf_factory: Callable[..., Path]
) -> None:
    docs = _bad_folder(tmp_path, pdf_factory)
    index = tmp_path / "index"
    argv = ["ingest", str(docs), "--index", str(index), "--json", "--workers", "0", "--ocr-lang", "eng"]
    code, report = _json(capsys, argv)
    assert code == 1
    assert isinstance(report, dict)
    failed = {Path(p["path"]).name: p["reason"] for p in report["failed"]}
    assert failed == {
        "corrupt.pdf": failed["corrupt.pdf"],
        "truncated.pdf": "truncated PDF (the file ends before its end-of-file marker)",
        "locked.pdf": "encrypted PDF: a password is needed (--password)",
        "zero_pages.pdf": "PDF has no pages",
        "empty.pdf": "empty file (0 bytes)",
        "png_named.pdf": "content is a PNG image, not what its suffix .pdf says",
    }
    assert failed["corrupt.pdf"].startswith("corrupt PDF")
    skipped = {Path(p["path"]).name: p["reason"] for p in report["skipped"]}
    assert skipped["notes.xyz"] == "unsupported file type (.xyz)"
    assert skipped["loop"].startswith("symlink loop")
    assert (report["indexed"], report["documents"], report["pages"]) == (4, 4, 7)
    assert set(report) >= {
        "documents",
        "pages",
        "indexed",
        "unchanged",
        "removed",
        "skipped",
        "failed",
        "seconds",
    }
    with Catalog.open(index) as catalog:
        sources = {d.source: d for d in catalog.documents()}
        assert set(sources) == {"good.pdf", "poster.pdf", "r\\xe9sum\\xe9.pdf", "n" * 240 + ".pdf"}
        poster = catalog.page(sources["poster.pdf"].doc_id, 1)
        assert poster.width == 14400 and poster.image_path is not None
        from PIL import Image

        assert max(Image.open(poster.image_path).size) <= 2400
    # One password opens the encrypted file; everything else is unchanged now.
    code, again = _json(capsys, [*argv, "--password", "s3cret"])
    assert isinstance(again, dict)
    assert code == 1 and again["indexed"] == 1 and again["unchanged"] == 4
    assert "locked.pdf" not in {Path(p["path"]).name for p in again["failed"]}


def test_list_and_remove(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pdf_factory: Callable[..., Path]
) -> None:
    pdf_factory("a.pdf")
    pdf_factory("sub/b.pdf", seed=1)
    index = str(tmp_path / "index")
    assert cli.main(["ingest", str(tmp_path / "docs"), "--index", index, "--quiet", "--workers", "0"]) == 0
    assert "2 indexed" in capsys.readouterr().out
    code, listed = _json(capsys, ["list", "--index", index, "--json"])
    assert code == 0 and isinstance(listed, list)
    assert [(d["source"], d["pages"]) for d in listed] == [("a.pdf", 2), ("sub/b.pdf", 2)]
    assert all(len(d["doc_id"]) == 64 and d["indexed_at"] for d in listed)
    assert cli.main(["remove", "sub/b.pdf", "--index", index]) == 0
    assert cli.main(["remove", "nothing.pdf", "--index", index]) == 1
    capsys.readouterr()
    _, listed = _json(capsys, ["list", "--index", index, "--json"])
    assert [d["source"] for d in listed] == ["a.pdf"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["/no/such/folder"], "no such file or directory"),
        (["{tmp}", "--dpi", "5"], "--dpi must be between"),
        (["{tmp}", "--ocr-lang", "klingon"], "OCR language(s) not installed: klingon"),
        (["{tmp}", "--workers", "-1"], "--workers must be 0 or more"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["ingest", *(a.format(tmp=tmp_path) for a in extra), "--index", str(tmp_path / "i")]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


DROP_DAC = ["--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.skipif(
    os.geteuid() == 0 and not shutil.which("setpriv"), reason="root without setpriv reads anything"
)
def test_an_unreadable_file_fails_and_the_rest_is_ingested(
    tmp_path: Path, pdf_factory: Callable[..., Path]
) -> None:
    """Permissions do not stop root, so as root the run drops the capabilities that bypass them."""
    docs = tmp_path / "docs"
    pdf_factory("readable.pdf")
    pdf_factory("secret.pdf", seed=5).chmod(0o000)
    script = (
        "import json, sys; from pathlib import Path\n"
        "from pagerag.ingest.catalog import Catalog\n"
        "from pagerag.ingest.pipeline import ingest_paths, IngestOptions\n"
        "from pagerag.ingest.sink import NullSink\n"
        "with Catalog.open(Path(sys.argv[2])) as c:\n"
        "    r = ingest_paths([Path(sys.argv[1])], catalog=c, sink=NullSink(),\n"
        "                     options=IngestOptions(workers=0, ocr=False), progress=False)\n"
        "print(json.dumps({'indexed': r.indexed, 'failed': [[f.path, f.reason] for f in r.failed]}))\n"
    )
    prefix = ["setpriv", *DROP_DAC] if os.geteuid() == 0 else []
    out = subprocess.run(
        [*prefix, sys.executable, "-c", script, str(docs), str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["indexed"] == 1
    assert [(Path(p).name, r) for p, r in result["failed"]] == [
        ("secret.pdf", "cannot read: Permission denied")
    ]
