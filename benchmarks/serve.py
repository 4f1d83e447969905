"""Serving: `pagerag serve` over the devset-long index, 1 / 8 / 32 concurrent loopback clients.

Steps: bring the index up to date (`pagerag ingest DOCS --index .pagerag-devset-long --quiet`:
a full build the first time, a hash check after), copy it to a temporary folder (the server
locks its index; the copy keeps the shared one free for `make eval`), time the one-shot CLI
with no server (`pagerag search` / `pagerag ask`, cold start each), start `pagerag serve`
on a free loopback port, time the same CLI calls through it, then load `POST /v1/search`
(k=5, hybrid) and `POST /v1/ask` (extractive, k=3) with 1, 8 and 32 closed-loop clients for
``--seconds`` each. Clients cycle through the devset-long queries. Last, with the server
stopped, the same searches in this process (no HTTP) to show where the time goes.

Each client is a thread with its own ``httpx.Client`` (one keep-alive connection, like one
user): the latency timer wraps one blocking call, so it never includes an event loop's
wait to run another task's callbacks, and the client's CPU time is measured beside the server's.

Run: ``.venv/bin/python benchmarks/serve.py --seconds 60``; A/B a server setting with
``--server-env OMP_NUM_THREADS=1``, ``--serve-arg=--no-mcp`` or ``--tcp-nodelay`` (short: ``--seconds 15
--levels 1,8 --endpoints search --cli-runs 0 --no-diagnose --out /tmp/x``).

Prints markdown and writes ``docs/bench/runs/DATE-serve.md`` and ``.json`` (``--out STEM``).
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT.parent / "shared" / "devset-long"
INDEX = ROOT / ".pagerag-devset-long"
CLI = Path(sys.executable).with_name("pagerag")
LEVELS = (1, 8, 32)
BODIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "search": lambda q: {"query": q, "k": 5, "mode": "hybrid"},
    "ask": lambda q: {"question": q, "k": 3, "llm": "extractive"},
}
# `pagerag serve` with TCP_NODELAY on its listening socket (Linux passes it to accepted ones):
# what the suggested fix gives, measured before it is made (`--tcp-nodelay`).
NODELAY_SERVE = """
import socket, sys
_create = socket.create_server
def create_server(*args, **kwargs):
    sock = _create(*args, **kwargs)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
socket.create_server = create_server
from pagerag.pipelines.cli import main
sys.exit(main())
"""
USER_ENV = ("PAGERAG_INDEX", "PAGERAG_LLM", "PAGERAG_LLM_URL", "PAGERAG_API_KEY", "QDRANT_URL")
SHOWN_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS", "TOKENIZERS_PARALLELISM")


@dataclass
class Level:
    endpoint: str
    clients: int
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    qps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    rss_start_mib: float = 0.0
    rss_quarter_mib: float = 0.0
    rss_end_mib: float = 0.0
    rss_peak_mib: float = 0.0
    server_cpu_pct: float = 0.0
    client_cpu_pct: float = 0.0
    server_threads: int = 0
    box_cpu_pct: float = 0.0
    load_1m: float = 0.0


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def user_env() -> dict[str, str]:
    """This environment without pagerag's own settings: the defaults a new user gets."""
    return {k: v for k, v in os.environ.items() if k not in USER_ENV}


def vm_rss(pid: int) -> float:
    """VmRSS of ``pid`` in MiB (from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores, all processes)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def percentile(sorted_ms: Sequence[float], pct: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, round(pct / 100 * (len(sorted_ms) - 1)))]


def ingest(docs: Path, index: Path, timeout: float) -> dict[str, Any]:
    cmd = [str(CLI), "ingest", str(docs), "--index", str(index), "--quiet"]
    fresh = not (index / "index.json").exists()
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=user_env(), timeout=timeout)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = proc.stdout.strip().splitlines()[-1:] or [""]
    return {"command": " ".join(cmd), "built": fresh, "wall_s": round(wall, 1), "summary": summary[0]}


def cli_wall(args: Sequence[str], runs: int) -> dict[str, Any]:
    """Wall seconds of ``pagerag ARGS`` (each run a new process), median of ``runs``."""
    walls, failures = [], []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run([str(CLI), *args], capture_output=True, text=True, env=user_env(), timeout=300)
        walls.append(time.perf_counter() - started)
        if proc.returncode != 0:
            failures.append(f"rc {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return {
        "median_s": round(statistics.median(walls), 2),
        "runs_s": [round(w, 2) for w in walls],
        "failures": failures,
    }


class Server:
    """A ``pagerag serve`` subprocess on a free loopback port."""

    def __init__(
        self,
        index: Path,
        env: dict[str, str],
        args: Sequence[str] = (),
        nodelay: bool = False,
        start_timeout: float = 300,
    ) -> None:
        cli = [sys.executable, "-c", NODELAY_SERVE] if nodelay else [str(CLI)]
        self.proc = subprocess.Popen(
            [*cli, "serve", "--index", str(index), "--port", "0", "--ingest-root", "none", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**user_env(), **env},
            preexec_fn=_die_with_parent,
        )
        self.log: list[str] = []
        self.started = time.perf_counter()
        timer = threading.Timer(start_timeout, self.proc.kill)
        timer.start()
        try:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.log.append(line)
                if line.startswith("pagerag: serving "):
                    self.url = line.split(" at ", 1)[1].split()[0]
                    break
            else:
                sys.exit("pagerag serve did not start:\n" + "".join(self.log[-40:]))
        finally:
            timer.cancel()
        threading.Thread(target=lambda: self.log.extend(self.proc.stdout or ()), daemon=True).start()
        self.ready_s = self._wait_healthy(time.monotonic() + 60) - self.started
        self.pid = self.proc.pid

    def _wait_healthy(self, deadline: float) -> float:
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).json().get("pid") == self.proc.pid:
                    return time.perf_counter()
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit(f"{self.url}/healthz did not answer within 60 s")

    def cpu_s(self) -> float:
        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def healthz_p50(url: str, n: int = 50) -> float:
    """Round trip of ``GET /healthz`` on one keep-alive connection: the HTTP floor (no model work)."""
    ms = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(n):
            started = time.perf_counter()
            client.get("/healthz")
            ms.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(ms), 1)


def client_loop(
    url: str,
    path: str,
    bodies: Sequence[dict[str, Any]],
    first: int,
    deadline: float,
    cap: int,
    timeout: float,
    out: list[tuple[float, str | None]],
) -> None:
    """One closed-loop client: a request, wait for the answer, the next; until ``deadline`` or ``cap``."""
    with httpx.Client(base_url=url, timeout=timeout) as client:
        for n in range(cap):
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            error = None
            try:
                response = client.post(path, json=bodies[(first + n) % len(bodies)])
                if response.status_code != 200:
                    error = f"HTTP {response.status_code}: {response.text[:200]}"
                elif not isinstance(response.json(), dict):
                    error = "not a JSON object"
            except (httpx.HTTPError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:200]
            out.append(((time.perf_counter() - started) * 1000, error))


def run_level(
    server: Server, endpoint: str, clients: int, queries: Sequence[str], seconds: float, timeout: float
) -> Level:
    bodies = [BODIES[endpoint](q) for q in queries]
    results: list[list[tuple[float, str | None]]] = [[] for _ in range(clients)]
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            samples.append((time.perf_counter(), vm_rss(server.pid)))

    level = Level(endpoint, clients, rss_start_mib=vm_rss(server.pid))
    sampler = threading.Thread(target=sample, daemon=True)
    cpu0, own0, box0 = server.cpu_s(), time.process_time(), busy_s()
    started = time.perf_counter()
    deadline = started + seconds
    cap = int(seconds * 200) + 1  # far above what a 2-core box serves: a bound, not a limit
    threads = [
        threading.Thread(
            target=client_loop,
            args=(
                server.url,
                f"/v1/{endpoint}",
                bodies,
                i * len(bodies) // clients,
                deadline,
                cap,
                timeout,
                results[i],
            ),
            daemon=True,
        )
        for i in range(clients)
    ]
    sampler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + timeout + 30)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    level.rss_end_mib = vm_rss(server.pid)
    level.server_cpu_pct = round(100 * (server.cpu_s() - cpu0) / wall, 1)
    level.client_cpu_pct = round(100 * (time.process_time() - own0) / wall, 1)
    level.box_cpu_pct = round(100 * (busy_s() - box0) / wall, 1)
    level.load_1m = round(os.getloadavg()[0], 2)
    level.server_threads = psutil.Process(server.pid).num_threads()
    done = [r for rs in results for r in rs]
    ms = sorted(lat for lat, err in done if err is None)
    errors = [err for _, err in done if err is not None]
    rss = [r for t, r in samples if t >= started + seconds / 4] or [level.rss_end_mib]
    level.seconds = round(wall, 1)
    level.requests, level.errors, level.error_samples = len(done), len(errors), sorted(set(errors))[:5]
    level.qps = round(len(ms) / wall, 2)
    level.p50_ms, level.p95_ms, level.p99_ms = (round(percentile(ms, p), 1) for p in (50, 95, 99))
    level.max_ms = round(ms[-1], 1) if ms else 0.0
    level.rss_quarter_mib = rss[0]
    level.rss_peak_mib = max([level.rss_start_mib, level.rss_end_mib, *(r for _, r in samples)])
    return level


def threaded(
    search: Callable[[str], object], queries: Sequence[str], threads: int, seconds: float
) -> dict[str, float]:
    """QPS and p50 of ``search`` called by ``threads`` threads in a closed loop for ``seconds``."""
    done: list[list[float]] = [[] for _ in range(threads)]
    deadline = time.perf_counter() + seconds

    def loop(i: int) -> None:
        for n in range(int(seconds * 200)):
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            search(queries[(i * len(queries) // threads + n) % len(queries)])
            done[i].append((time.perf_counter() - started) * 1000)

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 120)
    wall = time.perf_counter() - started
    ms = sorted(x for d in done for x in d)
    return {"threads": threads, "qps": round(len(ms) / wall, 2), "p50_ms": round(percentile(ms, 50), 1)}


def in_process(index: Path, queries: Sequence[str], seconds: float) -> dict[str, Any]:
    """The same searches without HTTP: serial with embedding and store timed apart, then threaded."""
    import torch

    from pagerag.pipelines.core import PageRAG

    with PageRAG.open(index) as rag:
        for q in queries[:2]:
            rag.search(q, k=5)
        embed_ms, store_ms, total_ms, cpu_ms = [], [], [], []
        for q in queries:
            t0 = time.perf_counter()
            emb = rag.index.embedder.embed_queries([q])
            t1 = time.perf_counter()
            rag.index.search_many([q], k=5, embeddings=emb)
            t2, c2 = time.perf_counter(), time.process_time()
            rag.search(q, k=5)
            t3 = time.perf_counter()
            cpu_ms.append((time.process_time() - c2) * 1000)
            embed_ms.append((t1 - t0) * 1000)
            store_ms.append((t2 - t1) * 1000)
            total_ms.append((t3 - t2) * 1000)
        search = functools.partial(rag.search, k=5)
        default_threads = torch.get_num_threads()
        runs = [{"torch_threads": default_threads, **threaded(search, queries, n, seconds)} for n in (1, 8)]
        torch.set_num_threads(1)
        runs += [{"torch_threads": 1, **threaded(search, queries, n, seconds)} for n in (1, 8)]
        torch.set_num_threads(default_threads)
    return {
        "torch_threads": default_threads,
        "queries": len(queries),
        "search_p50_ms": round(statistics.median(total_ms), 1),
        "search_p95_ms": round(percentile(sorted(total_ms), 95), 1),
        "search_cpu_ms": round(statistics.mean(cpu_ms), 1),
        "embed_p50_ms": round(statistics.median(embed_ms), 1),
        "store_p50_ms": round(statistics.median(store_ms), 1),
        "seconds": seconds,
        "threaded": runs,
    }


def environment() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    import torch

    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "httpx": httpx.__version__,
        "git": f"{git('rev-parse', '--short', 'HEAD')} (+{len(git('status', '--porcelain').splitlines())} "
        "uncommitted paths)",
        "env": {k: os.environ.get(k, "unset") for k in SHOWN_ENV},
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def targets(levels: list[Level], drift_pct: float) -> list[tuple[str, str, bool]]:
    by = {(lv.endpoint, lv.clients): lv for lv in levels}
    out = []
    if ("search", 1) in by:
        p50 = by["search", 1].p50_ms
        out.append(("warm search p50 < 100 ms, 1 client", f"{p50} ms", p50 < 100))
    if ("search", 8) in by:
        qps = by["search", 8].qps
        out.append(("search >= 15 QPS, 8 clients", f"{qps} QPS", qps >= 15))
    errors = sum(lv.errors for lv in levels)
    out.append(("0 errors", f"{errors} of {sum(lv.requests for lv in levels)} requests", errors == 0))
    drift = max(100 * (lv.rss_end_mib - lv.rss_quarter_mib) / lv.rss_quarter_mib for lv in levels)
    grown = levels[-1].rss_end_mib - levels[0].rss_start_mib
    out.append(
        (
            f"flat memory (RSS drift within a level, quarter mark -> end, < {drift_pct:g}%)",
            f"max {drift:+.1f}%; whole run {levels[0].rss_start_mib:.0f} -> {levels[-1].rss_end_mib:.0f} MiB "
            f"({grown:+.0f})",
            drift < drift_pct,
        )
    )
    return out


def markdown(report: dict[str, Any]) -> str:
    env, lines = report["environment"], []
    lines += [
        f"# pagerag serve under load: {report['index']['pages']} pages, {report['index']['documents']} "
        f"documents ({report['index']['docs']})",
        "",
        f"{env['date_utc']} UTC; {env['machine']}; Python {env['python']}, torch {env['torch']}, "
        f"httpx {env['httpx']}; git {env['git']}; load average before {env['load_before']}, after "
        f"{env['load_after']}; thread env {env['env']}; extra server env {env['server_env'] or 'none'}, "
        f"extra serve args {env['serve_args'] or 'none'}.",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Index: `{report['ingest']['command']}`: "
        f"{'built' if report['ingest']['built'] else 'up to date (hash check)'} "
        f"in {report['ingest']['wall_s']} s ({report['ingest'].get('summary', '')}). "
        f"Server ready {report['server']['ready_s']} s after its start; idle RSS "
        f"{report['server']['rss_idle_mib']} MiB; `GET /healthz` round trip p50 "
        f"{report['server']['healthz_p50_ms']} ms (one keep-alive connection).",
        "",
        f"Closed-loop clients, {report['seconds']:g} s per level; `/v1/search` k=5 hybrid, `/v1/ask` "
        "extractive k=3; latency of successful requests; CPU % of one core (200 = both cores; box: every "
        "process on the machine, so box - server - client = other work).",
        "",
        "| endpoint | clients | requests | QPS | p50 ms | p95 ms | p99 ms | max ms | errors "
        "| server RSS MiB start -> end (peak) | server CPU % | client CPU % | box CPU % | load 1m "
        "| server threads |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lv in report["levels"]:
        lines.append(
            f"| {lv['endpoint']} | {lv['clients']} | {lv['requests']} | {lv['qps']} | {lv['p50_ms']} | "
            f"{lv['p95_ms']} | {lv['p99_ms']} | {lv['max_ms']} | {lv['errors']} | "
            f"{lv['rss_start_mib']:.0f} -> {lv['rss_end_mib']:.0f} ({lv['rss_peak_mib']:.0f}) | "
            f"{lv['server_cpu_pct']} | {lv['client_cpu_pct']} | {lv['box_cpu_pct']} | {lv['load_1m']} | "
            f"{lv['server_threads']} |"
        )
    cli, names = report["cli"], [n for n in ("search", "ask") if n in report["cli"]]
    if names:
        lines += [
            "",
            f"CLI, one question (`{cli['question'][:60]}...`), wall s, median of {cli['runs']} "
            "(each run a new process):",
            "",
            "| command | no server (opens the index) | through the server |",
            "|---|---|---|",
        ]
    for name in names:
        cold, warm = cli[name]["cold"], cli[name]["served"]
        lines.append(
            f"| `{cli[name]['command']}` | {cold['median_s']} ({cold['runs_s']}) | "
            f"{warm['median_s']} ({warm['runs_s']}) |"
        )
    failures = [f for name in names for k in ("cold", "served") for f in cli[name][k]["failures"]]
    lines += [f"- CLI failure: {f}" for f in failures]
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in report["targets"]]
    if report.get("in_process"):
        d = report["in_process"]
        lines += [
            "",
            f"In process, no HTTP (`PageRAG.open(copy).search`, k=5 hybrid, {d['queries']} queries one "
            f"after another, torch threads {d['torch_threads']}): p50 {d['search_p50_ms']} ms (p95 "
            f"{d['search_p95_ms']}) = query embedding {d['embed_p50_ms']} ms + store and ranking "
            f"{d['store_p50_ms']} ms; CPU {d.get('search_cpu_ms', '-')} ms a search (all threads; compare "
            f"server CPU % x 10 / QPS above). Closed-loop threads for {d['seconds']:g} s each:",
            "",
            "| threads | torch threads | QPS | p50 ms |",
            "|---|---|---|---|",
            *(
                f"| {r['threads']} | {r['torch_threads']} | {r['qps']} | {r['p50_ms']} |"
                for r in d["threaded"]
            ),
        ]
    errs = sorted({e for lv in report["levels"] for e in lv["error_samples"]})
    lines += [f"- error: {e}" for e in errs]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="duration of each load level (default 60)")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="client counts (default 1,8,32)")
    parser.add_argument("--endpoints", default="search,ask", help="endpoints to load (default search,ask)")
    parser.add_argument("--docs", type=Path, default=DEVSET / "docs")
    parser.add_argument("--queries", type=Path, default=DEVSET / "queries.jsonl")
    parser.add_argument("--index", type=Path, default=INDEX, help="index to build or reuse")
    parser.add_argument("--cli-runs", type=int, default=3, help="runs per CLI timing (median; 0: skip)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request (then an error)")
    parser.add_argument("--drift", type=float, default=5.0, help="RSS drift %% in a level: not flat")
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE", help="extra server environment"
    )
    parser.add_argument(
        "--serve-arg", action="append", default=[], metavar="ARG", help="extra `pagerag serve` argument"
    )
    parser.add_argument(
        "--tcp-nodelay", action="store_true", help="serve with TCP_NODELAY set (the suggested fix)"
    )
    parser.add_argument("--no-diagnose", action="store_true", help="skip the in-process search timing")
    parser.add_argument("--out", type=Path, default=None, help="report stem (docs/bench/runs/DATE-serve)")
    args = parser.parse_args()

    lines = args.queries.read_text(encoding="utf-8").splitlines()
    queries = [str(json.loads(line)["query"]) for line in lines if line.strip()]
    if not queries:
        sys.exit(f"no queries in {args.queries}")
    question = queries[0]
    server_env = dict(kv.split("=", 1) for kv in args.server_env)
    env = environment()
    out = args.out or ROOT / "docs" / "bench" / "runs" / f"{env['date_utc'][:10]}-serve"
    env["server_env"] = server_env
    env["serve_args"] = args.serve_arg + (["(TCP_NODELAY shim)"] if args.tcp_nodelay else [])
    report: dict[str, Any] = {"command": " ".join([".venv/bin/python", *sys.argv]), "environment": env}
    report["ingest"] = ingest(args.docs, args.index, timeout=3600)
    print(f"index: {report['ingest']}", flush=True)

    with tempfile.TemporaryDirectory(prefix="pagerag-serve-") as tmp:
        index = Path(tmp) / "index"
        shutil.copytree(args.index, index, ignore=shutil.ignore_patterns(".lock", "server.json"))
        cli: dict[str, Any] = {"question": question, "runs": args.cli_runs}
        calls = {
            "search": ["search", question, "--index", str(index), "-k", "5"],
            "ask": ["ask", question, "--index", str(index), "-k", "3"],
        }
        if args.cli_runs < 1:
            calls = {}
        for name, call in calls.items():
            cli[name] = {"command": f"pagerag {name} QUESTION --index DIR -k {call[-1]}"}
            cli[name]["cold"] = cli_wall(call, args.cli_runs)
            print(f"cli {name}, no server: {cli[name]['cold']}", flush=True)
        server = Server(index, server_env, args.serve_arg, nodelay=args.tcp_nodelay)
        try:
            docs = httpx.get(f"{server.url}/v1/documents", timeout=30).json()["documents"]
            report["index"] = {
                "docs": str(args.docs),
                "documents": len(docs),
                "pages": sum(int(d["pages"]) for d in docs),
            }
            report["server"] = {
                "url": server.url,
                "ready_s": round(server.ready_s, 1),
                "rss_idle_mib": round(vm_rss(server.pid)),
                "healthz_p50_ms": healthz_p50(server.url),
            }
            for name, call in calls.items():
                cli[name]["served"] = cli_wall(call, args.cli_runs)
                print(f"cli {name}, through the server: {cli[name]['served']}", flush=True)
            report["cli"] = cli
            levels: list[Level] = []
            for endpoint in args.endpoints.split(","):
                with httpx.Client(base_url=server.url, timeout=args.timeout) as warm:
                    for q in queries[:3]:
                        warm.post(f"/v1/{endpoint}", json=BODIES[endpoint](q))
                for clients in (int(c) for c in args.levels.split(",")):
                    levels.append(run_level(server, endpoint, clients, queries, args.seconds, args.timeout))
                    print(json.dumps(asdict(levels[-1])), flush=True)
        finally:
            server.stop()
        report["server"]["log_tail"] = server.log[-20:]
        report["seconds"] = args.seconds
        report["levels"] = [asdict(lv) for lv in levels]
        report["targets"] = targets(levels, args.drift)
        if not args.no_diagnose:
            report["in_process"] = in_process(index, queries, min(args.seconds, 20))
    report["environment"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    text = markdown(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(text)
    print(f"wrote {out.with_suffix('.md')} and .json")


if __name__ == "__main__":
    main()
