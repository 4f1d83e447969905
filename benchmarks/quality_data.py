"""Page texts and qrels of the dev sets for the quality harness (``benchmarks/quality.py``).

Text of each page = PyMuPDF text layer + slide notes + OCR (tesseract) where the page has
little text or is mostly pictures. Decks are converted to PDF once with LibreOffice.
Everything is cached as JSON under the cache dir (default ``/tmp/pagerag-cache``), so
the slow parts (LibreOffice, OCR) run once per machine.

Run: ``.venv/bin/python benchmarks/quality_data.py ../shared/devset ../shared/devset-long``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path("/tmp/pagerag-cache")
OCR_MIN_CHARS = 50
OCR_MIN_IMAGE_COVERAGE = 0.15


@dataclass(frozen=True, slots=True)
class DevPage:
    doc: str
    page: int
    native: str
    ocr: str
    notes: str

    @property
    def text(self) -> str:
        return "\n".join(t for t in (self.native, self.ocr, self.notes) if t.strip())


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    query: str
    doc: str
    pages: tuple[int, ...]
    lang: str
    modality: str = ""


def _pdf_of(path: Path, cache: Path) -> Path:
    if path.suffix.lower() == ".pdf":
        return path
    out = cache / "pdf"
    out.mkdir(parents=True, exist_ok=True)
    target = out / (path.stem + ".pdf")
    if not target.exists():
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(out), str(path)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return target


def _notes(path: Path) -> list[str]:
    if path.suffix.lower() != ".pptx":
        return []
    from pptx import Presentation

    notes = []
    for slide in Presentation(str(path)).slides:
        text = slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else ""
        notes.append(text or "")
    return notes


def _ocr(png: bytes, langs: str) -> str:
    with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
        tmp.write(png)
        tmp.flush()
        done = subprocess.run(
            ["tesseract", tmp.name, "-", "-l", langs, "--psm", "3"],
            capture_output=True,
            timeout=300,
            env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
        )
    return done.stdout.decode("utf-8", "replace").strip()


def _image_coverage(page: object) -> float:
    import pymupdf

    assert isinstance(page, pymupdf.Page)
    area = abs(page.rect) or 1.0
    covered = 0.0
    for info in page.get_image_info():
        box = pymupdf.Rect(info["bbox"]) & page.rect
        covered += abs(box)
    return min(1.0, covered / area)


def extract_doc(path: Path, langs: str, cache: Path) -> list[DevPage]:
    import pymupdf

    notes = _notes(path)
    pages = []
    with pymupdf.open(str(_pdf_of(path, cache))) as pdf:
        for index, page in enumerate(pdf):
            native = page.get_text().strip()
            ocr = ""
            if len(native) < OCR_MIN_CHARS or _image_coverage(page) >= OCR_MIN_IMAGE_COVERAGE:
                ocr = _ocr(page.get_pixmap(dpi=200).tobytes("png"), langs)
            note = notes[index] if index < len(notes) else ""
            pages.append(DevPage(path.name, index + 1, native, ocr, note))
    return pages


def load_pages(devset: Path, *, langs: str = "eng", cache: Path = CACHE) -> list[DevPage]:
    """All pages of a dev set's documents (cached as JSON)."""
    store = cache / "texts" / devset.name
    store.mkdir(parents=True, exist_ok=True)
    pages: list[DevPage] = []
    for path in sorted((devset / "docs").iterdir()):
        if path.suffix.lower() not in {".pdf", ".pptx", ".docx"}:
            continue
        target = store / (path.name + ".json")
        if not target.exists():
            got = extract_doc(path, langs, cache)
            target.write_text(json.dumps([_asdict(p) for p in got]))
            print(f"  {path.name}: {len(got)} pages", file=sys.stderr, flush=True)
        pages.extend(DevPage(**row) for row in json.loads(target.read_text()))
    return pages


def _asdict(page: DevPage) -> dict[str, object]:
    return {k: getattr(page, k) for k in ("doc", "page", "native", "ocr", "notes")}


def load_queries(devset: Path) -> list[Query]:
    rows = [json.loads(line) for line in (devset / "queries.jsonl").read_text().splitlines() if line.strip()]
    return [
        Query(r["id"], r["query"], r["doc"], tuple(r["pages"]), r.get("lang", ""), r.get("modality", ""))
        for r in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("devsets", nargs="+", type=Path)
    parser.add_argument("--langs", default="eng+deu+fra+spa")
    args = parser.parse_args()
    for devset in args.devsets:
        pages = load_pages(devset, langs=args.langs)
        ocr = sum(1 for p in pages if p.ocr)
        print(f"{devset.name}: {len(pages)} pages, {ocr} with OCR")


if __name__ == "__main__":
    main()
