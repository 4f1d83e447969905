"""End to end: a typical corpus of about 1,000 pages through `pagerag ingest` with the defaults.

Everything a user's first run does: scan, LibreOffice for decks, render, text layer, OCR where
a page needs it, the three embeddings, the embedded Qdrant engine and its index build. The
corpus is real third-party documents (../shared/devset-long and ../shared/devset: reports,
10-Ks, papers, manuals, decks, scans, non-English pages). Copies needed to reach the page
count get one extra byte after the PDF's end, so their content hash differs and they are
ingested like new documents (the pages, OCR and embeddings are computed again).

Run: ``.venv/bin/python benchmarks/e2e.py --pages 1000``

Prints a markdown summary: wall time, pages/s, CPU time, peak RSS of the whole process tree
(the CLI plus its worker processes), and the CLI's own report.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".pdf", ".pptx", ".docx", ".png", ".jpg", ".txt", ".md"}


def page_count(path: Path) -> int:
    import pymupdf

    if path.suffix.lower() == ".pptx":
        from pagerag.ingest.formats.slides import slide_texts

        return len(slide_texts(path))
    if path.suffix.lower() == ".pdf":
        with pymupdf.open(path) as doc:
            return int(doc.page_count)
    return 1


def build_corpus(sources: list[Path], target: int, out: Path) -> tuple[int, int]:
    """Copy documents from ``sources`` into ``out`` until they hold ``target`` pages or more."""
    files = sorted(p for src in sources for p in src.iterdir() if p.suffix.lower() in SUFFIXES)
    counted = [(p, page_count(p)) for p in files]
    out.mkdir(parents=True, exist_ok=True)
    pages = docs = copy = 0
    while pages < target:
        for path, n in counted:
            if pages >= target:
                break
            name = path.name if copy == 0 else f"{path.stem}.copy{copy}{path.suffix}"
            dest = out / name
            shutil.copyfile(path, dest)
            if copy and path.suffix.lower() == ".pdf":
                with open(dest, "ab") as fh:  # after %%EOF: same pages, another content hash
                    fh.write(f"\n% pagerag benchmark copy {copy}\n".encode())
            elif copy:
                dest.unlink()  # only PDFs can be altered harmlessly
                continue
            pages += n
            docs += 1
        copy += 1
    return docs, pages


class TreeSampler(threading.Thread):
    """Peak RSS and CPU seconds of a process and its children, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
                except psutil.NoSuchProcess:
                    continue
            self.peak = max(self.peak, rss)
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument(
        "--sources",
        type=Path,
        nargs="+",
        default=[ROOT.parent / "shared" / "devset-long" / "docs", ROOT.parent / "shared" / "devset" / "docs"],
    )
    parser.add_argument("--work", type=Path, default=None, help="where the corpus and index go (temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the corpus and index")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="pagerag-e2e-"))
    corpus, index = work / "corpus", work / "index"
    shutil.rmtree(index, ignore_errors=True)
    shutil.rmtree(corpus, ignore_errors=True)
    docs, pages = build_corpus(args.sources, args.pages, corpus)
    cli = Path(sys.executable).with_name("pagerag")
    cmd = [str(cli), "ingest", str(corpus), "--index", str(index), "--json"]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        sys.exit(f"pagerag ingest failed ({proc.returncode}):\n{err[-3000:]}")
    report = json.loads(out.strip().splitlines()[-1])
    cpu = sum(sampler.cpu.values())
    main_cpu = sampler.cpu.get(
        proc.pid, 0.0
    )  # the CLI: scan, embedding, store; the rest: workers, LibreOffice
    print(f"# pagerag ingest end to end: {docs} documents, {pages} pages\n")
    print(f"command: `{' '.join(cmd)}`; load average before: {load:.2f}\n")
    print("| pages | wall s | pages/s | CPU s (tree) | CPU s/page | peak RSS (tree) | failed |")
    print("|---|---|---|---|---|---|---|")
    done = report["pages_indexed"]
    print(
        f"| {done} | {wall:.0f} | {done / wall:.2f} | {cpu:.0f} | {cpu / max(done, 1):.2f} | "
        f"{sampler.peak / 2**20:.0f} MiB | {len(report['failed'])} |"
    )
    print(
        f"\nCPU s: {main_cpu:.0f} in the ingest process (embedding, store), "
        f"{cpu - main_cpu:.0f} in its children (render, text, OCR, LibreOffice)"
    )
    for f in report["failed"]:
        print(f"- failed: {f['path']}: {f['reason']}")
    size = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
    print(f"\nindex: {size / 2**20:.0f} MiB ({size / 1024 / max(pages, 1):.0f} KiB/page)")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
