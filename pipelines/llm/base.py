"""The ``LLM`` protocol and the prompt value every backend receives.

A :class:`Prompt` carries both the structured sources (for the extractive
answerer and for page images) and the rendered texts: chat messages for
instruction-tuned models and one completion string for base models.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Source:
    """One numbered page as the model sees it.

    Attributes:
        n: the citation number, 1-based (``[n]`` in the answer).
        source: document path relative to the ingested root.
        page: 1-based page number.
        text: the page text as put in the prompt (already capped).
        image_path: the rendered page image, if any.
        score: the retrieval score of the page.
        layout: the page's visual rows from its word boxes, table cells split by ``" | "``
            (:func:`pagerag.pipelines.llm.layout.layout_rows`; empty when unknown).
    """

    n: int
    source: str
    page: int
    text: str
    image_path: Path | None = None
    score: float = 0.0
    layout: str = ""


@dataclass(frozen=True, slots=True)
class Prompt:
    """What an LLM is asked.

    Attributes:
        question: the user's question, as asked (after any chat rewrite).
        sources: the numbered pages, in citation order.
        system: the instructions (chat models: the system message).
        user: the chat user message: delimited sources, then the question.
        completion: the whole prompt as one text for base (completion) models.
        stop: sequences that end a completion-style answer.
    """

    question: str
    sources: tuple[Source, ...]
    system: str
    user: str
    completion: str
    stop: tuple[str, ...] = ()

    def images(self) -> list[Path]:
        """The page images of the sources that have one, in citation order."""
        return [s.image_path for s in self.sources if s.image_path is not None]


@runtime_checkable
class LLM(Protocol):
    """A language model that answers a :class:`Prompt`.

    Attributes:
        name: what the user asked for (``"openai:gpt-4o-mini"``, ``"extractive"``, ...).
        context_tokens: the context window the prompt must fit in, answer included.
        max_new_tokens: tokens reserved for the answer.
        vision: the model takes page images.

    Example:
        >>> llm = build_llm("extractive")  # doctest: +SKIP
        >>> "".join(llm.generate(prompt, stream=False))  # doctest: +SKIP
    """

    name: str
    context_tokens: int
    max_new_tokens: int
    vision: bool

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's prompt (an upper estimate is fine)."""
        ...

    def generate(self, prompt: Prompt, images: Sequence[Path] = (), *, stream: bool = True) -> Iterator[str]:
        """Yield the answer: token pieces when ``stream``, else one string.

        Raises:
            LLMError: the model could not be reached or failed.
        """
        ...


def estimate_tokens(text: str) -> int:
    """A tokenizer-free upper estimate of the tokens of ``text``.

    BPE tokenizers average about 4 characters a token on English and fewer on
    numbers and code: 3 ASCII characters a token keeps prompts under the limit;
    other characters (CJK, Persian, accents) count one token each.
    """
    ascii_chars = len(text.encode("ascii", "ignore"))
    return max((ascii_chars // 3) + (len(text) - ascii_chars) + 1, len(text.split()))
