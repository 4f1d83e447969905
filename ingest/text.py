"""Text normalisation and quality checks for page text.

PDF text layers come out damaged in a few recurring ways: LaTeX documents set
accents as separate glyphs ("pile `a" for "pile à", "Befehls¨ubersicht"), Arabic
script PDFs emit presentation-form ligatures, OCR layers of old scans are garbled.
:func:`normalize` repairs what can be repaired; :func:`text_quality` says how
word-like a text is so that a garbled layer can be detected and redone by OCR.
"""

from __future__ import annotations

import re
import unicodedata

# Spacing accents as LaTeX's Type 1 fonts emit them, and the combining mark each stands for.
# ASCII "^" and "~" are left alone: in real text they are code, paths and URLs.
_SPACING_ACCENTS = {
    "`": "\u0300",  # grave
    "\u00b4": "\u0301",  # acute
    "\u02ca": "\u0301",
    "\u02c6": "\u0302",  # circumflex
    "\u02dc": "\u0303",  # tilde
    "\u00a8": "\u0308",  # diaeresis
    "\u02da": "\u030a",  # ring
    "\u02c7": "\u030c",  # caron
    "\u02d8": "\u0306",  # breve
    "\u00b8": "\u0327",  # cedilla (follows its letter)
    "\u02db": "\u0328",  # ogonek (follows its letter)
}
_PRECEDING = "".join(re.escape(c) for c in _SPACING_ACCENTS)
# An accent glyph right before the letter it belongs to, either inside a word
# ("Befehls¨ubersicht") or starting one ("pile `a citron").
_ACCENT = re.compile(rf"(?:(?<=[^\W\d_])|(?<=^)|(?<=\s))([{_PRECEDING}])([^\W\d_])", re.MULTILINE)
_CEDILLA_AFTER = re.compile(r"([cCsStT])([\u00b8\u02db])")
# What NFKC makes of an accent that had no letter to sit on: a space and a lone mark.
_LONE_MARK = re.compile(r" [\u0300-\u036f]+")
_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])-\n(?=[a-zà-ÿ])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(\n\s*)+")
_TOKEN = re.compile(r"\S+")
_LETTERS = re.compile(r"[^\W\d_]+")
_LEADERS = re.compile(r"([.\-_·…=*])\1{2,}")  # dot leaders and rules in tables of contents and forms
_MIXED_CASE = re.compile(r"[a-z][A-Z]{1,2}[a-z]")
_VOWELS = set("aeiouyäöüàâéèêëîïôûùáíóúñåøæœAEIOUYÄÖÜÀÂÉÈÊËÎÏÔÛÙÁÍÓÚ")


def _compose(accent: str, letter: str) -> str:
    if letter == "\u0131":  # LaTeX puts accents on a dotless i
        letter = "i"
    combined = unicodedata.normalize("NFC", letter + _SPACING_ACCENTS[accent])
    return combined if len(combined) == 1 else accent + letter


def normalize(text: str) -> str:
    """Return ``text`` cleaned for indexing: NFKC, re-attached accents, no control characters.

    Example:
        >>> normalize("pile `a citron, Befehls¨ubersicht, ﬁnal")
        'pile à citron, Befehlsübersicht, final'
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    # Accents first: NFKC would turn spacing accents into space + combining mark.
    text = _CEDILLA_AFTER.sub(lambda m: _compose(m.group(2), m.group(1)), text)
    text = _ACCENT.sub(lambda m: _compose(m.group(1), m.group(2)), text)
    text = unicodedata.normalize("NFKC", text.replace("\u02dc", "~").replace("\u02c6", "^"))
    text = _LONE_MARK.sub("", text)
    text = _HYPHEN_BREAK.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def usable_chars(text: str) -> int:
    """Letters and digits in ``text`` (what a text model can use)."""
    return sum(1 for c in text if c.isalnum())


def text_quality(text: str) -> float:
    """How word-like ``text`` is: the share of its visible characters in plausible words or numbers.

    A word is a run of two or more letters with a vowel (any run for scripts other than
    Latin); a number is a token without letters. Prose, tables and code score about
    0.7 and more; a garbled OCR layer ("tl1e ,~ q§ :i Wr| frrn") scores far lower.
    Returns 1.0 for text without visible characters.

    Example:
        >>> round(text_quality("The quick brown fox, 2011."), 2)
        0.9
    """
    total = good = 0
    for token in _TOKEN.findall(_LEADERS.sub(" ", text)):
        total += len(token)
        runs = _LETTERS.findall(token)
        if not runs:
            good += sum(1 for c in token if c.isdigit())
            continue
        for run in runs:
            if not run.isascii() and not any(c in _VOWELS for c in run):
                good += len(run)  # other scripts: no vowel test
            elif len(run) >= 2 and any(c in _VOWELS for c in run) and not _MIXED_CASE.search(run):
                good += len(run)
    return good / total if total else 1.0


_WORD = re.compile(r"\w+")


def new_lines(extra: str, known: str, *, seen: float = 0.8) -> str:
    """The lines of ``extra`` (OCR text) that add to ``known`` (the page's text layer).

    A line is dropped when at least ``seen`` of its words are already in ``known`` (OCR of a
    picture region re-reads text the layer has: captions, labels drawn over a chart), or
    when it holds fewer than two letters or digits (a slide bullet read as "¢", a rule).

    Example:
        >>> new_lines("Beta budget is 90000 euros.\\n¢\\nQ4 bar: 1.4M", "Beta budget is 90000 euros.")
        'Q4 bar: 1.4M'
    """
    have = {w.casefold() for w in _WORD.findall(known)}
    kept = []
    for line in extra.splitlines():
        words = [w.casefold() for w in _WORD.findall(line)]
        if usable_chars(line) < 2:
            continue
        if have and sum(w in have for w in words) >= seen * len(words):
            continue
        kept.append(line)
    return "\n".join(kept)
