"""The page in a real headless Chromium (Playwright) against a real server on loopback."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DOCS = REPO / "sample_docs"
SCREENSHOTS = REPO / "docs" / "ui"
CHROMIUM = shutil.which("chromium")
API_KEY = "s3cret-key"


@dataclass
class Site:
    """The API and its page, served by uvicorn in a thread."""

    url: str
    app: Any

    def has_route(self, suffix: str) -> bool:
        return any(getattr(route, "path", "").endswith(suffix) for route in self.app.routes)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` on a free loopback port until the generator is closed; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    for _ in range(600):
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def site_over(index: Path, **settings: Any) -> Iterator[Site]:
    """The API and the page over ``index`` (Settings fields as keywords)."""
    from pagerag.pipelines.core import PageRAG
    from pagerag.pipelines.serve.app import Settings, create_app

    app = create_app(PageRAG.open(index), Settings(mcp=False, ingest_workers=1, **settings))
    with serve(app) as url:
        yield Site(url, app)


@pytest.fixture(scope="module")
def sample_index(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's index of sample_docs/ (the tests upload and remove documents)."""
    index = tmp_path_factory.mktemp("web") / "index"
    shutil.copytree(sample_index, index)
    return index


@pytest.fixture(scope="module")
def site(sample_index: Path) -> Iterator[Site]:
    """The page over the sample index; the sample files are its ingest root (so they download)."""
    with site_over(sample_index, ingest_root=SAMPLE_DOCS) as site:
        yield site


@pytest.fixture(scope="module")
def keyed_site(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The page over a copy of the sample index, behind the bearer key ``API_KEY``."""
    index = tmp_path_factory.mktemp("keyed") / "index"
    shutil.copytree(sample_index, index)
    with site_over(index, api_key=API_KEY) as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system (Playwright cannot download its own here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab at desktop size; console errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, errors


def screenshot(tab: Any, name: str) -> None:
    """Save the tab's screen as docs/ui/NAME.png (the pictures in docs/ui.md) when PAGERAG_UI_SCREENSHOTS=1.

    Off by default: the library screens show times, so every run would change the committed pictures.
    """
    if os.environ.get("PAGERAG_UI_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / name))
