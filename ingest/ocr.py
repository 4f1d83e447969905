"""OCR with the tesseract command, choosing the language per page instead of running all of them.

Tesseract with eight languages loaded takes about 4 s a page against about 0.5 s
with one. So a page gets one language: the language of its own text layer when it
has one; otherwise English first, then the language that the English pass reads
(a French scan comes out as French-looking words even through the English model)
or, when the English pass reads nothing sensible, the script that tesseract's OSD
sees (Han, Hangul, Arabic, ...) together with the page's orientation.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace

from PIL import Image

from pagerag.ingest.text import new_lines, text_quality, usable_chars
from pagerag.ingest.words import Box, from_tsv, unrotated

DEFAULT_LANGS = ("eng", "deu", "fra", "spa", "nld", "chi_sim", "kor", "fas")
"""Used when installed (``eng+deu+fra+spa`` at least): candidates, never all loaded at once."""
LATIN = frozenset({"eng", "deu", "fra", "spa", "nld", "ita", "por", "dan", "swe", "nor", "fin", "pol", "ces"})

_STOPWORDS: dict[str, frozenset[str]] = {
    "eng": frozenset(
        [
            "the",
            "and",
            "of",
            "to",
            "in",
            "is",
            "that",
            "for",
            "with",
            "on",
            "are",
            "as",
            "this",
            "by",
            "was",
            "from",
            "be",
            "it",
            "or",
            "an",
            "at",
            "which",
            "not",
            "have",
        ]
    ),
    "deu": frozenset(
        [
            "der",
            "die",
            "und",
            "das",
            "ist",
            "nicht",
            "ein",
            "eine",
            "mit",
            "den",
            "von",
            "zu",
            "auf",
            "für",
            "im",
            "dem",
            "sich",
            "des",
            "auch",
            "wird",
            "oder",
            "bei",
        ]
    ),
    "fra": frozenset(
        [
            "le",
            "la",
            "les",
            "et",
            "des",
            "est",
            "une",
            "un",
            "du",
            "dans",
            "pour",
            "que",
            "qui",
            "sur",
            "pas",
            "par",
            "avec",
            "au",
            "ce",
            "sont",
            "aux",
            "ou",
        ]
    ),
    "spa": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "y",
            "de",
            "que",
            "en",
            "del",
            "un",
            "una",
            "por",
            "con",
            "para",
            "es",
            "se",
            "al",
            "lo",
            "como",
            "más",
        ]
    ),
    "nld": frozenset(
        [
            "de",
            "het",
            "een",
            "en",
            "van",
            "is",
            "dat",
            "niet",
            "op",
            "te",
            "zijn",
            "voor",
            "met",
            "die",
            "ook",
            "wordt",
            "bij",
            "aan",
        ]
    ),
    "ita": frozenset(
        ["il", "di", "che", "e", "la", "per", "un", "non", "sono", "con", "del", "della", "gli", "le"]
    ),
    "por": frozenset(
        ["o", "a", "os", "as", "de", "que", "e", "do", "da", "em", "um", "uma", "para", "com", "não", "por"]
    ),
}
_SCRIPT_LANGS: dict[str, tuple[str, ...]] = {
    "Han": ("chi_sim", "chi_tra", "jpn"),
    "Japanese": ("jpn", "chi_sim"),
    "Hangul": ("kor",),
    "Arabic": ("fas", "ara", "urd"),
    "Cyrillic": ("rus", "ukr", "bul"),
    "Greek": ("ell",),
    "Devanagari": ("hin",),
}
_SCRIPT_RANGES = (
    ("Han", re.compile(r"[\u4e00-\u9fff]")),
    ("Hangul", re.compile(r"[\uac00-\ud7af]")),
    ("Arabic", re.compile(r"[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")),
    ("Cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("Greek", re.compile(r"[\u0370-\u03ff]")),
    ("Devanagari", re.compile(r"[\u0900-\u097f]")),
)
_WORD = re.compile(r"[^\W\d_]+")
_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


@dataclass(frozen=True, slots=True)
class OcrResult:
    """OCR output of one image and the tesseract languages used (``"eng"``, ``"kor+eng"``).

    ``words`` holds each word with its box in the pixels of the image that was read
    (empty unless asked for).
    """

    text: str
    langs: str
    words: tuple[Box, ...] = ()


def installed_languages() -> frozenset[str]:
    """Tesseract languages on this machine (empty when tesseract is missing)."""
    return _all_languages() - {"osd", "equ"}


def default_languages() -> tuple[str, ...]:
    """The installed languages among :data:`DEFAULT_LANGS`, English first."""
    have = installed_languages()
    return tuple(lang for lang in DEFAULT_LANGS if lang in have)


def script_of(text: str) -> str:
    """The dominant non-Latin script of ``text`` ("Latin" when none dominates)."""
    letters = sum(1 for c in text if c.isalpha()) or 1
    for script, pattern in _SCRIPT_RANGES:
        if len(pattern.findall(text)) >= 0.3 * letters:
            return script
    return "Latin"


def detect_language(text: str, allowed: Sequence[str]) -> str | None:
    """The tesseract code of the language ``text`` is written in, among ``allowed`` (None if unsure).

    Example:
        >>> detect_language("Le chat est sur la table et il dort dans la cuisine", ["eng", "fra"])
        'fra'
    """
    script = script_of(text)
    if script != "Latin":
        return next((lang for lang in _SCRIPT_LANGS[script] if lang in allowed), None)
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 5:
        return None
    best, best_hits = None, 0
    for lang, stop in _STOPWORDS.items():
        if lang not in allowed:
            continue
        hits = sum(1 for w in words if w in stop)
        if hits > best_hits:
            best, best_hits = lang, hits
    return best if best_hits >= 3 and best_hits >= 0.04 * len(words) else None


def run_tesseract(
    image: Image.Image, langs: Sequence[str], *, psm: int = 3, timeout: float = 120, words: bool = False
) -> OcrResult:
    """Tesseract's text for ``image`` with ``langs`` loaded (empty on failure or timeout).

    With ``words``, the same pass also writes its TSV, which gives every word's box.
    """
    joined = "+".join(langs)
    exe = shutil.which("tesseract")
    if not exe or not langs:
        return OcrResult("", joined)
    buf = io.BytesIO()
    image.convert("L").save(buf, format="PPM")  # uncompressed: fastest to hand over
    options = ["-l", joined, "--psm", str(psm)]
    if not words:
        out = _call([exe, "stdin", "stdout", *options], buf.getvalue(), timeout)
        return OcrResult(out.decode("utf-8", "replace") if out is not None else "", joined)
    with tempfile.TemporaryDirectory(prefix="pagerag-ocr-") as tmp:
        base = os.path.join(tmp, "page")
        if _call([exe, "stdin", base, *options, "txt", "tsv"], buf.getvalue(), timeout) is None:
            return OcrResult("", joined)
        text, tsv = (_read(f"{base}.{ext}") for ext in ("txt", "tsv"))
    return OcrResult(text, joined, tuple(from_tsv(tsv)))


def _call(cmd: list[str], data: bytes, timeout: float) -> bytes | None:
    """The command's stdout, None when it fails or times out."""
    try:
        out = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout, env=_ENV)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def orientation_and_script(image: Image.Image, *, timeout: float = 60) -> tuple[int, str]:
    """Tesseract OSD: degrees to rotate the image clockwise to make it upright, and its script."""
    exe = shutil.which("tesseract")
    if not exe or "osd" not in _all_languages():
        return 0, "Latin"
    small = image.convert("L")
    if max(small.size) > 2000:  # OSD needs far less resolution than reading does
        small.thumbnail((2000, 2000))
    buf = io.BytesIO()
    small.save(buf, format="PPM")
    try:
        out = subprocess.run(
            [exe, "stdin", "stdout", "--psm", "0", "-l", "osd"],
            input=buf.getvalue(),
            capture_output=True,
            timeout=timeout,
            env=_ENV,
        )
    except (OSError, subprocess.SubprocessError):
        return 0, "Latin"
    text = out.stdout.decode("utf-8", "replace")
    rotate = re.search(r"Rotate:\s*(\d+)", text)
    script = re.search(r"Script:\s*(\w+)", text)
    return (int(rotate.group(1)) if rotate else 0), (script.group(1) if script else "Latin")


@functools.cache
def _all_languages() -> frozenset[str]:
    exe = shutil.which("tesseract")
    if not exe:
        return frozenset()
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30, env=_ENV)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in out.stdout.splitlines()[1:] if line.strip())


def _score(text: str) -> float:
    return usable_chars(text) * text_quality(text)


def _with_eng(lang: str, allowed: Sequence[str]) -> list[str]:
    return [lang, "eng"] if lang not in LATIN and "eng" in allowed and lang != "eng" else [lang]


def ocr(
    image: Image.Image, allowed: Sequence[str], *, hint: str = "", timeout: float = 120, words: bool = False
) -> OcrResult:
    """Read ``image`` with one well-chosen language from ``allowed``.

    Args:
        image: the page (or region) rendered for OCR (about 200 dpi).
        allowed: tesseract languages the user allows (``--ocr-lang``).
        hint: the page's native text, if any: its language is used directly.
        timeout: seconds per tesseract call.
        words: also give each word's box, in pixels of ``image`` (also when OSD turned it to read it).
    """
    allowed = [lang for lang in allowed if lang in installed_languages()]
    if not allowed:
        return OcrResult("", "")
    known = detect_language(hint, allowed) if usable_chars(hint) >= 40 else None
    if known:
        return run_tesseract(image, _with_eng(known, allowed), timeout=timeout, words=words)
    first = "eng" if "eng" in allowed else allowed[0]
    best = run_tesseract(image, [first], timeout=timeout, words=words)
    text = best.text
    found = detect_language(text, allowed)
    # Upside-down or sideways pages read as word-like nonsense without a single common word.
    wordy_nonsense = found is None and len(_WORD.findall(text)) >= 15
    if usable_chars(text) < 20 or text_quality(text) < 0.5 or wordy_nonsense:
        rotate, script = orientation_and_script(image, timeout=timeout)
        upright = image.rotate(-rotate, expand=True) if rotate else image
        lang = next((x for x in _SCRIPT_LANGS.get(script, (first,)) if x in allowed), first)
        if rotate or lang != first:
            again = run_tesseract(upright, _with_eng(lang, allowed), timeout=timeout, words=words)
            if rotate:
                again = replace(again, words=tuple(unrotated(again.words, rotate, image.size)))
                # OSD saw the page turned: trust it unless the upright read is much poorer
                best = again if usable_chars(again.text) >= 0.5 * usable_chars(text) else best
            else:
                best = again if _score(again.text) > _score(best.text) else best
        return best
    if found and found != first:
        again = run_tesseract(image, _with_eng(found, allowed), timeout=timeout, words=words)
        best = again if usable_chars(again.text) >= 0.7 * usable_chars(text) else best
    return with_shaded_cells(image, best, timeout=timeout, words=words)


SHADED_SHARE = 0.08
"""Share of mid-grey pixels from which an image may hold shaded table cells worth a second pass."""


def with_shaded_cells(image: Image.Image, first: OcrResult, *, timeout: float, words: bool) -> OcrResult:
    """``first`` with the text of shaded table cells (dark text on mid-grey) that it could not read.

    Tesseract's binarisation turns a grey cell and its black digits into one dark block, so
    a scanned table loses the figures of its shaded columns. A second pass over the image
    thresholded under the grey reads them; only its lines (and words) that ``first`` lacks are
    added. Images with little grey are not read twice.
    """
    gray = image.convert("L")
    histogram = gray.histogram()
    if sum(histogram[60:170]) < SHADED_SHARE * max(sum(histogram), 1) or not first.text.strip():
        return first
    again = run_tesseract(
        gray.point(lambda v: 255 if v > 90 else 0), first.langs.split("+"), timeout=timeout, words=words
    )
    have = set(first.text.split())
    figures = [
        line
        for line in again.text.splitlines()
        if any(_FIGURE.fullmatch(t) for t in set(line.split()) - have)
    ]
    extra = "\n".join(dict.fromkeys([*figures, *new_lines(again.text, first.text).splitlines()]))
    if not extra:
        return first
    # a figure of the second pass replaces what the first made of its grey cell
    kept = tuple(b for b in first.words if not any(_overlap(w, b) and _figure(w) for w in again.words))
    added = tuple(w for w in again.words if not any(_overlap(w, b) for b in kept))
    return OcrResult(f"{first.text.rstrip()}\n{extra}", first.langs, kept + added)


_FIGURE = re.compile(r"[$€£(]?\d[\d.,]*%?\)?")


def _figure(box: Box) -> bool:
    return any(c.isdigit() for c in box[0])


def _overlap(a: Box, b: Box) -> bool:
    return a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
