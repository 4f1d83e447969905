"""Generate pagerag's sample documents (the output is committed in sample_docs/).

Run from the repository root with the project's Python::

    .venv/bin/python scripts/make_sample_docs.py

The output is byte-for-byte reproducible (fixed dates, fixed zip timestamps, no random ids),
so re-running it leaves git and an existing index unchanged. Every fact is fictional and
appears on exactly one page; the script checks the properties the demo relies on (the chart's
total is not in any text layer, the scan has no text layer) before it finishes.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from pathlib import Path

import pymupdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_CONNECTOR, MSO_SHAPE
from pptx.oxml.ns import qn
from pptx.util import Inches, Pt

OUT = Path(__file__).resolve().parents[1] / "sample_docs"
PDF_DATE = "D:20240315090000Z"
ZIP_DATE = (2024, 3, 15, 9, 0, 0)
A4 = pymupdf.paper_rect("a4")

REPORT = "fjordlys_quarterly_report_q4_2023.pdf"
DECK = "seasense_production_flow.pptx"
SCAN = "crane_inspection_memo_scan.pdf"
GERMAN = "stadtwerke_kesselbrunn_jahresbericht_2023.pdf"

QUARTERS = {"Q1": 0.8, "Q2": 0.9, "Q3": 1.1, "Q4": 1.4}  # sums to 4.2
CHART_TOTAL = "Total 2023 revenue: $4.2M"

CSS = (
    "* {font-family: sans-serif; font-size: 11pt; line-height: 1.35;}"
    " h1 {font-size: 20pt;} h2 {font-size: 15pt;}"
)


def _save_pdf(doc: pymupdf.Document, name: str, title: str) -> Path:
    doc.set_metadata(
        {"title": title, "author": "pagerag sample_docs", "creationDate": PDF_DATE, "modDate": PDF_DATE}
    )
    path = OUT / name
    doc.save(path, garbage=4, deflate=True, no_new_id=True, reproducible=True)
    doc.close()
    return path


def _html_page(doc: pymupdf.Document, html: str, top: float = 60) -> pymupdf.Page:
    page = doc.new_page(width=A4.width, height=A4.height)
    page.insert_htmlbox(pymupdf.Rect(60, top, A4.width - 60, A4.height - 60), html, css=CSS)
    return page


def chart_png() -> bytes:
    """A bar chart whose numbers (and the year's total) exist only as pixels."""
    width, height = 1400, 900
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=52)
    label_font = ImageFont.load_default(size=40)
    total_font = ImageFont.load_default(size=56)
    draw.text(
        (width // 2, 50), "Quarterly revenue 2023 (USD millions)", font=title_font, fill="black", anchor="mt"
    )
    base, left, top = 720, 160, 190
    draw.line((left - 20, base, width - 100, base), fill="black", width=4)
    scale = (base - top) / 1.6
    bar, gap = 180, 90
    for i, (quarter, value) in enumerate(QUARTERS.items()):
        x0 = left + i * (bar + gap) + 40
        y0 = base - value * scale
        draw.rectangle((x0, y0, x0 + bar, base), fill=(31, 96, 160))
        draw.text((x0 + bar / 2, y0 - 12), f"${value:.1f}M", font=label_font, fill="black", anchor="mb")
        draw.text((x0 + bar / 2, base + 16), quarter, font=label_font, fill="black", anchor="mt")
    draw.rectangle((300, 800, 1100, 880), outline=(31, 96, 160), width=4)
    draw.text((width // 2, 840), CHART_TOTAL, font=total_font, fill="black", anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def make_report() -> Path:
    doc = pymupdf.open()
    _html_page(
        doc,
        "<h1>Fjordlys Instruments AS</h1><h2>Quarterly report Q4 2023</h2>"
        "<p>Fjordlys Instruments builds the SeaSense depth sensor for fishing fleets and research vessels. "
        "In 2023 we moved SeaSense production from a rented hall in Molde to our own plant in Ålesund, "
        "which opened on 4 September 2023.</p>"
        "<p>This quarterly report closes the year 2023. Revenue grew in every quarter of the year; "
        "the revenue figures are shown in the chart in Figure 1 on the next page.</p>"
        "<p>Our largest new customer is the Lofoten Cod Cooperative, which ordered SeaSense units "
        "for its entire fleet of 31 trawlers.</p>",
    )
    page = _html_page(doc, "<h2>Revenue by quarter</h2>")
    page.insert_image(
        pymupdf.Rect(60, 110, A4.width - 60, 110 + (A4.width - 120) * 900 / 1400), stream=chart_png()
    )
    page.insert_htmlbox(
        pymupdf.Rect(60, 480, A4.width - 60, 560),
        "<p><i>Figure 1. Quarterly revenue of Fjordlys Instruments in 2023. "
        "Source: Fjordlys finance team.</i></p>",
        css=CSS,
    )
    _html_page(
        doc,
        "<h2>People and outlook</h2>"
        "<p>Headcount rose from 212 to 248 employees during 2023, most of them in the Ålesund plant.</p>"
        "<p>The board approved a dividend of NOK 3.10 per share. For 2024 the plan is a second "
        "production line for the new SeaSense X2 sensor, rated for depths down to 1,800 metres.</p>",
    )
    return _save_pdf(doc, REPORT, "Fjordlys Instruments AS - Quarterly report Q4 2023")


def _box(slide: object, text: str, left: float, top: float, fill: RGBColor) -> object:
    shape = slide.shapes.add_shape(
        MSO_SHAPE.ROUNDED_RECTANGLE, Inches(left), Inches(top), Inches(2.05), Inches(1.2)
    )  # type: ignore[attr-defined]
    shape.fill.solid()
    shape.fill.fore_color.rgb = fill
    shape.line.color.rgb = RGBColor(0x1F, 0x3A, 0x5F)
    shape.text_frame.text = text
    shape.text_frame.word_wrap = True
    for paragraph in shape.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(14)
            run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
    return shape


def _arrow(slide: object, start: object, end: object, start_site: int, end_site: int) -> None:
    connector = slide.shapes.add_connector(MSO_CONNECTOR.STRAIGHT, 0, 0, 0, 0)  # type: ignore[attr-defined]
    connector.begin_connect(start, start_site)
    connector.end_connect(end, end_site)
    connector.line.width = Pt(2.5)
    connector.line.color.rgb = RGBColor(0x1F, 0x3A, 0x5F)
    line = connector.line._get_or_add_ln()
    line.append(line.makeelement(qn("a:tailEnd"), {"type": "triangle", "w": "med", "len": "med"}))


def make_deck() -> Path:
    prs = Presentation()
    title_slide, title_only = prs.slide_layouts[0], prs.slide_layouts[5]

    first = prs.slides.add_slide(title_slide)
    first.shapes.title.text = "SeaSense production flow"
    first.placeholders[1].text = "Fjordlys Instruments - operations review, March 2024"
    first.notes_slide.notes_text_frame.text = (
        "Welcome. This deck walks through how a SeaSense sensor is built."
    )

    flow = prs.slides.add_slide(title_only)
    flow.shapes.title.text = "From hull casting to shipping"
    blue, teal = RGBColor(0x2E, 0x6D, 0xA4), RGBColor(0x1B, 0x8A, 0x7A)
    steps = [
        _box(flow, "1. Hull casting (Ålesund plant)", 0.3, 2.6, blue),
        _box(flow, "2. Sensor calibration", 2.75, 2.6, blue),
        _box(flow, "3. Pressure test at 600 bar", 5.2, 2.6, blue),
        _box(flow, "4. Shipping via Bergen hub", 7.65, 2.6, blue),
    ]
    for start, end in itertools.pairwise(steps):
        _arrow(flow, start, end, 3, 1)
    rework = _box(flow, "Rework bench", 5.2, 5.0, teal)
    _arrow(flow, steps[2], rework, 2, 0)
    _arrow(flow, rework, steps[1], 1, 2)
    flow.notes_slide.notes_text_frame.text = (
        "Calibration is the bottleneck: each unit spends 47 minutes in the calibration tank. "
        "Units that fail the pressure test go to the rework bench and back to calibration."
    )

    backup = prs.slides.add_slide(title_only)
    backup.shapes.title.text = "Backup: calibration tank capacity"
    backup.shapes.add_textbox(
        Inches(1), Inches(2.2), Inches(8), Inches(2)
    ).text_frame.text = "Tank B holds 12 sensors at once; tank C (ordered) will hold 20."
    backup._element.set("show", "0")  # a hidden slide: it must still be page 3
    backup.notes_slide.notes_text_frame.text = "Hidden backup slide, shown only when asked about capacity."

    output = prs.slides.add_slide(title_only)
    output.shapes.title.text = "Weekly output, February 2024"
    rows = [
        ("Week", "Units shipped", "Rework rate"),
        ("6", "118", "4%"),
        ("7", "126", "3%"),
        ("8", "131", "2%"),
    ]
    table = output.shapes.add_table(len(rows), 3, Inches(1), Inches(2.0), Inches(8), Inches(2.4)).table
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    output.notes_slide.notes_text_frame.text = "Week 8 set a record for units shipped."

    prs.core_properties.title = "SeaSense production flow"
    prs.core_properties.author = "pagerag sample_docs"
    buffer = io.BytesIO()
    prs.save(buffer)
    return _write_zip_reproducibly(buffer.getvalue(), OUT / DECK)


def _write_zip_reproducibly(data: bytes, path: Path) -> Path:
    """Rewrite a zip with fixed timestamps (python-pptx stamps the current time)."""
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(item.filename))
    return path


def make_scan() -> Path:
    """A typed memo, printed and scanned: grey JPEG, slightly rotated, no text layer."""
    memo = pymupdf.open()
    _html_page(
        memo,
        "<h2>Fjordlys quay - crane inspection memo</h2>"
        "<p>Date: 14 March 2024<br>Inspector: Ingrid Solberg, Havnevesen Certification</p>"
        "<p>Harbour crane No. 7 on the Fjordlys quay passed its annual load test today. "
        "The crane lifted the certified test weight of 42 tonnes at a radius of 18 metres "
        "without any fault.</p>"
        "<p>The hoist rope was replaced because of wear found on the outer strands. "
        "The next inspection is due in September 2024.</p>"
        "<p>Signed: I. Solberg</p>",
        top=90,
    )
    pixmap = memo[0].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
    memo.close()
    image = Image.open(io.BytesIO(pixmap.tobytes("png"))).convert("L")
    image = image.rotate(0.6, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(0.4))
    image = image.point(lambda v: min(255, v + 12) if v > 128 else v)  # a slightly grey paper
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    scan = pymupdf.open()
    page = scan.new_page(width=A4.width, height=A4.height)
    page.insert_image(page.rect, stream=buffer.getvalue())
    return _save_pdf(scan, SCAN, "Scanned memo")


def make_german() -> Path:
    doc = pymupdf.open()
    _html_page(
        doc,
        "<h1>Stadtwerke Kesselbrunn</h1><h2>Jahresbericht 2023 (Auszug)</h2>"
        "<p>Das Wasserwerk Kesselbrunn förderte im Jahr 2023 insgesamt 3,7 Millionen Kubikmeter "
        "Trinkwasser aus drei Tiefbrunnen am Südufer der Kessel.</p>"
        "<p>Der Anteil erneuerbarer Energie am Strommix der Stadtwerke stieg von 54 auf 68 Prozent, "
        "vor allem dank des neuen Solarparks Ziegelhütte mit 9,5 Megawatt Spitzenleistung.</p>"
        "<p>Die neue Fernwärmeleitung zur Altstadt ist 5,6 Kilometer lang und versorgt seit "
        "November 2023 rund 1.900 Haushalte.</p>"
        "<p>Für 2024 plant der Aufsichtsrat die Sanierung des Hochbehälters Galgenberg; die "
        "Kosten werden auf 2,3 Millionen Euro geschätzt.</p>",
    )
    return _save_pdf(doc, GERMAN, "Stadtwerke Kesselbrunn - Jahresbericht 2023")


def check(paths: list[Path]) -> None:
    """The properties the demo relies on; fail loudly if a change breaks one."""
    with pymupdf.open(OUT / REPORT) as report:
        text = " ".join(page.get_text() for page in report)
        assert report.page_count == 3
        for needle in ("4.2", "$4", "0.8", "1.4", "Total 2023"):
            assert needle not in text, f"{needle!r} leaked into the report's text layer"
        assert report[1].get_images(), "the chart image is missing"
    with pymupdf.open(OUT / SCAN) as scan:
        assert scan.page_count == 1 and not scan[0].get_text().strip(), "the scan must have no text layer"
    deck = Presentation(str(OUT / DECK))
    assert [s._element.get("show") for s in deck.slides] == [None, None, "0", None]
    total = sum(p.stat().st_size for p in OUT.iterdir() if p.is_file())
    assert total < 2 * 1024 * 1024, f"sample_docs is {total} bytes (limit 2 MB)"
    for path in paths:
        print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")


def main() -> None:
    paths = [make_report(), make_deck(), make_scan(), make_german()]
    check(paths)


if __name__ == "__main__":
    main()
