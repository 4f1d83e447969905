"""The HTTP API of ``pagerag serve``: FastAPI over one :class:`~pagerag.pipelines.core.PageRAG`.

Every error is ``{"error": {"code", "message"}}`` with a 4xx status for bad input; the
server keeps serving. Files are served only from inside the index directory (page images)
or the ingest root and the upload folder (source files).

Example:
    >>> app = create_app(PageRAG.open(".pagerag"), settings=Settings())  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import os
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException

from pagerag.ingest.errors import ConfigError, DocumentError, IndexClosed, PageragError
from pagerag.pipelines.core import AnswerStream, NotFound, PageRAG
from pagerag.pipelines.evidence import evidence_boxes
from pagerag.pipelines.serve.jobs import Job, Jobs
from pagerag.pipelines.serve.ui import mount_ui
from pagerag.pipelines.shapes import answer_json, document_json, hit_json, thumbnail_of
from pagerag.retriever.types import MAX_K, Hit

UPLOADS = "uploads"
_DOC_ID = re.compile(r"[0-9a-f]{8,64}")


OFFERED_LLMS = ("extractive", "none", "gemma-270m")
"""The answer models any server offers by name (they load from packaged weights)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How the server behaves.

    Attributes:
        api_key: the bearer key every ``/v1`` and ``/mcp`` call must carry (None: no key).
        ingest_root: the folder whose files ``POST /v1/ingest`` may name by path (None: uploads only).
        max_upload_bytes: the largest upload accepted.
        ingest_workers: render/OCR processes of an ingest job.
        mcp: mount the MCP server at ``/mcp/``.
        host: the address bound (off loopback, MCP's DNS-rebinding guard would refuse remote clients).
        llms: the answer models a client may ask for by name (the first one answers by default). Models
            named by path or URL are the operator's choice, never a client's.
    """

    api_key: str | None = None
    ingest_root: Path | None = None
    max_upload_bytes: int = 200 * 1024 * 1024
    ingest_workers: int = 2
    mcp: bool = True
    host: str = "127.0.0.1"
    llms: tuple[str, ...] = OFFERED_LLMS


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


Filters = dict[str, str | int | list[str | int]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchBody(_Body):
    query: str = Field(min_length=1, description="the question or keywords")
    k: int = Field(5, ge=1, le=MAX_K, description="pages to return")
    mode: Literal["hybrid", "fusion", "dense", "sparse", "multi"] = "hybrid"
    filters: Filters | None = Field(
        None, description='e.g. {"source": "reports/*.pdf", "page": "2-5", "lang": "de"}'
    )


class BatchBody(_Body):
    queries: list[str] = Field(min_length=1, max_length=256)
    k: int = Field(5, ge=1, le=MAX_K)
    mode: Literal["hybrid", "fusion", "dense", "sparse", "multi"] = "hybrid"
    filters: Filters | None = None


class AskBody(_Body):
    question: str = Field(min_length=1)
    k: int = Field(3, ge=1, le=MAX_K, description="pages given to the answer model")
    llm: str | None = Field(None, description="answer model (default: the server's)")
    history: list[tuple[str, str]] = Field(
        default_factory=list, description="earlier (question, answer) turns"
    )
    stream: bool = Field(False, description="server-sent events: token*, citations, done")
    filters: Filters | None = None


class IngestBody(_Body):
    paths: list[str] = Field(min_length=1, description="files or folders under the server's ingest root")
    sync: bool = Field(False, description="also remove documents whose files are gone from these folders")


def create_app(rag: PageRAG, settings: Settings = Settings()) -> FastAPI:
    """The API over ``rag`` (which the app closes at shutdown)."""
    index_dir = rag.index_dir.resolve()
    uploads = index_dir / UPLOADS
    jobs = Jobs(rag, workers=settings.ingest_workers)
    mounts: list[tuple[str, Any, Callable[[], Any]]] = []
    if settings.mcp:
        from pagerag.pipelines.serve.mcp import http_app

        mcp_app, mcp_lifespan = http_app(rag, host=settings.host)
        mounts.append(("/mcp", mcp_app, mcp_lifespan))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for _path, _app, enter in mounts:
                await stack.enter_async_context(enter())
            try:
                yield
            finally:
                await run_in_threadpool(jobs.close)
                rag.close()

    app = FastAPI(
        title="pagerag",
        summary="Search and ask questions over folders of documents, citing pages.",
        version=_version(),
        lifespan=lifespan,
    )
    _errors(app)
    auth = _auth(settings.api_key)
    if settings.api_key:
        for path, _mounted, _enter in mounts:
            app.middleware("http")(_guard(path, settings.api_key))
    for path, mounted, _enter in mounts:
        app.mount(path, mounted)

    def links(doc_id: str, page: int, image: Path | None) -> tuple[str | None, str | None]:
        if image is None:
            return None, None
        base = f"/v1/pages/{doc_id}/{page}"
        return f"{base}/image", f"{base}/thumbnail"

    def hits_json(hits: list[Hit]) -> list[dict[str, Any]]:
        return [hit_json(h, links) for h in hits]

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness: the server answers (no key needed)."""
        return {"status": "ok", "pid": os.getpid()}

    @app.get("/v1/documents", tags=["library"], dependencies=[auth])
    def documents() -> dict[str, Any]:
        """The documents in the index, by source."""
        return {"documents": [document_json(d) for d in rag.documents()]}

    @app.get("/v1/documents/{doc_id}", tags=["library"], dependencies=[auth])
    def document(doc_id: str) -> dict[str, Any]:
        """One document."""
        return document_json(rag.document(_doc_id(doc_id)))

    @app.get("/v1/documents/{doc_id}/file", tags=["library"], dependencies=[auth])
    def document_file(doc_id: str) -> FileResponse:
        """The source file, when it lies in the upload folder or the ingest root."""
        doc = rag.document(_doc_id(doc_id))
        path = rag.files().get(doc.doc_id)
        roots = [uploads, *([settings.ingest_root.resolve()] if settings.ingest_root else [])]
        if path is None or not _inside(path, roots):
            raise ApiError(404, "not_found", f"the file of {doc.source} is not served by this server")
        return FileResponse(path, filename=Path(doc.source).name)

    @app.delete("/v1/documents/{doc_id}", tags=["library"], dependencies=[auth])
    def remove(doc_id: str) -> dict[str, Any]:
        """Remove a document (its pages vanish from search at once)."""
        doc = rag.document(_doc_id(doc_id))
        path = rag.files().get(doc.doc_id)
        removed = rag.remove(doc.doc_id)
        if path is not None and _inside(path, [uploads]):
            path.unlink(missing_ok=True)
        return {"removed": removed}

    @app.post("/v1/search", tags=["search"], dependencies=[auth])
    def search(body: SearchBody) -> dict[str, Any]:
        """The ``k`` pages that best answer ``query`` (same fields as ``pagerag search --json``)."""
        hits = rag.search(body.query, k=body.k, mode=body.mode, filters=body.filters)
        return {"query": body.query, "hits": hits_json(hits)}

    @app.post("/v1/search/batch", tags=["search"], dependencies=[auth])
    def search_batch(body: BatchBody) -> dict[str, Any]:
        """Many queries in one call: one embedding batch, one store batch."""
        results = rag.search_many(body.queries, k=body.k, mode=body.mode, filters=body.filters)
        return {
            "results": [
                {"query": q, "hits": hits_json(h)} for q, h in zip(body.queries, results, strict=True)
            ]
        }

    @app.post("/v1/ask", tags=["answers"], dependencies=[auth], response_model=None)
    async def ask(body: AskBody) -> Any:
        """An answer citing pages; ``stream: true`` sends server-sent events (token*, citations, done)."""

        if body.llm is not None and body.llm not in settings.llms:
            raise ApiError(
                400, "bad_request", f"llm {body.llm!r} is not offered here: use {', '.join(settings.llms)}"
            )

        def answer(stream: bool) -> Any:
            return rag.ask(
                body.question,
                k=body.k,
                llm=body.llm,
                history=body.history,
                stream=stream,
                filters=body.filters,
            )

        if not body.stream:
            return answer_json(await run_in_threadpool(answer, False), links)
        return _sse(await run_in_threadpool(answer, True), links)

    @app.get("/v1/pages/{doc_id}/{page}", tags=["pages"], dependencies=[auth])
    def page(doc_id: str, page: int) -> dict[str, Any]:
        """A page's text, printed labels, language and OCR flag, with links to its image."""
        view = rag.page(_doc_id(doc_id), page)
        image, thumbnail = links(view.doc_id, view.page, view.image_path)
        return {
            "doc_id": view.doc_id,
            "source": view.source,
            "page": view.page,
            "page_count": view.page_count,
            "title": view.title,
            "label": view.labels[0] if view.labels else None,
            "labels": list(view.labels),
            "lang": view.lang,
            "ocr": view.ocr_used,
            "text": view.text,
            "width": view.width,
            "height": view.height,
            "image": image,
            "thumbnail": thumbnail,
        }

    @app.get("/v1/pages/{doc_id}/{page}/evidence", tags=["pages"], dependencies=[auth])
    def page_evidence(doc_id: str, page: int, question: str = "", answer: str = "") -> dict[str, Any]:
        """Boxes (page-image pixels) over the words of the page that the question or the answer contain."""
        view = rag.page(_doc_id(doc_id), page)
        boxes = evidence_boxes(rag.words(view.doc_id, page), question=question[:2000], answer=answer[:5000])
        width, height = _image_size(view.image_path)
        return {
            "doc_id": view.doc_id,
            "page": page,
            "width": width,
            "height": height,
            "boxes": [
                {"text": b.text, "x0": b.x0, "y0": b.y0, "x1": b.x1, "y1": b.y1, "ocr": b.ocr} for b in boxes
            ],
        }

    @app.get("/v1/pages/{doc_id}/{page}/image", tags=["pages"], dependencies=[auth])
    def page_image(doc_id: str, page: int) -> FileResponse:
        """The rendered page (JPEG)."""
        return _image(rag, index_dir, doc_id, page, thumbnail=False)

    @app.get("/v1/pages/{doc_id}/{page}/thumbnail", tags=["pages"], dependencies=[auth])
    def page_thumbnail(doc_id: str, page: int) -> FileResponse:
        """The page's thumbnail (JPEG)."""
        return _image(rag, index_dir, doc_id, page, thumbnail=True)

    @app.post("/v1/ingest", tags=["library"], dependencies=[auth], status_code=202)
    async def ingest(request: Request) -> dict[str, Any]:
        """Ingest uploads (multipart field ``files``) or ``{"paths": [...]}`` under the ingest root."""
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            saved = await _save_uploads(request, uploads, settings.max_upload_bytes)
            job = jobs.submit(
                saved, label=", ".join(p.name for p in saved), on_done=_drop_failed(rag, uploads)
            )
        elif kind.startswith("application/json"):
            try:
                body = IngestBody.model_validate_json(await request.body())
            except ValueError as exc:
                raise RequestValidationError(getattr(exc, "errors", lambda: [])()) from exc
            paths = _under_root(body.paths, settings.ingest_root)
            job = jobs.submit(paths, label=", ".join(body.paths), sync=body.sync)
        else:
            raise ApiError(415, "unsupported_media_type", 'send multipart/form-data files or JSON {"paths"}')
        return {"job": job.id, "status": f"/v1/jobs/{job.id}"}

    @app.get("/v1/jobs", tags=["library"], dependencies=[auth])
    def all_jobs() -> dict[str, Any]:
        """Ingest jobs, newest first."""
        return {"jobs": [j.as_json() for j in jobs.all()]}

    @app.get("/v1/jobs/{job_id}", tags=["library"], dependencies=[auth])
    def job(job_id: str) -> dict[str, Any]:
        """An ingest job: files done/total, pages/s, failures with reasons."""
        found = jobs.get(job_id)
        if found is None:
            raise ApiError(404, "not_found", f"no job {job_id!r}")
        return found.as_json()

    mount_ui(app)  # the web page at /
    return app


# ---------------------------------------------------------------- errors and auth


def _errors(app: FastAPI) -> None:
    def reply(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return reply(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return reply(422, "invalid_request", _validation_message(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "error"
        )
        return reply(exc.status_code, code, str(exc.detail))

    @app.exception_handler(PageragError)
    async def pagerag_error(_: Request, exc: PageragError) -> JSONResponse:
        if isinstance(exc, NotFound):
            return reply(404, "not_found", str(exc))
        if isinstance(exc, ConfigError | DocumentError):
            return reply(400, "bad_request", str(exc))
        if isinstance(exc, IndexClosed):
            return reply(503, "unavailable", str(exc))
        return reply(500, "internal", str(exc))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return reply(500, "internal", f"{type(exc).__name__}: {exc}")


def _validation_message(errors: Any) -> str:
    parts = []
    for e in list(errors)[:3]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def _auth(key: str | None) -> Any:
    def check(request: Request) -> None:
        if key and not _authorized(request.headers.get("authorization", ""), key):
            raise ApiError(401, "unauthorized", "missing or wrong API key: send 'Authorization: Bearer KEY'")

    return Depends(check)


def _authorized(header: str, key: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode())


def _guard(
    prefix: str, key: str
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path.startswith(prefix) and not _authorized(
            request.headers.get("authorization", ""), key
        ):
            message = "missing or wrong API key: send 'Authorization: Bearer KEY'"
            return JSONResponse({"error": {"code": "unauthorized", "message": message}}, status_code=401)
        return await call_next(request)

    return guard


# ---------------------------------------------------------------- files


def _doc_id(value: str) -> str:
    if not _DOC_ID.fullmatch(value):
        raise ApiError(404, "not_found", f"no document {value!r} in the index")
    return value


def _inside(path: Path, roots: list[Path]) -> bool:
    real = path.resolve()
    return any(real.is_relative_to(root.resolve()) for root in roots)


def _image_size(path: Path | None) -> tuple[int, int]:
    if path is None:
        return 0, 0
    from PIL import Image

    with Image.open(path) as image:  # reads the header only
        return image.size


def _image(rag: PageRAG, index_dir: Path, doc_id: str, page: int, *, thumbnail: bool) -> FileResponse:
    view = rag.page(_doc_id(doc_id), page)
    path = view.image_path
    if path is not None and thumbnail:
        path = thumbnail_of(path)
    if path is None or not path.exists() or not _inside(path, [index_dir]):
        raise ApiError(404, "not_found", f"{view.source} page {page} has no image")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


def _under_root(paths: list[str], root: Path | None) -> list[Path]:
    if root is None:
        raise ApiError(403, "forbidden", "this server ingests uploads only (start it with --ingest-root DIR)")
    base = root.resolve()
    out = []
    for given in paths:
        path = (base / given).resolve()
        if not path.is_relative_to(base):
            raise ApiError(403, "forbidden", f"{given!r} is outside the ingest root")
        if not path.exists():
            raise ApiError(404, "not_found", f"{given!r}: no such file or folder under the ingest root")
        out.append(path)
    return out


async def _save_uploads(request: Request, uploads: Path, limit: int) -> list[Path]:
    """Save the uploaded files into the upload folder; each is checked to be a document first."""
    from pagerag.ingest.errors import UnreadableDocument, UnsupportedFormat
    from pagerag.ingest.scan import kind_of, sniff

    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise ApiError(413, "too_large", f"the upload is larger than {limit // (1024 * 1024)} MiB")
    form = await request.form(max_files=64, max_fields=16)
    files = [f for f in form.getlist("files") if not isinstance(f, str)]
    if not files:
        raise ApiError(422, "invalid_request", "no files: send them as multipart field 'files'")
    uploads.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for upload in files:
            name = _safe_name(upload.filename or "")
            kind = kind_of(Path(name).suffix)
            if kind is None:
                raise ApiError(415, "unsupported_type", f"{name}: not a document type pagerag reads")
            fd, tmp_name = tempfile.mkstemp(dir=uploads, prefix=".upload-", suffix=Path(name).suffix)
            tmp = Path(tmp_name)
            staged.append((tmp, uploads / name))
            with os.fdopen(fd, "wb") as out:
                size = 0
                while chunk := await upload.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(
                            413, "too_large", f"{name} is larger than {limit // (1024 * 1024)} MiB"
                        )
                    out.write(chunk)
            if size == 0:
                raise ApiError(422, "unreadable", f"{name}: the file is empty")
            try:
                sniff(tmp, kind)
            except (UnsupportedFormat, UnreadableDocument) as exc:
                raise ApiError(422, "unreadable", f"{name}: {exc.reason}") from None
            problem = await run_in_threadpool(_unopenable, tmp, kind)
            if problem:
                raise ApiError(422, "unreadable", f"{name}: {problem}")
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _final in staged:
            tmp.unlink(missing_ok=True)
        await form.close()
    return [final for _tmp, final in staged]


def _unopenable(path: Path, kind: str) -> str:
    """Why a PDF or image that looks right cannot be opened ("" when it can); others are checked at ingest."""
    if kind == "pdf":
        from pagerag.ingest.formats.pdf import open_pdf

        try:
            open_pdf(path).close()
        except DocumentError as exc:
            return exc.reason
    if kind == "image":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                image.verify()
        except (OSError, UnidentifiedImageError, SyntaxError) as exc:
            return f"corrupt image ({exc})"
    return ""


def _safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name.strip()
    if not base or base in (".", "..") or base.startswith("."):
        raise ApiError(422, "invalid_request", f"bad file name {name!r}")
    return base


def _drop_failed(rag: PageRAG, uploads: Path) -> Callable[[Job], None]:
    """After an upload job: uploaded files that did not make it into the index are not kept."""

    def drop(job: Job) -> None:
        kept = set(rag.files().values())
        for path in job.paths:
            if path not in kept and _inside(path, [uploads]):
                path.unlink(missing_ok=True)

    return drop


# ---------------------------------------------------------------- streaming


def _sse(stream: AnswerStream, links: Any) -> Any:
    import json

    from sse_starlette.sse import EventSourceResponse

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            async for piece in iterate_in_threadpool(iter(stream)):
                yield {"event": "token", "data": json.dumps({"text": piece}, ensure_ascii=False)}
            body = answer_json(stream.answer, links)
        except PageragError as exc:
            yield {
                "event": "error",
                "data": json.dumps({"error": {"code": "bad_request", "message": str(exc)}}),
            }
            return
        yield {"event": "citations", "data": json.dumps(body["citations"], ensure_ascii=False)}
        yield {"event": "done", "data": json.dumps(body, ensure_ascii=False)}

    return EventSourceResponse(events(), ping=15)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pagerag")
    except PackageNotFoundError:
        return "0"
