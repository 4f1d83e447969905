"""Slide text from .pptx decks: every shape kind, notes apart, hidden slides in place, bad decks."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.enum.shapes import MSO_SHAPE
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.opc.package import Part
from pptx.opc.packuri import PackURI
from pptx.util import Inches

from pagerag.ingest.errors import EncryptedDocument, UnreadableDocument, UnsupportedFormat
from pagerag.ingest.formats.slides import SlideText, slide_texts

_DGM_DATA = (
    '<dgm:dataModel xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><dgm:ptLst>'
    '<dgm:pt modelId="1"><dgm:t><a:bodyPr/><a:p><a:r><a:t>Collect </a:t></a:r>'
    "<a:r><a:t>receipts</a:t></a:r></a:p></dgm:t></dgm:pt>"
    '<dgm:pt modelId="2"><dgm:t><a:bodyPr/><a:p><a:r><a:t>Approve claim</a:t></a:r></a:p></dgm:t></dgm:pt>'
    "</dgm:ptLst></dgm:dataModel>"
)


def _add_smartart(slide: object) -> None:
    """A SmartArt frame as PowerPoint writes it: a graphicFrame pointing (r:dm) at a diagram data part."""
    part = Part(
        PackURI("/ppt/diagrams/data1.xml"),
        "application/vnd.openxmlformats-officedocument.drawingml.diagramData+xml",
        slide.part.package,  # type: ignore[attr-defined]
        _DGM_DATA.encode(),
    )
    rel_id = slide.part.relate_to(part, RT.DIAGRAM_DATA)  # type: ignore[attr-defined]
    frame = etree.fromstring(
        '<p:graphicFrame xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<p:nvGraphicFramePr><p:cNvPr id="99" name="Diagram 1"/><p:cNvGraphicFramePr/><p:nvPr/>'
        '</p:nvGraphicFramePr><p:xfrm><a:off x="0" y="0"/><a:ext cx="100" cy="100"/></p:xfrm>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/diagram">'
        '<dgm:relIds xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" '
        f'r:dm="{rel_id}" r:lo="" r:qs="" r:cs=""/></a:graphicData></a:graphic></p:graphicFrame>'
    )
    slide.shapes._spTree.append(frame)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prs = Presentation()
    blank, title_only = prs.slide_layouts[6], prs.slide_layouts[5]

    one = prs.slides.add_slide(title_only)
    one.shapes.title.text = "Quarterly review"
    box = one.shapes.add_textbox(Inches(1), Inches(2), Inches(4), Inches(1)).text_frame
    box.text = "First line"
    box.paragraphs[0].add_line_break()
    box.paragraphs[0].add_run().text = "same paragraph, next line"
    box.add_paragraph().text = "   "
    one.notes_slide.notes_text_frame.text = "Say hello.\nThen the numbers."

    two = prs.slides.add_slide(blank)
    two._element.set("show", "0")
    two.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1)).text_frame.text = "Hidden backup"

    three = prs.slides.add_slide(blank)
    table = three.shapes.add_table(2, 2, Inches(1), Inches(1), Inches(4), Inches(1)).table
    for (r, c), text in {(0, 0): "Region", (0, 1): "Sales", (1, 0): "North", (1, 1): "42"}.items():
        table.cell(r, c).text = text
    group = three.shapes.add_group_shape()
    group.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, Inches(1), Inches(1)).text_frame.text = "Input"
    inner = group.shapes.add_group_shape()
    inner.shapes.add_shape(MSO_SHAPE.OVAL, 0, 0, Inches(1), Inches(1)).text_frame.text = "Nested output"

    four = prs.slides.add_slide(blank)
    data = CategoryChartData()
    data.categories = ["Q1", "Q2"]
    data.add_series("Revenue", (1.5, 2.0))
    chart = four.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, 0, 0, Inches(4), Inches(3), data).chart
    chart.has_title = True
    chart.chart_title.text_frame.text = "Revenue by quarter"
    _add_smartart(four)

    prs.slides.add_slide(blank)  # an empty slide still counts
    path = tmp_path_factory.mktemp("slides") / "deck.pptx"
    prs.save(str(path))
    return path


def test_every_slide_in_deck_order_with_hidden_flag(deck: Path) -> None:
    slides = slide_texts(deck)
    assert [s.index for s in slides] == [1, 2, 3, 4, 5]
    assert [s.hidden for s in slides] == [False, True, False, False, False]
    assert slides[1].text == "Hidden backup"
    assert slides[4] == SlideText(index=5, text="", notes="", hidden=False)


def test_title_first_line_breaks_and_notes_apart(deck: Path) -> None:
    first = slide_texts(deck)[0]
    assert first.text == "Quarterly review\nFirst line\nsame paragraph, next line"
    assert first.notes == "Say hello.\nThen the numbers."
    assert "Say hello" not in first.text


def test_tables_and_nested_groups(deck: Path) -> None:
    text = slide_texts(deck)[2].text
    assert text.splitlines() == ["Region | Sales", "North | 42", "Input", "Nested output"]


def test_chart_labels_and_smartart_text(deck: Path) -> None:
    lines = slide_texts(deck)[3].text.splitlines()
    assert lines[:3] == ["Revenue by quarter", "Q1 | Q2", "Revenue: 1.5, 2"]
    assert lines[3:] == ["Collect receipts", "Approve claim"]


def test_slide_text_is_frozen(deck: Path) -> None:
    with pytest.raises(AttributeError):
        slide_texts(deck)[0].text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("content", "error", "reason"),
    [
        (b"", UnreadableDocument, "empty file"),
        (b"this is plain text, not a deck", UnsupportedFormat, "no zip signature"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), EncryptedDocument, "password-protected"),
        (b"PK\x03\x04 truncated", UnreadableDocument, "corrupt"),
    ],
    ids=["empty", "not-a-zip", "encrypted", "truncated"],
)
def test_bad_decks_name_file_and_reason(
    tmp_path: Path, content: bytes, error: type[Exception], reason: str
) -> None:
    path = tmp_path / "bad deck.pptx"
    path.write_bytes(content)
    with pytest.raises(error, match=reason) as info:
        slide_texts(path)
    assert str(path) in str(info.value)


def test_zip_without_presentation_part(tmp_path: Path) -> None:
    path = tmp_path / "other.pptx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a deck")
    with pytest.raises(UnreadableDocument, match=r"other\.pptx"):
        slide_texts(path)


def test_half_a_real_deck(deck: Path, tmp_path: Path) -> None:
    path = tmp_path / "half.pptx"
    path.write_bytes(deck.read_bytes()[: deck.stat().st_size // 2])
    with pytest.raises(UnreadableDocument, match=r"half\.pptx"):
        slide_texts(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="cannot read"):
        slide_texts(tmp_path / "gone.pptx")
