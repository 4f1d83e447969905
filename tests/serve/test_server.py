"""`pagerag serve` as clients see it: a real server process on loopback over a real index."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import httpx
import pymupdf
import pytest
from schema_check import SCHEMA, conforms

from .conftest import DEMO_QUESTION, Server, pagerag

HIT_FIELDS = {"doc_id", "source", "page", "label", "score", "image", "thumbnail", "snippet", "title"}


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    conforms(body, "error")
    message: str = body["error"]["message"]
    assert "\n" not in message and "Traceback" not in message
    return message


def _pdf(path: Path, text: str) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    doc.save(path)
    return path


def _sse(response: httpx.Response) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    events, event, data = [], "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                events.append((event, json.loads("\n".join(data))))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return events


def _wait_job(client: httpx.Client, status_url: str) -> dict:  # type: ignore[type-arg]
    for _ in range(600):
        job: dict = client.get(status_url).json()  # type: ignore[type-arg]
        if job["state"] in ("done", "failed"):
            return job
        threading.Event().wait(0.2)
    raise AssertionError(f"job never ended: {job}")


@pytest.fixture(scope="module")
def client(served: Server):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=served.url, timeout=120) as c:
        yield c


def test_health_documents_and_openapi(client: httpx.Client) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    docs = client.get("/v1/documents").json()["documents"]
    conforms(docs, "documents")
    assert len(docs) == 4 and {"doc_id", "source", "pages", "title", "kind", "indexed_at"} == set(docs[0])
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/search", "/v1/search/batch", "/v1/ask", "/v1/ingest", "/v1/jobs/{job_id}"):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_responses_do_not_wait_for_delayed_acks(served: Server) -> None:
    with httpx.Client(base_url=served.url) as one_connection:
        one_connection.get("/healthz")
        started = time.perf_counter()
        for _ in range(20):
            one_connection.get("/healthz")
        assert time.perf_counter() - started < 0.5  # about 0.9 s when each response waits 40 ms


def test_search_and_batch_return_the_one_hit_shape(client: httpx.Client) -> None:
    found = client.post("/v1/search", json={"query": "total revenue 2023", "k": 3}).json()
    conforms(found, "search")
    assert len(found["hits"]) == 3 and all(set(h) == HIT_FIELDS for h in found["hits"])
    top = found["hits"][0]
    assert (top["source"], top["page"]) == ("fjordlys_quarterly_report_q4_2023.pdf", 2)
    assert client.get(top["image"]).headers["content-type"] == "image/jpeg"
    assert client.get(top["thumbnail"]).content[:2] == b"\xff\xd8"
    batch = client.post(
        "/v1/search/batch", json={"queries": ["revenue 2023", "crane load test"], "k": 2}
    ).json()
    conforms(batch, "search_batch")
    assert [len(r["hits"]) for r in batch["results"]] == [2, 2]
    assert batch["results"][1]["hits"][0]["source"] == "crane_inspection_memo_scan.pdf"
    only = client.post(
        "/v1/search", json={"query": "revenue", "k": 5, "filters": {"source": "stadtwerke*", "page": "1-1"}}
    ).json()
    assert {h["source"] for h in only["hits"]} == {"stadtwerke_kesselbrunn_jahresbericht_2023.pdf"}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"query": "revenue", "k": 0}, 422, "k"),
        ({"query": "revenue", "k": 10_000}, 422, "k"),
        ({"query": ""}, 422, "query"),
        ({"query": "   "}, 400, "empty"),
        ({"k": 3}, 422, "query"),
        ({"query": "revenue", "mode": "psychic"}, 422, "mode"),
        ({"query": "revenue", "filters": {"colour": "red"}}, 400, "unknown filter field 'colour'"),
        ({"query": "revenue", "filters": {"page": "five"}}, 400, "page=N"),
        ({"query": "revenue", "surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_search_requests_get_a_4xx_with_a_json_error(
    client: httpx.Client,
    body: dict,
    status: int,
    needle: str,  # type: ignore[type-arg]
) -> None:
    assert needle in _error(client.post("/v1/search", json=body), status)


def test_malformed_json_and_unknown_routes(client: httpx.Client) -> None:
    bad = client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"})
    _error(bad, 422)
    _error(client.get("/v1/nothing"), 404)
    _error(client.post("/v1/documents"), 405)
    assert client.get("/healthz").status_code == 200  # still serving


def test_ask_json_and_stream(client: httpx.Client) -> None:
    answer = client.post("/v1/ask", json={"question": DEMO_QUESTION}).json()
    conforms(answer, "answer")
    assert "4.2" in answer["answer"] and answer["answered"] is True
    cited = answer["citations"][0]
    assert (cited["n"], cited["source"], cited["page"]) == (1, "fjordlys_quarterly_report_q4_2023.pdf", 2)
    with client.stream("POST", "/v1/ask", json={"question": DEMO_QUESTION, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse(response)
    kinds = [e for e, _ in events]
    conforms(events[-1][1], "answer")
    assert kinds[0] == "token" and kinds[-2:] == ["citations", "done"]
    assert "".join(d["text"] for e, d in events if e == "token") == events[-1][1]["answer"]
    assert events[-2][1][0]["page"] == 2
    follow = client.post(
        "/v1/ask", json={"question": "And in 2022?", "history": [[DEMO_QUESTION, answer["answer"]]]}
    ).json()
    assert follow["search_query"] != "And in 2022?"  # the history made the follow-up standalone
    assert "4xx" not in _error(client.post("/v1/ask", json={"question": "q", "llm": "hf:/etc"}), 400)
    _error(client.post("/v1/ask", json={"question": ""}), 422)


def test_evidence_boxes_mark_the_answer_on_the_cited_page(client: httpx.Client) -> None:
    answer = client.post("/v1/ask", json={"question": DEMO_QUESTION}).json()
    cited = answer["citations"][0]
    evidence = client.get(
        f"/v1/pages/{cited['doc_id']}/{cited['page']}/evidence",
        params={"question": DEMO_QUESTION, "answer": answer["answer"]},
    ).json()
    width, height, boxes = evidence["width"], evidence["height"], evidence["boxes"]
    assert width > 0 and height > 0 and any("4.2" in b["text"] for b in boxes)
    assert all(0 <= b["x0"] < b["x1"] <= width and 0 <= b["y0"] < b["y1"] <= height for b in boxes)
    _error(client.get(f"/v1/pages/{cited['doc_id']}/99/evidence", params={"question": "q"}), 404)


def test_a_client_that_disconnects_mid_stream_leaves_the_server_serving(client: httpx.Client) -> None:
    with client.stream("POST", "/v1/ask", json={"question": DEMO_QUESTION, "stream": True}) as response:
        next(response.iter_lines())
    assert client.post("/v1/search", json={"query": "revenue", "k": 1}).status_code == 200


def test_pages_and_path_traversal(client: httpx.Client, served: Server) -> None:
    doc = next(d for d in client.get("/v1/documents").json()["documents"] if d["pages"] == 3)
    page = client.get(f"/v1/pages/{doc['doc_id']}/2").json()
    assert page["page"] == 2 and "4.2" in page["text"] and page["ocr"] in (True, False)
    assert {"text", "labels", "lang", "ocr", "image", "thumbnail"} <= set(page)
    scanned = next(d for d in client.get("/v1/documents").json()["documents"] if "scan" in d["source"])
    assert client.get(f"/v1/pages/{scanned['doc_id']}/1").json()["ocr"] is True
    _error(client.get(f"/v1/pages/{doc['doc_id']}/0"), 404)
    _error(client.get(f"/v1/pages/{doc['doc_id']}/99/image"), 404)
    _error(client.get(f"/v1/pages/{'0' * 64}/1"), 404)
    _error(
        client.get(f"/v1/documents/{doc['doc_id']}/file"), 404
    )  # outside the upload folder and ingest root
    secret = served.index.parent / "secret.txt"
    secret.write_text("TOP SECRET")
    for attack in (
        "/v1/pages/..%2F..%2Fsecret.txt/1/image",
        "/v1/pages/%2e%2e/1",
        "/v1/pages/../../secret.txt",
        f"/v1/pages/{doc['doc_id']}/..%2F..%2F..%2Fsecret.txt",
        "/v1/documents/..%2Fsecret.txt/file",
        "/v1/documents/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/v1/jobs/..%2F..%2Fsecret.txt",
    ):
        response = client.get(attack)
        assert response.status_code in (404, 405, 422), attack
        assert "TOP SECRET" not in response.text
    response = client.post("/v1/ingest", json={"paths": ["../index/catalog.sqlite"]})
    assert "outside the ingest root" in _error(response, 403)
    assert "outside" in _error(client.post("/v1/ingest", json={"paths": [str(secret)]}), 403)


def test_upload_ingest_search_remove(client: httpx.Client, served: Server, tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "zebra.pdf", "Zebra census 2024: 1,234 zebras crossed the Mara river.")
    with pdf.open("rb") as fh:
        started = client.post("/v1/ingest", files={"files": ("zebra.pdf", fh, "application/pdf")})
    assert started.status_code == 202
    job = _wait_job(client, started.json()["status"])
    conforms({k: job[k] for k in SCHEMA["$defs"]["ingest_report"]["required"]}, "ingest_report")
    assert job["state"] == "done" and job["indexed"] == 1 and job["files_done"] == job["files_total"] == 1
    assert job["pages_per_second"] > 0 and job["failed"] == []
    hit = client.post("/v1/search", json={"query": "zebra census", "k": 1}).json()["hits"][0]
    assert hit["source"] == "zebra.pdf"
    assert client.get(f"/v1/documents/{hit['doc_id']}/file").content[:4] == b"%PDF"
    assert client.delete(f"/v1/documents/{hit['doc_id']}").json() == {"removed": [hit["doc_id"]]}
    assert all(d["source"] != "zebra.pdf" for d in client.get("/v1/documents").json()["documents"])
    assert not (served.index / "uploads" / "zebra.pdf").exists()
    _error(client.delete(f"/v1/documents/{hit['doc_id']}"), 404)


@pytest.mark.parametrize(
    ("name", "content", "status", "needle"),
    [
        ("broken.pdf", b"this is not a pdf at all", 422, "broken.pdf"),
        ("empty.pdf", b"", 422, "empty"),
        ("notes.exe", b"MZ\x90\x00", 415, "not a document"),
        ("../../escape.pdf", b"%PDF-1.4 nonsense", 422, "escape.pdf"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_kept(
    client: httpx.Client, served: Server, name: str, content: bytes, status: int, needle: str
) -> None:
    before = client.get("/v1/documents").json()
    response = client.post("/v1/ingest", files={"files": (name, content, "application/octet-stream")})
    assert needle in _error(response, status)
    uploads = served.index / "uploads"
    assert not uploads.exists() or not [p for p in uploads.iterdir() if p.name != "zebra.pdf"]
    assert not (served.index.parent / "escape.pdf").exists()
    assert client.get("/v1/documents").json() == before


def test_wrong_content_types_and_no_files(client: httpx.Client) -> None:
    _error(client.post("/v1/ingest", content=b"x", headers={"content-type": "text/plain"}), 415)
    _error(client.post("/v1/ingest", data={"other": "x"}, files={"f": ("a.pdf", b"%PDF")}), 422)
    _error(client.post("/v1/ingest", json={"paths": []}), 422)


def test_concurrent_readers_and_ingest_while_searching(client: httpx.Client, served: Server) -> None:
    root = served.index.parent / "root"
    for i in range(3):
        _pdf(root / f"fleet{i}.pdf", f"Fleet report {i}: vessel {i} logged {100 + i} nautical miles.")
    job = client.post("/v1/ingest", json={"paths": ["."]}).json()
    codes: list[int] = []

    def reader() -> None:
        with httpx.Client(base_url=served.url, timeout=120) as own:
            for _ in range(5):
                codes.append(own.post("/v1/search", json={"query": "total revenue 2023", "k": 3}).status_code)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 40
    assert _wait_job(client, job["status"])["indexed"] == 3
    top = client.post("/v1/search", json={"query": "vessel 2 nautical miles", "k": 1}).json()["hits"][0]
    assert top["source"] == "fleet2.pdf"


def test_the_cli_goes_through_the_server(served: Server) -> None:
    index = str(served.index)
    found = pagerag("search", "total revenue 2023", "--index", index, "-k", "2", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["page"] == 2
    asked = pagerag("ask", DEMO_QUESTION, "--index", index)
    assert asked.returncode == 0 and "4.2" in asked.stdout and "Sources:" in asked.stdout
    listed = pagerag("list", "--index", index)
    assert listed.returncode == 0 and "fjordlys_quarterly_report_q4_2023.pdf" in listed.stdout
    docs = served.index.parent / "root" / "cli"
    docs.mkdir()
    _pdf(docs / "otter.pdf", "Otter survey: 57 otters were counted along the Tay in spring.")
    ingested = pagerag("ingest", str(docs), "--index", index)
    assert ingested.returncode == 0, ingested.stderr
    assert "through pagerag serve" in ingested.stderr and "1 indexed" in ingested.stdout
    assert "otter.pdf" in pagerag("search", "otters counted", "--index", index, "-k", "1").stdout
    removed = pagerag("remove", "otter.pdf", "--index", index)
    assert removed.returncode == 0 and removed.stdout.startswith("removed ")
    assert "otter.pdf" not in pagerag("list", "--index", index).stdout
    outside = pagerag("ingest", str(served.index.parent), "--index", index, "--quiet")
    assert outside.returncode == 1 and "outside the ingest root" in outside.stderr


def test_a_stale_record_is_ignored_and_a_second_process_is_told_to_serve(
    sample_index: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    (index / "server.json").write_text(
        json.dumps({"url": "http://127.0.0.1:9", "pid": 2**22 + 7, "key_required": False})
    )
    found = pagerag("search", "revenue", "--index", str(index), "-k", "1")
    assert found.returncode == 0 and "fjordlys" in found.stdout
    from pagerag.pipelines.core import PageRAG

    with PageRAG.open(index):
        second = pagerag("search", "revenue", "--index", str(index), "-k", "1")
    assert second.returncode == 1 and "pagerag serve --index" in second.stderr
    assert "Traceback" not in second.stderr
