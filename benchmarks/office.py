"""LibreOffice deck -> PDF conversion time, and python-pptx slide-text time, per deck.

For every .pptx under the given folders: ``convert_to_pdf`` (a fresh private LibreOffice
profile per call, as pagerag runs it) timed ``--repeat`` times; the PDF's page count checked
against python-pptx's slide count (hidden slides included) and each page's words against its
slide's words; ``slide_texts`` timed. Then the same decks converted two at a time (the 2-core
box's worker count) for throughput, and, for comparison only, one conversion with a re-used
warm profile (what a shared profile would save; pagerag does not do this, so that parallel
conversions never collide).

Run: ``.venv/bin/python benchmarks/office.py ../shared/devset/docs sample_docs [--repeat 3]``
Prints a Markdown report (copy it into docs/bench/office.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pymupdf

from pagerag.ingest.formats.office import _IMPRESS_FILTER, convert_to_pdf, find_soffice
from pagerag.ingest.formats.slides import slide_texts


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 3}


def _check_pages(deck: Path, pdf: Path) -> tuple[int, int, int, float]:
    """Slides, pages, hidden slides, and the lowest share of a slide's words found on its own page."""
    slides = slide_texts(deck)
    with pymupdf.open(pdf) as doc:
        pages = [page.get_text() for page in doc]
    worst = 1.0
    for slide in slides:
        words = _words(slide.text)
        if words and slide.index <= len(pages):
            worst = min(worst, len(words & _words(pages[slide.index - 1])) / len(words))
    return len(slides), len(pages), sum(s.hidden for s in slides), worst


def _warm_profile_seconds(deck: Path, work: Path) -> float:
    soffice = find_soffice()
    assert soffice is not None
    profile = (work / "shared-profile").as_uri()
    command = [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", _IMPRESS_FILTER]
    command += ["--outdir", str(work / "warm"), str(deck)]
    subprocess.run(command, check=True, capture_output=True)  # creates the profile
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    decks = sorted(p for folder in args.folders for p in folder.glob("*.pptx"))
    soffice = find_soffice()
    version = subprocess.run([soffice or "soffice", "--version"], capture_output=True, text=True).stdout
    print(f"# LibreOffice conversion ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n")
    print(f"- machine: {platform.node()}, {platform.machine()}, 2 cores shared; {version.strip()}")
    print(f"- command: `.venv/bin/python benchmarks/office.py {' '.join(map(str, args.folders))}`")
    print(f"- load average at start: {os.getloadavg()[0]:.1f} (other work on the box skews the times)")
    print(f"- {args.repeat} conversions per deck, each with a fresh private profile; median and min\n")
    print(
        "| deck | slides | hidden | PDF pages | page N = slide N (worst word overlap) "
        "| convert median s | min s | s/slide | slide_texts ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    total_slides, medians = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for deck in decks:
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                pdf = convert_to_pdf(deck, work)
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            slide_texts(deck)
            text_ms = (time.perf_counter() - started) * 1000
            n_slides, n_pages, hidden, worst = _check_pages(deck, pdf)
            median = statistics.median(times)
            medians.append(median)
            total_slides += n_slides
            ok = "yes" if n_slides == n_pages and worst >= 0.8 else "NO"
            print(
                f"| {deck.name} | {n_slides} | {hidden} | {n_pages} | {ok} ({worst:.2f}) | {median:.2f} "
                f"| {min(times):.2f} | {median / n_slides:.2f} | {text_ms:.0f} |"
            )
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda d: convert_to_pdf(d, work / "par" / d.stem), _mkdirs(decks, work)))
        parallel = time.perf_counter() - started
        warm = _warm_profile_seconds(decks[0], work)
        started = time.perf_counter()
        convert_to_pdf(decks[0], work)
        fresh = time.perf_counter() - started
    print(
        f"\n- all {len(decks)} decks ({total_slides} slides) one after another: {sum(medians):.1f} s "
        f"({total_slides / sum(medians):.1f} slides/s)"
    )
    print(
        f"- the same decks two at a time (2 workers): {parallel:.1f} s "
        f"({total_slides / parallel:.1f} slides/s)"
    )
    print(
        f"- {decks[0].name} with a re-used warm profile: {warm:.2f} s, right after with a fresh "
        f"private profile (as pagerag runs it): {fresh:.2f} s"
    )
    print(f"- load average at end: {os.getloadavg()[0]:.1f}")


def _mkdirs(decks: list[Path], work: Path) -> list[Path]:
    for deck in decks:
        (work / "par" / deck.stem).mkdir(parents=True, exist_ok=True)
    return decks


if __name__ == "__main__":
    main()
