"""MMLongBench-Doc's answer scoring rules, applied to the short answer of a pagerag answer.

The benchmark (``eval/eval_score.py`` of MMLongBench-Doc) scores a short extracted answer
against the reference by the reference's type: integers must be equal; floats equal
within 1% (or as a percentage: 0.45 = 45 = 45%); strings by ANLS (1 - normalised
Levenshtein distance, 0 under 0.5) or exactly for numbers, dates, e-mails and page
names; lists equal in length and element by element (sorted); ``Not answerable``
only by saying so. The benchmark has an LLM extract the short answer from a model's
reply first; here it is the answer's first line without citations, and for a number
type the first number on it that the question does not hold (a quoted table row
states its label's figures first). The type is taken from the reference itself
(the dev sets do not carry the benchmark's ``answer_format``).

Example:
    >>> score("389,933 [1]", "389933", question="How many data sets?")
    1.0
    >>> answer_type("['3', '4']"), answer_type("0.45"), answer_type("Not answerable")
    ('list', 'float', 'none')
"""

from __future__ import annotations

import ast
import math
import re

TYPES = ("int", "float", "str", "list", "none")
_CITE = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_NOT_ANSWERABLE = re.compile(
    r"not answerable|do not answer|does not answer|cannot be answered|no indexed page|nothing in the index",
    re.IGNORECASE,
)


def answer_type(reference: str) -> str:
    """``int``, ``float``, ``str``, ``list`` or ``none`` (the reference says "Not answerable")."""
    ref = reference.strip()
    if ref.lower() == "not answerable":
        return "none"
    if ref.startswith("[") and _literal(ref) is not None:
        return "list"
    clean = _clean(ref).replace(",", "")
    if re.fullmatch(r"-?\d+", clean):
        return "int"
    if re.fullmatch(r"-?\d*\.\d+", clean):
        return "float"
    return "str"


def short_answer(text: str) -> str:
    """The answer's first line, citation markers and closing punctuation removed."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return _CITE.sub(" ", first).strip().rstrip(".").strip()


def says_not_answerable(answer: str) -> bool:
    """Whether the answer's short form says the pages do not answer."""
    return bool(_NOT_ANSWERABLE.search(short_answer(answer)))


def score(prediction: str, reference: str, *, question: str = "") -> float:
    """The benchmark's score (0 to 1) of the answer ``prediction`` against ``reference``."""
    kind = answer_type(reference)
    short = short_answer(prediction)
    if kind == "none":
        return 1.0 if says_not_answerable(short) else 0.0
    if kind in ("int", "float"):
        asked = set(_NUMBER.findall(question))
        numbers = [n for n in _NUMBER.findall(short) if n not in asked]
        if not numbers:
            return 0.0
        gold, got = float(_clean(reference).replace(",", "")), float(numbers[0].replace(",", ""))
        if kind == "int":
            return 1.0 if int(gold) == int(got) else 0.0
        return 1.0 if _float_equal(gold, got) else 0.0
    if kind == "list":
        gold_items = [str(x) for x in _literal(reference.strip()) or ()]
        got_items = _items(short)
        if len(gold_items) != len(got_items):
            return 0.0
        gold_c, got_c = sorted(_clean(x) for x in gold_items), sorted(_clean(x) for x in got_items)
        if _is_float(gold_c[0]) or _exact(gold_c[0]):
            return 1.0 if gold_c == got_c else 0.0
        return min(anls(g, p) for g, p in zip(gold_c, got_c, strict=True))
    gold_s, got_s = _clean(reference), _clean(short)
    if _exact(gold_s):
        return 1.0 if gold_s == got_s else 0.0
    return anls(gold_s, got_s)


def anls(gold: str, prediction: str, threshold: float = 0.5) -> float:
    """Average normalised Levenshtein similarity of one pair (0 at or under ``threshold``)."""
    length = max(len(gold), len(prediction))
    if not length:
        return 0.0
    value = 1.0 - _levenshtein(gold, prediction) / length
    return value if value > threshold else 0.0


def _items(text: str) -> list[str]:
    listed = _literal(text) if text.startswith("[") else None
    if listed is not None:
        return [str(x) for x in listed]
    parts = re.split(r"\s*(?:;|,|\band\b|\|)\s*", text)
    return [p for p in parts if p]


def _literal(text: str) -> list[object] | None:
    """The list a reference or an answer writes as a Python literal, else None."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return list(value) if isinstance(value, list | tuple) else None


def _clean(text: str) -> str:
    s = str(text).lower().strip()
    for unit in ("miles", "mile", "million"):
        if s.endswith(unit):
            s = s[: -len(unit)].strip()
    s = re.sub(r"\s*\([^)]*\)", "", s).strip()
    s = re.sub(r"^['\"]|['\"]$", "", s).strip()
    return s.lstrip("$").strip().rstrip("%").strip()


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _exact(text: str) -> bool:
    """References compared exactly: links, file names, page names, numbers, times, dates, e-mails."""
    return bool(
        "https://" in text
        or text.endswith((".py", ".ipynb"))
        or text.startswith("page")
        or re.fullmatch(r"\b\d+(-\d+|\s\d+)?\b", text)
        or "a.m." in text
        or "p.m." in text
        or re.fullmatch(r"\b\d{4}[-\s]\d{2}[-\s]\d{2}\b", text)
        or re.fullmatch(r"\b\d{4}[-\s]\d{2}\b", text)
        or re.fullmatch(r"[\w.-]+@[\w.-]+\.\w+", text)
    )


def _float_equal(gold: float, got: float) -> bool:
    for candidate in (gold / 100, gold, gold * 100):
        if math.isclose(candidate, got, rel_tol=0.01):
            return True
        digits = max(min(_precision(got), _precision(candidate)), 2)
        if round(got, digits) == round(candidate, digits):
            return True
    return False


def _precision(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[-1]) if "." in text else 3


def _levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
