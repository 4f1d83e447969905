"""jina-embeddings-v4 adapter, tested against a STAND-IN model.

jina-embeddings-v4's own code (``modeling_jina_embeddings_v4.py``) lives only on the model
hub, which is unreachable here. The stand-in (``tiny_checkpoints.JINA_STANDIN_CODE``) has
the same public surface: ``encode_text`` / ``encode_image`` with the real signatures,
``processor.process_texts`` / ``process_images``, and a forward pass returning
``single_vec_emb`` (2048-d) and ``multi_vec_emb`` (128-d per token). It is saved as
custom code in a checkpoint directory and loaded by the adapter through
``AutoModel.from_pretrained(path, trust_remote_code=True)``, the path that loads jina's
code. What these tests show is the adapter's handling of that API (prompts, task,
Matryoshka truncation, one forward pass for both outputs), not jina's numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pagerag.ingest.errors import ConfigError, ModelError
from pagerag.ingest.types import Page
from pagerag.retriever import maxsim
from pagerag.retriever.embedders.jina_v4 import JinaV4Embedder

try:
    from . import tiny_checkpoints as tc
except ImportError:
    import tiny_checkpoints as tc  # type: ignore[no-redef]

QUERIES = ["what was the revenue in 2023?", "chart"]


@pytest.fixture(scope="session")
def jina_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("jina")
    return {
        "full": tc.build_jina_v4_standin(root / "full"),
        "public-api-only": tc.build_jina_v4_standin(root / "public", with_processor=False),
    }


@pytest.fixture(scope="session")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[Page]:
    return tc.make_pages(tmp_path_factory.mktemp("jina-pages"), 3)


@pytest.fixture(scope="session")
def jina(jina_dirs: dict[str, Path]) -> JinaV4Embedder:
    return JinaV4Embedder(str(jina_dirs["full"]), device="cpu")


def _unit_rows(x: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(x, axis=-1), 1.0, atol=1e-5))


def test_loads_custom_code_and_embeds_pages_in_one_forward_pass(
    jina: JinaV4Embedder, pages: list[Page]
) -> None:
    assert type(jina.model).__name__ == "StandInModel" and jina.one_pass
    assert (jina.spec.dense.dim, jina.spec.multi and jina.spec.multi.dim) == (2048, 128)
    calls = jina.model.calls
    out = jina.embed_pages(pages)
    assert jina.model.calls == calls + 1  # one batch, one pass: both dense and multi
    for e in out:
        assert e.multi is not None and e.pooled is None
        assert e.dense.shape == (2048,) and e.multi.shape == (16, 128)
        assert e.dense.dtype == np.float32 and e.multi.dtype == np.float32
        assert _unit_rows(e.dense) and _unit_rows(e.multi)
    assert not np.allclose(out[0].dense, out[1].dense)


def test_query_and_passage_prompts_are_asymmetric(jina_dirs: dict[str, Path], pages: list[Page]) -> None:
    as_text = JinaV4Embedder(str(jina_dirs["full"]), device="cpu", page_input="text")
    page = as_text.embed_pages(pages[:1])[0]
    query = as_text.embed_queries([pages[0].text])[0]
    assert page.multi is not None and query.multi is not None
    # "Passage: " and "Query: " prefixes: same text, different vectors and token counts.
    assert page.multi.shape[0] == query.multi.shape[0] + 2
    assert float(page.dense @ query.dense) < 0.9999


def test_matryoshka_truncation_is_a_renormalised_prefix(
    jina_dirs: dict[str, Path], jina: JinaV4Embedder
) -> None:
    full = jina.embed_queries(QUERIES)
    for dim in (128, 512):
        short = JinaV4Embedder(str(jina_dirs["full"]), device="cpu", dense_dim=dim, multi_dim=64)
        assert short.spec.dense.dim == dim and short.spec.multi is not None and short.spec.multi.dim == 64
        for f, s in zip(full, short.embed_queries(QUERIES), strict=True):
            assert f.multi is not None and s.multi is not None
            np.testing.assert_allclose(s.dense, maxsim.truncate(f.dense, dim), atol=1e-5)
            np.testing.assert_allclose(s.multi, maxsim.truncate(f.multi, 64), atol=1e-5)
    with pytest.raises(ConfigError, match="dense_dim must be one of"):
        JinaV4Embedder(str(jina_dirs["full"]), device="cpu", dense_dim=300)


def test_public_api_fallback_matches_the_single_pass(
    jina_dirs: dict[str, Path], jina: JinaV4Embedder, pages: list[Page]
) -> None:
    public = JinaV4Embedder(str(jina_dirs["public-api-only"]), device="cpu", dense_dim=256)
    assert not public.one_pass
    one = JinaV4Embedder("unused", device="cpu", dense_dim=256, model=jina.model)
    calls = public.model.calls
    two_pass, single_pass = public.embed_pages(pages), one.embed_pages(pages)
    assert public.model.calls == calls + 2  # encode_image twice: single vector, then multi-vector
    for a, b in zip(two_pass, single_pass, strict=True):
        assert a.multi is not None and b.multi is not None
        np.testing.assert_allclose(a.dense, b.dense, atol=1e-5)
        np.testing.assert_allclose(a.multi, b.multi, atol=1e-5)
    qa, qb = public.embed_queries(QUERIES), one.embed_queries(QUERIES)
    np.testing.assert_allclose(qa[0].dense, qb[0].dense, atol=1e-5)
    with pytest.raises(ConfigError, match="one_pass=True needs"):
        JinaV4Embedder("unused", device="cpu", model=public.model, one_pass=True)


def test_token_pooling_gives_a_first_stage_vector(jina_dirs: dict[str, Path], pages: list[Page]) -> None:
    pooled = JinaV4Embedder(str(jina_dirs["full"]), device="cpu", pooling="tokens:4")
    assert pooled.spec.pooled is not None and pooled.spec.pooled.dim == 128
    e = pooled.embed_pages(pages[:1])[0]
    assert e.pooled is not None and e.pooled.shape == (4, 128) and _unit_rows(e.pooled)
    with pytest.raises(ConfigError, match="needs an image-patch grid"):
        JinaV4Embedder(str(jina_dirs["full"]), device="cpu", pooling="rows_cols")


def test_a_checkpoint_without_the_jina_api_is_rejected(tmp_path: Path) -> None:
    bert = tc.build_bert(tmp_path / "bert")
    with pytest.raises(ModelError, match="no encode_text"):
        JinaV4Embedder(str(bert), device="cpu")
    with pytest.raises(ModelError, match="missing is not a folder with model weights"):
        JinaV4Embedder(str(tmp_path / "missing"), device="cpu")


@pytest.mark.gpu
def test_cuda_loads_bf16_and_returns_float32(
    jina_dirs: dict[str, Path], jina: JinaV4Embedder, pages: list[Page]
) -> None:
    import torch

    gpu = JinaV4Embedder(str(jina_dirs["full"]), device="cuda")
    assert next(gpu.model.parameters()).dtype == torch.bfloat16
    for c, g in zip(jina.embed_pages(pages), gpu.embed_pages(pages), strict=True):
        assert g.dense.dtype == np.float32 and _unit_rows(g.dense) and g.multi is not None
        assert float(c.dense @ g.dense) > 0.98


class _OtherProcessorModel:
    """The stand-in with a processor whose signature differs from the one the adapter expects."""

    def __init__(self, model: object) -> None:
        self.model = model
        self.processor = type(
            "P", (), {"process_texts": lambda self, texts: {}, "process_images": lambda self: {}}
        )()

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)


def test_an_unexpected_processor_falls_back_to_the_public_api(
    jina: JinaV4Embedder, pages: list[Page]
) -> None:
    odd = JinaV4Embedder("unused", device="cpu", model=_OtherProcessorModel(jina.model))
    assert odd.one_pass
    expected = jina.embed_queries(QUERIES)
    got = odd.embed_queries(QUERIES)
    assert not odd.one_pass  # switched for good after the first failure
    np.testing.assert_allclose(got[0].dense, expected[0].dense, atol=1e-5)
    assert odd.embed_pages(pages[:1])[0].multi is not None
    forced = JinaV4Embedder("unused", device="cpu", model=_OtherProcessorModel(jina.model), one_pass=True)
    with pytest.raises(ModelError, match="single forward pass failed"):
        forced.embed_queries(QUERIES)
