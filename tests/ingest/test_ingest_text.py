"""Text normalisation (detached accents, ligatures, presentation forms) and the garbled-text score."""

from __future__ import annotations

import pytest

from pagerag.ingest.text import normalize, text_quality


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("pile `a citron", "pile à citron"),
        ("Befehls¨ubersicht", "Befehlsübersicht"),
        ("d´ej`a vu, caf´e", "déjà vu, café"),
        ("Fran¸cais, garc¸on", "Français, garçon"),
        ("Na¨ıve", "Naïve"),
        ("ﬁnal ﬂow", "final flow"),
        ("ﻣﺮﺣﺒﺎ", "مرحبا"),  # Arabic presentation forms, as Persian PDFs emit them
        ("exam-\nple", "example"),
        ("a\x00b\u00adc", "abc"),
        ("http://x.org/˜user", "http://x.org/~user"),
        ("x^2 and a~b", "x^2 and a~b"),
    ],
)
def test_normalize_repairs_pdf_text(raw: str, clean: str) -> None:
    assert normalize(raw) == clean


def test_normalize_keeps_layout_lines_but_squeezes_blank_runs() -> None:
    assert normalize("a  b\t c\n\n\n\nd\r\ne") == "a b c\n\nd\ne"


def test_quality_separates_garbled_from_real_text() -> None:
    prose = "The committee approved the budget for the new library and the harbour bridge."
    table = "Children age 0-5 months .......... 76.9 80.0 NA NA\nTotal fertility rate 2.1 2.4"
    code = r"\documentclass{article} \usepackage{graphicx} \begin{document} Inhalt \end{document}"
    garbled = "tl1e ,~ q§ :i Wr| ,,; ^^ 1l1 frrn ~~ ;:; ¦¦ rn| xq"
    assert text_quality(prose) > 0.9
    assert text_quality(table) > 0.7
    assert text_quality(code) > 0.7
    assert text_quality(garbled) < 0.3
    assert text_quality("") == 1.0
