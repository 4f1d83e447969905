"""BM25 sparse vectors over page text with a multilingual tokenizer.

Pages get term-frequency weights saturated by ``k`` and normalised by length with
``b`` against a fixed ``avg_len`` (the TF half of BM25); queries get weight 1 per
distinct term. Qdrant applies the IDF half at search time (sparse vector with
``Modifier.IDF``), so adding documents never re-weights the others. This is the
scheme of Qdrant's server-side ``Bm25`` and of fastembed's ``Qdrant/bm25``.

The tokenizer: Unicode NFKC (ligatures, full-width forms), words hyphenated across
lines re-joined, case folding, accents folded (``Größe`` = ``grosse``), words of two
or more letters or digits, decimal numbers kept whole (``3.5``), Chinese and Japanese
runs as overlapping character bigrams (CJK text has no spaces), stop words of several
languages dropped. Token ids are a stable 31-bit hash of the token, so the vocabulary
is open and nothing has to be fitted.

``bm25-bigrams`` (the default) also indexes each pair of neighbouring terms (stop words
removed first), so "total revenue" scores a page where the two words stand together above
one where they are far apart: +.01 to +.016 nDCG@5 for BM25 alone on devset and
devset-long (``docs/bench/quality.md``). ``bm25`` is the unigram scheme of older indexes.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pagerag.ingest.errors import ConfigError
from pagerag.retriever.embedders.stopwords import STOPWORDS
from pagerag.retriever.types import SparseVector

_HYPHENATED = re.compile(r"(\w)-[ \t]*\n\s*(\w)")
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_TOKEN = re.compile(rf"[{_CJK}]+|\d+(?:[.,]\d+)*|[^\W\d_{_CJK}]+|\d+")


@dataclass(frozen=True, slots=True)
class Bm25Options:
    """Settings of the BM25 sparse encoder (part of an index's identity).

    Attributes:
        k: term-frequency saturation (BM25 ``k1``).
        b: length normalisation, 0 (none) to 1 (full).
        avg_len: assumed average page length in terms, stop words excluded (pairs included with
            ``bigrams``: the measured setting keeps 256, so a page's length counts about twice).
        stopwords: drop the built-in multilingual stop words.
        bigrams: also index each pair of neighbouring terms (``"total revenue"``).
    """

    k: float = 1.5
    b: float = 0.75
    avg_len: float = 256.0
    stopwords: bool = True
    bigrams: bool = False

    def __post_init__(self) -> None:
        if self.k < 0 or not 0 <= self.b <= 1 or self.avg_len <= 0:
            raise ConfigError(f"bm25: need k >= 0, 0 <= b <= 1, avg_len > 0; got {self}")


def normalize_text(text: str) -> str:
    """NFKC, re-joined hyphenations, case folding and accent folding."""
    text = _HYPHENATED.sub(r"\1\2", unicodedata.normalize("NFKC", text)).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def tokenize(text: str, *, stopwords: bool = True) -> list[str]:
    """The BM25 terms of ``text``, in order.

    Example:
        >>> tokenize("Die Größe der Ölpreise stieg um 3,5 % in 2023")
        ['die', 'grosse', 'olpreise', 'stieg', '3,5', '2023']
    """
    terms: list[str] = []
    for match in _TOKEN.finditer(normalize_text(text)):
        word = match.group()
        if _CJK_CHAR.match(word):
            terms.extend(word[i : i + 2] for i in range(max(len(word) - 1, 1)))
        elif len(word) > 1 and not (stopwords and word in STOPWORDS):
            terms.append(word)
    return terms


def with_bigrams(terms: list[str]) -> list[str]:
    """``terms`` followed by each pair of neighbouring terms, joined by a space (no term has one).

    Example:
        >>> with_bigrams(["total", "revenue", "2023"])
        ['total', 'revenue', '2023', 'total revenue', 'revenue 2023']
    """
    return terms + [f"{a} {b}" for a, b in itertools.pairwise(terms)]


def term_id(term: str) -> int:
    """Stable 31-bit id of a term (same on every machine and Python version)."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little") & 0x7FFFFFFF


class Bm25Encoder:
    """Sparse BM25 vectors for pages and queries.

    Example:
        >>> enc = Bm25Encoder()
        >>> page = enc.embed_passages(["Revenue grew in 2023; revenue is up."])[0]
        >>> query = enc.embed_queries(["revenue 2023"])[0]
        >>> set(query.indices) <= set(page.indices)
        True
    """

    name = "bm25"

    def __init__(self, options: Bm25Options | None = None) -> None:
        self.options = options or Bm25Options()

    def embed_passages(self, texts: Sequence[str]) -> list[SparseVector]:
        """Saturated, length-normalised term frequencies per page (IDF applied by the store)."""
        k, b, avg = self.options.k, self.options.b, self.options.avg_len
        out = []
        for text in texts:
            terms = self.terms(text)
            norm = k * (1 - b + b * len(terms) / avg)
            out.append(_vector({t: tf * (k + 1) / (tf + norm) for t, tf in Counter(terms).items()}))
        return out

    def embed_queries(self, texts: Sequence[str]) -> list[SparseVector]:
        """Weight 1 per distinct query term."""
        return [_vector(dict.fromkeys(self.terms(t), 1.0)) for t in texts]

    def terms(self, text: str) -> list[str]:
        """The terms of ``text`` as this encoder indexes them (with the pairs when ``bigrams``)."""
        terms = tokenize(text, stopwords=self.options.stopwords)
        return with_bigrams(terms) if self.options.bigrams else terms


class Bm25BigramEncoder(Bm25Encoder):
    """:class:`Bm25Encoder` with neighbouring term pairs (``bm25-bigrams``, the default sparse model).

    Example:
        >>> Bm25BigramEncoder().terms("Total revenue of 2023")
        ['total', 'revenue', '2023', 'total revenue', 'revenue 2023']
    """

    name = "bm25-bigrams"

    def __init__(self, options: Bm25Options | None = None) -> None:
        super().__init__(options or Bm25Options(bigrams=True))


def _vector(weights: dict[str, float]) -> SparseVector:
    merged: dict[int, float] = {}
    for term, weight in weights.items():
        key = term_id(term)
        merged[key] = merged.get(key, 0.0) + weight
    keys = sorted(merged)
    return SparseVector(tuple(keys), tuple(merged[i] for i in keys))
