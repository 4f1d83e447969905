"""The browser page of ``pagerag serve``: ask with cited pages, read a page, search, manage the library.

The page is plain HTML, CSS and one small script shipped inside the package (``web/``): no
build step and nothing fetched from elsewhere, so it works offline. It calls the ``/v1``
API like any other client (with the bearer key when the server wants one); the page and
its assets need no key, they hold no data.

Example:
    >>> app = create_app(PageRAG.open(".pagerag"))  # doctest: +SKIP
    >>> mount_ui(app)  # the page at http://127.0.0.1:8000/  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from pagerag.ingest.scan import READABLE_SUFFIXES

# resolve(): a strict editable install links each file, and StaticFiles refuses links that leave its folder.
WEB = Path(__file__).resolve().parent / "web"

# Only this origin: the page must never depend on (or leak to) the network.
_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def mount_ui(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets at ``/ui/...`` on ``app``.

    Args:
        app: the API app (:func:`~pagerag.pipelines.serve.app.create_app`).

    Example:
        >>> mount_ui(app)  # doctest: +SKIP
        >>> httpx.get("http://127.0.0.1:8000/").headers["content-type"]  # doctest: +SKIP
        'text/html; charset=utf-8'
    """
    suffixes = sorted(READABLE_SUFFIXES)
    page = (WEB / "index.html").read_text(encoding="utf-8").replace("__ACCEPT__", ",".join(suffixes))
    headers = {"Content-Security-Policy": _POLICY, "Cache-Control": "no-cache"}

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)

    app.mount("/ui", StaticFiles(directory=WEB), name="ui")
