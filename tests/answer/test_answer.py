"""ask() and Chat: retrieval to prompt to answer, citations checked, nothing-found, follow-ups."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from pagerag.pipelines.answer import NOTHING_FOUND, Chat, ask, relevance, resolve_citations
from pagerag.pipelines.llm import build_llm
from pagerag.pipelines.llm.base import Prompt
from pagerag.retriever.types import SearchFilter

from .conftest import TinyIndex


class ScriptedLLM:
    """Replies with fixed text (logic tests of the answer step only)."""

    name = "scripted"
    context_tokens = 4096
    max_new_tokens = 128
    vision = False

    def __init__(self, *replies: str, chat: bool = False) -> None:
        self.replies = list(replies)
        self.prompts: list[Prompt] = []
        self.chat = chat

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1

    def generate(self, prompt: Prompt, images: Sequence[Path] = (), *, stream: bool = True) -> Iterator[str]:
        self.prompts.append(prompt)
        reply = self.replies.pop(0)
        if not stream:
            yield reply
            return
        words = reply.split(" ")
        yield from [w + " " for w in words[:-1]] + words[-1:]


def test_extractive_answer_cites_the_right_page(tiny_index: TinyIndex) -> None:
    answer = ask("What was the total revenue in 2023?", index=tiny_index, llm=build_llm("none"), k=3)
    assert answer.found
    assert answer.text.splitlines()[0] == "Total 2023 revenue: $4.2M [1]"
    first = answer.citations[0]
    assert (first.n, first.source, first.page) == (1, "fjordlys_report.pdf", 2)
    assert first.image_path is not None and first.image_path.exists()
    assert first.score == answer.hits[0].score
    assert len(answer.hits) == 3
    assert set(answer.timings) >= {"retrieve", "generate", "total"}
    assert answer.llm == "extractive" and answer.search_query == answer.question


def test_invented_citations_are_dropped_and_reported(tiny_index: TinyIndex) -> None:
    llm = ScriptedLLM("Revenue was $4.2M [2] [9], see also [1, 7].")
    answer = ask("total revenue 2023", index=tiny_index, llm=llm, k=2)
    assert answer.text == "Revenue was $4.2M [2], see also [1]."
    assert [c.n for c in answer.citations] == [2, 1]
    assert answer.dropped_citations == (9, 7)


@pytest.mark.parametrize(
    ("raw", "text", "cited", "dropped"),
    [
        ("A [1][2].", "A [1][2].", (1, 2), ()),
        ("A [1, 2; 3].", "A [1][2].", (1, 2), (3,)),
        ("A [0] and [3].", "A and.", (), (0, 3)),
        ("No citations.", "No citations.", (), ()),
        ("A [1] [1] [2].", "A [1] [1] [2].", (1, 2), ()),
        ("Year [2023] and list [a].", "Year and list [a].", (), (2023,)),
    ],
)
def test_resolve_citations(raw: str, text: str, cited: tuple[int, ...], dropped: tuple[int, ...]) -> None:
    assert resolve_citations(raw, 2) == (text, cited, dropped)


def test_streaming_passes_each_piece_to_the_callback(tiny_index: TinyIndex) -> None:
    pieces: list[str] = []
    llm = ScriptedLLM("Revenue was $4.2M [1].")
    answer = ask("total revenue 2023", index=tiny_index, llm=llm, on_text=pieces.append)
    assert len(pieces) == 4 and "".join(pieces) == answer.text


def test_below_the_threshold_it_lists_the_closest_pages_instead(tiny_index: TinyIndex) -> None:
    llm = ScriptedLLM("should not be asked")
    shown: list[str] = []
    answer = ask(
        "What is the capital of Mongolia?", index=tiny_index, llm=llm, min_score=0.5, on_text=shown.append
    )
    assert not answer.found and not answer.citations and not llm.prompts
    assert answer.text.startswith(NOTHING_FOUND)
    assert "fjordlys_report.pdf, page" in answer.text and answer.hits
    assert shown == [answer.text]


def test_an_empty_index_says_nothing_matches() -> None:
    answer = ask("anything?", index=TinyIndex({}), llm=build_llm("none"))
    assert not answer.found and answer.text == "Nothing in the index matches this question."


def test_filter_and_k_reach_the_index(tiny_index: TinyIndex) -> None:
    flt = SearchFilter(sources=("crane_memo.pdf",))
    answer = ask("test weight", index=tiny_index, llm=build_llm("none"), k=2, filter=flt)
    assert [h.source for h in answer.hits] == ["crane_memo.pdf"]


def test_empty_question_is_refused(tiny_index: TinyIndex) -> None:
    with pytest.raises(ValueError, match="empty"):
        ask("  ", index=tiny_index, llm=build_llm("none"))


def test_chat_follow_up_is_searched_with_the_previous_question(tiny_index: TinyIndex) -> None:
    chat = Chat(index=tiny_index, llm=build_llm("none"), k=2)
    chat.ask("What was the total revenue of Fjordlys in 2023?")
    follow = chat.ask("And in Q4?")
    assert follow.search_query == "And in Q4? (What was the total revenue of Fjordlys in 2023?)"
    assert tiny_index.queries[-1] == follow.search_query
    assert follow.citations[0].source == "fjordlys_report.pdf"
    standalone = chat.ask("What test weight did harbour crane No. 7 lift in its load test?")
    assert standalone.search_query == standalone.question
    assert len(chat.history) == 3


def test_chat_models_rewrite_the_follow_up_themselves(tiny_index: TinyIndex) -> None:
    llm = ScriptedLLM(
        "Revenue was $4.2M [1].", "What was Fjordlys revenue in Q4 2023?", "It was $1.4M [1].", chat=True
    )
    chat = Chat(index=tiny_index, llm=llm)
    chat.ask("What was Fjordlys revenue in 2023?")
    answer = chat.ask("And in Q4?")
    assert answer.search_query == "What was Fjordlys revenue in Q4 2023?"
    rewrite_prompt = llm.prompts[1]
    assert "User: What was Fjordlys revenue in 2023?" in rewrite_prompt.user
    assert "Last question: And in Q4?" in rewrite_prompt.user
    assert answer.question == "And in Q4?" and answer.text == "It was $1.4M [1]."


def test_relevance_is_the_best_score_per_query_word(tiny_index: TinyIndex) -> None:
    assert relevance("Total revenue 2023", 1.5) == pytest.approx(0.5)
    answer = ask("capital of Mongolia", index=tiny_index, llm=build_llm("none"), min_relevance=0.2)
    assert not answer.found
    answer = ask("total revenue 2023", index=tiny_index, llm=build_llm("none"), min_relevance=0.2)
    assert answer.found


def test_relevance_comes_from_the_same_search(tiny_index: TinyIndex) -> None:
    calls: list[str] = []

    class ScoredIndex(TinyIndex):
        def search_scored(self, query: str, *, k: int = 10, filter: SearchFilter | None = None):  # type: ignore[no-untyped-def]
            calls.append(query)
            hits = self.search(query, k=k, filter=filter)
            return hits, 10.0  # the best MaxSim score, far above the hits' own

    index = ScoredIndex(tiny_index.pages)
    answer = ask("capital of Mongolia", index=index, llm=build_llm("none"), min_relevance=0.2)
    assert "generate" in answer.timings and calls == [
        "capital of Mongolia"
    ]  # one search, its relevance let the model answer
