"""The browser page: ask with a streamed, cited answer; the page viewer; search; the library; a phone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from .conftest import API_KEY, Site, screenshot

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="needs the chromium browser (apt-get install chromium; `make setup` installs it)",
)
pytest.importorskip("playwright", reason='needs playwright: pip install -e ".[dev]"')

from playwright.sync_api import Page, expect  # noqa: E402

DEMO_QUESTION = "What was the total revenue in 2023 according to the chart in the quarterly report?"
REPORT = "fjordlys_quarterly_report_q4_2023.pdf"


def ask(page: Page, site: Site, question: str) -> Any:
    page.goto(site.url + "/#ask")
    page.get_by_test_id("question").fill(question)
    page.get_by_test_id("question").press("Enter")
    answer = page.get_by_test_id("answer").last
    expect(answer).to_have_attribute("aria-busy", "false", timeout=60_000)
    return answer


def test_ask_streams_a_cited_answer(page: Page, site: Site) -> None:
    answer = ask(page, site, DEMO_QUESTION)

    expect(answer).to_contain_text("4.2")
    expect(answer).to_have_attribute("aria-live", "polite")
    citation = answer.get_by_test_id("citation").first
    expect(citation).to_have_text("1")
    expect(citation).to_have_attribute("aria-label", re.compile(rf"{REPORT}, page 2"))
    source = page.locator(".source").first
    expect(source).to_contain_text(REPORT)
    expect(source).to_contain_text("page 2")
    expect(source).to_contain_text(re.compile(r"score \d\.\d\d"))
    expect(source.locator("img")).to_have_js_property("complete", True)
    assert source.locator("img").evaluate("img => img.naturalWidth") > 0
    said = answer.inner_text()
    screenshot(page, "ask.png")

    # A follow-up is sent with the conversation so far.
    with page.expect_request("**/v1/ask") as sent:
        page.get_by_test_id("question").fill("Which quarter was highest?")
        page.get_by_role("button", name="Ask", exact=True).click()
    assert (sent.value.post_data_json or {})["history"] == [[DEMO_QUESTION, said]]
    expect(page.get_by_test_id("answer")).to_have_count(2)
    expect(page.get_by_test_id("answer").last).to_have_attribute("aria-busy", "false", timeout=60_000)


def test_a_citation_opens_its_page_with_evidence(page: Page, site: Site) -> None:
    answer = ask(page, site, DEMO_QUESTION)
    answer.get_by_test_id("citation").first.click()

    viewer = page.get_by_role("dialog")
    expect(viewer).to_be_visible()
    expect(viewer.get_by_role("heading", level=2)).to_contain_text("page 2 of 3")
    image = page.get_by_test_id("page-image")
    expect(image).to_have_attribute("alt", f"Page 2 of {REPORT}")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(viewer.locator("#page-text")).to_contain_text("Total 2023 revenue")
    expect(viewer.locator("#text-kind")).to_have_text("OCR")
    expect(viewer.get_by_role("link", name=f"Download {REPORT}")).to_be_visible()

    evidence = site.has_route("/evidence")
    highlights = page.get_by_test_id("highlight")
    if evidence:
        expect(highlights.first).to_be_visible()
        expect(highlights.and_(page.locator('[title="$4.2M"]'))).to_have_count(1)
        expect(viewer.locator("#evidence-note")).to_contain_text(re.compile(r"Highlighted: \d+ words"))
    screenshot(page, "page.png")

    viewer.get_by_role("button", name="Next →").click()
    expect(viewer.get_by_role("heading", level=2)).to_contain_text("page 3 of 3")
    expect(viewer.get_by_role("button", name="Next →")).to_be_disabled()
    page.keyboard.press("ArrowLeft")
    expect(viewer.get_by_role("heading", level=2)).to_contain_text("page 2 of 3")
    if evidence:
        expect(highlights.first).to_be_visible()
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(answer.get_by_test_id("citation").first).to_be_focused()
    if not evidence:
        pytest.skip("GET /v1/pages/{doc_id}/{page}/evidence is not served yet: no highlight to check")


def test_search_with_filters(page: Page, site: Site) -> None:
    page.goto(site.url + "/#search")
    page.get_by_label("Search for").fill("revenue quarter")
    page.get_by_label("Document").select_option(label=REPORT)
    page.get_by_label("Pages").fill("2-3")
    page.get_by_label("Language").select_option("eng")
    with page.expect_request("**/v1/search") as sent:
        page.get_by_role("button", name="Search", exact=True).click()
    filters = (sent.value.post_data_json or {})["filters"]
    assert filters["page"] == "2-3" and filters["lang"] == "eng" and len(filters["doc"]) == 64

    hits = page.get_by_test_id("hit")
    expect(hits.first).to_be_visible()
    texts = hits.all_inner_texts()
    assert texts and all(REPORT in t and re.search(r"page [23]\b", t) for t in texts), texts
    expect(page.get_by_role("status").filter(has_text="revenue quarter")).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('.hit img')].every(i => i.naturalWidth)")
    screenshot(page, "search.png")

    hits.first.get_by_role("button").click()
    expect(page.get_by_test_id("page-image")).to_be_visible()


def _pdf(path: Path, text: str) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text, fontsize=14)
    doc.save(path)
    return path


def test_upload_lists_then_removes_a_document(page: Page, site: Site, tmp_path: Path) -> None:
    note = _pdf(tmp_path / "lighthouse_note.pdf", "The lighthouse keeper counted 317 gulls on Tuesday.")
    page.goto(site.url + "/#library")
    rows = page.get_by_test_id("document")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text=REPORT)).to_contain_text("3")

    page.get_by_test_id("upload").set_input_files(note)
    expect(page.locator("#job")).to_contain_text("1 document indexed", timeout=60_000)
    mine = rows.filter(has_text="lighthouse_note.pdf")
    expect(mine).to_have_count(1)
    expect(rows).to_have_count(5)
    screenshot(page, "library.png")

    messages: list[str] = []

    def confirm(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    mine.get_by_role("button", name="Remove lighthouse_note.pdf").click()
    expect(mine).to_have_count(0)
    expect(rows).to_have_count(4)
    assert messages and "lighthouse_note.pdf" in messages[0]
    expect(page.locator("#library-status")).to_have_text("Removed lighthouse_note.pdf.")


def test_a_bad_upload_shows_its_reason(page: Page, site: Site, tmp_path: Path) -> None:
    page.goto(site.url + "/#library")
    expect(page.get_by_test_id("document")).to_have_count(4)
    # Dropped on the zone, the way a user drags a file in.
    dropped = page.evaluate_handle(
        """() => {
            const data = new DataTransfer();
            data.items.add(new File(["this is no PDF"], "broken.pdf", {type: "application/pdf"}));
            return data;
        }"""
    )
    page.locator("#drop").dispatch_event("drop", {"dataTransfer": dropped})
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"Upload refused: broken\.pdf: .+"))
    expect(page.get_by_test_id("document")).to_have_count(4)

    # Accepted, then failed by the ingest job: the job says why, and so does the library afterwards.
    blank = tmp_path / "blank.md"
    blank.write_text(" \n")
    page.get_by_test_id("upload").set_input_files(blank)
    expect(page.locator("#job")).to_contain_text("blank.md: no text in file", timeout=60_000)
    problems = page.get_by_role("region", name="Problems in recent ingest jobs")
    expect(problems).to_contain_text("blank.md: no text in file")
    expect(page.get_by_test_id("document")).to_have_count(4)
    screenshot(page, "library-problems.png")


def test_phone_width(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    try:
        answer = ask(page, site, DEMO_QUESTION)
        expect(answer).to_contain_text("4.2")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.source img')].every(i => i.naturalWidth)"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "phone.png")
        page.goto(site.url + "/#library")
        expect(page.get_by_test_id("document")).to_have_count(4)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_controls_are_labelled_and_reachable_by_keyboard(page: Page, site: Site) -> None:
    page.goto(site.url + "/")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => !e.labels?.length && !e.getAttribute('aria-label'))
            .map(e => e.id || e.outerHTML)"""
    )
    assert unlabelled == []
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Ask")).to_be_focused()
    page.get_by_role("link", name="Library").press("Enter")
    expect(page.get_by_role("heading", name="Library", level=1)).to_be_focused()
    expect(page.get_by_test_id("document")).to_have_count(4)


def test_the_page_is_offline_and_asks_for_a_key(browser: Any, keyed_site: Site) -> None:
    """Every request stays on the server; with a key, the page asks for it and images still show."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    local = (keyed_site.url, "blob:", "data:")
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(local) else elsewhere.append(r.url))
    try:
        page.goto(keyed_site.url + "/#library")
        key = page.get_by_role("dialog", name="API key")
        expect(key).to_be_visible()
        key.get_by_label("Key").fill(API_KEY)
        key.get_by_role("button", name="Save").click()
        expect(page.get_by_test_id("document")).to_have_count(4)
        page.get_by_role("button", name=REPORT, exact=True).click()
        image = page.get_by_test_id("page-image")
        expect(image).to_have_attribute("src", re.compile(r"^blob:"))
        page.wait_for_function("img => img.naturalWidth > 0", arg=image.element_handle())
    finally:
        context.close()
    assert elsewhere == []
