"""The language a query is written in, in the codes pages carry (tesseract's: ``eng``, ``deu``, ``chi_sim``).

Ingestion gives each page the language of its text (:func:`pagerag.ingest.ocr.detect_language`,
payload field ``lang``). Search compares it with the query's: the English-only signals (BM25
terms, MiniLM MaxSim) only say something about pages in the query's language, while the
multilingual dense vector also works across languages (``HybridRecipe.languages``).

Queries are short, so the page detector's thresholds (five words, three stop words) would leave
most of them unknown. Here a non-Latin script decides at once; Latin-script queries are told
apart by function and question words, and a query with fewer than two of them, or a tie, is
unknown (None): search then treats every page alike, as it did before it knew languages.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+")
_SCRIPTS = ("chi_sim", "chi_tra", "jpn", "kor", "fas", "ara", "urd", "rus", "ukr", "bul", "ell", "hin")

# Function and question words that are not also common words of another listed language.
_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "eng": "the of and to in is are was were what which who how many much does do did for with on by "
        "from that this these those an it its be been has have had or at than as according between "
        "when where why whose there their they",
        "deu": "der die das den dem des und ist sind war wie viele welche welcher welches wer was "
        "nicht ein eine einer mit von zu auf fur für im bei oder auch wird werden dass nach aus",
        "fra": "le la les de des du et est sont quel quelle quels quelles combien qui que pour dans sur "
        "avec une un au aux ce cette pas par ou où selon entre",
        "spa": "el la los las de del se y es son cual cuál cuales cuáles cuanto cuántos cuántas que qué "
        "para en con una un por segun según entre como cómo donde dónde",
        "nld": "de het een en van is zijn wat welke hoeveel wie hoe niet met voor op aan bij ook dat",
        "ita": "il lo gli della delle di che quale quali quanti quante chi come per con una un non sono",
        "por": "o os as de do da dos das que qual quais quantos quantas como para com uma um não são em",
    }.items()
}


def query_language(text: str) -> str | None:
    """The language of a query, or None when the words do not say.

    Example:
        >>> query_language("How many employees did the company have in 2020?")
        'eng'
        >>> query_language("Wie viele Mitarbeiter hatte die Firma 2020?")
        'deu'
        >>> query_language("revenue 2020") is None
        True
    """
    from pagerag.ingest.ocr import detect_language, script_of  # its module loads PIL: only when a query comes

    if script_of(text) != "Latin":
        return detect_language(text, _SCRIPTS)
    words = [w.casefold() for w in _WORD.findall(text)]
    hits = sorted(((sum(w in stop for w in words), lang) for lang, stop in _WORDS.items()), reverse=True)
    (best, lang), (second, _) = hits[0], hits[1]
    return lang if best >= 2 and best > second else None


ENGLISH = "eng"
_ISO = {"eng": "en", "deu": "de", "fra": "fr", "spa": "es", "nld": "nl", "ita": "it", "por": "pt"}
_ENGLISH_ONLY = frozenset({"minilm-tokens"})


def same_language(lang: str) -> tuple[str, ...]:
    """The page ``lang`` values that count as ``lang``: its code, its two-letter form, and unknown ("").

    Example:
        >>> same_language("eng")
        ('eng', 'en', '')
    """
    return tuple(dict.fromkeys((lang, _ISO.get(lang, lang), "")))


def english_only(model: str) -> bool:
    """Whether a registered model (``NAME`` or ``NAME:ID``) was trained on English text only."""
    return model.partition(":")[0] in _ENGLISH_ONLY


_READS_IMAGES = frozenset({"jina-v4", "colqwen2", "colqwen2.5", "colpali"})


def reads_text_only(model: str) -> bool:
    """Whether a registered model (``NAME`` or ``NAME:ID``) embeds a page's text, not its image.

    A text model cannot see a page without text: its vector of an empty passage is no evidence,
    so search leaves such pages out of that model's lists (:data:`pagerag.retriever.store.base.HAS_TEXT`).

    Example:
        >>> reads_text_only("e5-small"), reads_text_only("colqwen2.5:/models/x")
        (True, False)
    """
    return model.partition(":")[0] not in _READS_IMAGES
