"""Ray for the distributed tests: a local Ray in this process, or a cluster of two nodes on loopback.

Both are real Ray (``ray[data]``, the ``[ray]`` extra); the tests skip without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RAY = Path(sys.executable).with_name("ray")
_STORE = str(200 * 1024 * 1024)  # object store per node: small, this machine runs other work


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """``ray.init(num_cpus=2)`` in this process, for the module's tests."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=int(_STORE),
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A head node (2 CPUs) and a worker node (1 CPU) started with ``ray start`` on loopback; its address."""
    pytest.importorskip("ray")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # unix socket paths must stay short
    common = ["--block", "--node-ip-address=127.0.0.1", f"--object-store-memory={_STORE}"]
    head = f"--head --port={port} --num-cpus=2 --include-dashboard=false --temp-dir={temp}".split()
    nodes = [_ray_start(*head, *common)]
    try:
        _wait_for(address, nodes=1)
        nodes.append(_ray_start(f"--address={address}", "--num-cpus=1", *common))
        _wait_for(address, nodes=2)
        yield address
    finally:
        for proc in reversed(nodes):  # each node's process group: its raylet, its workers
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10  # ray start stops its processes on SIGTERM, given time
        for proc in nodes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for proc in nodes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever outlived its ray start
        shutil.rmtree(temp, ignore_errors=True)


def _ray_start(*args: str) -> subprocess.Popen[bytes]:
    """``ray start ARGS`` in its own session (so that its process group can be ended, and only it).

    Token authentication is off: the cluster listens on loopback only, for this test run.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    return subprocess.Popen(
        [str(RAY), "start", "--disable-usage-stats", *args],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(address: str, *, nodes: int, timeout: float = 120) -> None:
    """Until ``nodes`` nodes are alive in the cluster at ``address`` (asked from a child process)."""
    probe = (
        "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
        "print(sum(1 for n in ray.nodes() if n['Alive']))"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-c", probe, address], capture_output=True, text=True, timeout=60, check=False
        )
        if out.returncode == 0 and out.stdout.strip().isdigit() and int(out.stdout.strip()) >= nodes:
            return
        time.sleep(1)
    raise TimeoutError(f"the Ray cluster at {address} did not get {nodes} node(s) in {timeout:.0f} s")
