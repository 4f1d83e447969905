"""ColQwen2, ColQwen2.5 and ColPali adapters on tiny random checkpoints.

Each checkpoint is built here (2 layers, hidden 32, a tokenizer trained offline, an
image processor config), saved, and loaded by the adapter through the same
``from_pretrained(path)`` calls a user's real checkpoint goes through.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pagerag.ingest.errors import ConfigError, ModelError
from pagerag.ingest.types import Page
from pagerag.retriever import maxsim
from pagerag.retriever.embedders.colpali import ColVisionEmbedder

try:
    from . import tiny_checkpoints as tc
except ImportError:
    import tiny_checkpoints as tc  # type: ignore[no-redef]

FAMILIES = ["colqwen2", "colqwen2.5", "colpali"]
QUERIES = ["what was the revenue in 2023?", "chart"]


@pytest.fixture(scope="session")
def col_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("colvision")
    return {
        "colqwen2": tc.build_colqwen2(root / "colqwen2"),
        "colqwen2.5": tc.build_colqwen2(root / "colqwen25", backbone="qwen2_5_vl"),
        "colpali": tc.build_colpali(root / "colpali"),
    }


@pytest.fixture(scope="session")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[Page]:
    return tc.make_pages(tmp_path_factory.mktemp("col-pages"), 3)


@pytest.fixture(scope="session")
def embedders(col_dirs: dict[str, Path]) -> dict[str, ColVisionEmbedder]:
    return {name: ColVisionEmbedder(str(path), device="cpu") for name, path in col_dirs.items()}


def _unit_rows(x: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(x, axis=-1), 1.0, atol=1e-4))


@pytest.mark.parametrize("name", FAMILIES)
def test_pages_get_token_vectors_mean_dense_and_grid_pooling(
    name: str, embedders: dict[str, ColVisionEmbedder], pages: list[Page]
) -> None:
    emb = embedders[name]
    assert emb.family == ("colpali" if name == "colpali" else "colqwen2")
    spec = emb.spec
    assert (spec.dense.dim, spec.multi and spec.multi.dim, spec.pooled and spec.pooled.dim) == (16, 16, 16)
    assert spec.multi is not None and spec.multi.multivector and spec.sparse is None
    out = emb.embed_pages(pages)
    assert len(out) == len(pages)
    for e in out:
        assert e.multi is not None and e.pooled is not None
        assert e.dense.dtype == np.float32 and e.multi.dtype == np.float32
        assert e.dense.shape == (16,) and e.multi.shape[1] == 16 and e.pooled.shape[1] == 16
        assert _unit_rows(e.dense) and _unit_rows(e.multi) and _unit_rows(e.pooled)
        np.testing.assert_allclose(e.dense, maxsim.normalize(e.multi.mean(axis=0)), atol=1e-5)
        assert e.pooled.shape[0] < e.multi.shape[0]
    if name == "colpali":  # 28 px / 14 px patches: a 2x2 grid -> 2 row + 2 column means
        assert [e.pooled.shape[0] for e in out if e.pooled is not None] == [4, 4, 4]
    else:  # pages of different shapes give different grids
        assert len({e.multi.shape[0] for e in out if e.multi is not None}) > 1


@pytest.mark.parametrize("name", FAMILIES)
def test_queries_are_text_with_augmentation_and_no_pooling(
    name: str, embedders: dict[str, ColVisionEmbedder], pages: list[Page]
) -> None:
    emb = embedders[name]
    queries = emb.embed_queries(QUERIES)
    for q in queries:
        assert q.multi is not None and q.pooled is None
        assert q.multi.shape[0] >= 10  # the 10 query-augmentation tokens are kept
        assert _unit_rows(q.multi) and _unit_rows(q.dense)
    page_rows = {e.multi.shape[0] for e in emb.embed_pages(pages[:1]) if e.multi is not None}
    assert queries[1].multi is not None and queries[1].multi.shape[0] not in page_rows
    assert not np.allclose(queries[0].dense, queries[1].dense)


@pytest.mark.parametrize("name", FAMILIES)
def test_padding_in_a_batch_does_not_change_a_page(
    name: str, embedders: dict[str, ColVisionEmbedder], pages: list[Page]
) -> None:
    emb = embedders[name]
    together = emb.embed_pages(pages)
    alone = emb.embed_pages(pages[1:2])[0]
    assert together[1].multi is not None and alone.multi is not None
    np.testing.assert_allclose(together[1].multi, alone.multi, atol=1e-4)
    q_together = emb.embed_queries(QUERIES)[1]
    q_alone = emb.embed_queries(QUERIES[1:])[0]
    assert q_together.multi is not None and q_alone.multi is not None
    np.testing.assert_allclose(q_together.multi, q_alone.multi, atol=1e-4)


def test_multi_dim_truncation_renormalises(col_dirs: dict[str, Path], pages: list[Page]) -> None:
    full = ColVisionEmbedder(str(col_dirs["colpali"]), device="cpu", pooling=None)
    short = ColVisionEmbedder(str(col_dirs["colpali"]), device="cpu", multi_dim=8, pooling="tokens:2")
    assert short.spec.multi is not None and short.spec.multi.dim == 8 and short.spec.dense.dim == 8
    assert full.spec.pooled is None and short.spec.pooled is not None
    a, b = full.embed_pages(pages[:1])[0], short.embed_pages(pages[:1])[0]
    assert a.multi is not None and b.multi is not None and b.pooled is not None and a.pooled is None
    np.testing.assert_allclose(b.multi, maxsim.truncate(a.multi, 8), atol=1e-5)
    assert b.pooled.shape[0] == -(-b.multi.shape[0] // 2)


def test_bad_options_and_inputs_are_clear_errors(
    col_dirs: dict[str, Path], embedders: dict[str, ColVisionEmbedder], pages: list[Page], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="multi_dim"):
        ColVisionEmbedder(str(col_dirs["colpali"]), device="cpu", multi_dim=64)
    with pytest.raises(ConfigError, match="unknown pooling"):
        ColVisionEmbedder(str(col_dirs["colpali"]), device="cpu", pooling="rows")
    with pytest.raises(ModelError, match=r"report\.pdf page 1: no page image"):
        embedders["colpali"].embed_pages([replace(pages[0], image_path=None)])
    with pytest.raises(ModelError, match="does not exist"):
        embedders["colpali"].embed_pages([replace(pages[0], image_path=tmp_path / "gone.png")])
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelError, match="not a ColQwen2/ColPali checkpoint"):
        ColVisionEmbedder(str(tmp_path / "bert"), device="cpu")
    with pytest.raises(ModelError, match="missing is not a folder with model weights"):
        ColVisionEmbedder(str(tmp_path / "missing"), device="cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("name", FAMILIES)
def test_cuda_bf16_matches_cpu(
    name: str, col_dirs: dict[str, Path], embedders: dict[str, ColVisionEmbedder], pages: list[Page]
) -> None:
    import torch

    gpu = ColVisionEmbedder(str(col_dirs[name]), device="cuda")
    assert gpu.dtype == torch.bfloat16 and next(gpu.model.parameters()).dtype == torch.bfloat16
    cpu_out, gpu_out = embedders[name].embed_pages(pages), gpu.embed_pages(pages)
    for c, g in zip(cpu_out, gpu_out, strict=True):
        assert c.multi is not None and g.multi is not None
        assert g.multi.dtype == np.float32 and g.multi.shape == c.multi.shape and _unit_rows(g.multi)
        assert float(np.mean(np.sum(c.multi * g.multi, axis=1))) > 0.98
    q = gpu.embed_queries(QUERIES)[0]
    assert q.multi is not None and _unit_rows(q.multi)
