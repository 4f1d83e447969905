"""The model registry: names, roles, defaults and errors (no model is loaded here)."""

from __future__ import annotations

import json

import pytest

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.cli import main
from pagerag.retriever.embedders.registry import (
    DEFAULT_MODELS,
    available,
    build_embedder,
    model_info,
    resolve,
)


def test_defaults_are_the_packaged_offline_models() -> None:
    assert DEFAULT_MODELS == {"dense": "e5-small", "multi": "minilm-tokens", "sparse": "bm25-bigrams"}
    for name in DEFAULT_MODELS.values():
        assert model_info(name).needs == ""


def test_full_size_adapters_are_registered_by_module_path() -> None:
    targets = {m.name: m.target for m in available()}
    assert targets["jina-v4"] == "pagerag.retriever.embedders.jina_v4:JinaV4Embedder"
    assert (
        targets["colqwen2"]
        == targets["colqwen2.5"]
        == targets["colpali"]
        == "pagerag.retriever.embedders.colpali:ColVisionEmbedder"
    )
    assert model_info("colqwen2").default_id == "vidore/colqwen2-v1.0-hf"  # transformers format
    with pytest.raises(ConfigError, match=r"'colqwen2\.5' needs an id or path"):
        resolve({"multi": "colqwen2.5"})  # vidore publishes only colpali-engine adapters of it
    assert targets["jina-colbert-v2"] == "pagerag.retriever.embedders.colbert:ColbertEmbedder"
    assert targets["st"] == "pagerag.retriever.embedders.sentence:SentenceTransformerEmbedder"
    assert model_info("st:intfloat/e5-base").name == "st"
    assert model_info("jina-v4").dims == {"dense": 2048, "multi": 128}


def test_resolve_fills_roles_from_defaults_and_none_drops_a_role() -> None:
    assert resolve(None) == DEFAULT_MODELS
    assert resolve({"dense": "jina-v4", "multi": "jina-v4"}) == {
        "dense": "jina-v4",
        "multi": "jina-v4",
        "sparse": "bm25-bigrams",
    }
    assert resolve({"multi": "none", "sparse": "none"}) == {"dense": "e5-small"}


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"dense": "nope"}, "unknown model 'nope'"),
        ({"colour": "e5-small"}, "unknown model role 'colour'"),
        ({"multi": "e5-small"}, "cannot give multi"),
        ({"sparse": "minilm-tokens"}, "cannot give sparse"),
        ({"dense": "none"}, "dense model is required"),
    ],
)
def test_resolve_rejects_bad_choices(models: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(models)


def test_packaged_models_take_no_path_and_st_needs_one() -> None:
    with pytest.raises(ConfigError, match="takes no id or path"):
        build_embedder({"sparse": "bm25:/somewhere"}, device="cpu")  # fails before loading anything
    with pytest.raises(ConfigError, match="needs an id or path"):
        resolve({"dense": "st", "multi": "none"})
    assert resolve({"dense": "st:/models/e5-base"})["dense"] == "st:/models/e5-base"


def test_models_command_lists_defaults_and_adapters_with_dims(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["e5-small"]["default_for"] == ["dense"]
    assert rows["minilm-tokens"]["dims"] == {"dense": 384, "multi": 384}
    assert {"jina-v4", "colqwen2", "colqwen2.5", "colpali", "jina-colbert-v2", "st"} <= set(rows)
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "jina-v4" in table and "multi 128" in table and "pagerag[gpu-models]" in table


def test_registered_adapter_classes_exist_where_their_modules_are_present() -> None:
    import importlib
    import importlib.util

    for info in available():
        module_name, _, class_name = info.target.partition(":")
        if importlib.util.find_spec(module_name) is None:
            continue  # an adapter not written yet: building it raises ModelError
        assert hasattr(importlib.import_module(module_name), class_name), info.target


def test_missing_adapter_or_package_gives_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from pagerag.ingest.errors import MissingDependency, ModelError
    from pagerag.retriever.embedders import registry

    ghosts = (
        registry.ModelInfo(
            "ghost", "dense", {"dense": 8}, "", "weights", "pagerag.retriever.embedders.ghost:G", "x"
        ),
        registry.ModelInfo("needs-pkg", "dense", {"dense": 8}, "", "weights", "no_such_package_xyz:G", "x"),
    )
    monkeypatch.setattr(registry, "_MODELS", (*registry._MODELS, *ghosts))
    with pytest.raises(ModelError, match=r"adapter pagerag\.retriever\.embedders\.ghost:G is not available"):
        build_embedder({"dense": "ghost", "multi": "none", "sparse": "none"})
    with pytest.raises(MissingDependency, match=r'pip install "pagerag\[gpu-models\]"'):
        build_embedder({"dense": "needs-pkg", "multi": "none", "sparse": "none"})


def test_composite_runs_dense_and_multi_parts_and_merges_them_in_order() -> None:
    import threading

    import numpy as np

    from pagerag.ingest.types import Page
    from pagerag.retriever.embedders.bm25 import Bm25Encoder
    from pagerag.retriever.embedders.composite import CompositeEmbedder
    from pagerag.retriever.types import EmbedderSpec, Embedding, VectorSpec

    class Part:
        def __init__(self, multi: bool) -> None:
            self.name = "multi-part" if multi else "dense-part"
            self.threads: set[str] = set()
            self.multi = multi

        @property
        def spec(self) -> EmbedderSpec:
            multi = VectorSpec("multi", 4, multivector=True) if self.multi else None
            return EmbedderSpec(VectorSpec("dense", 4), multi)

        def _out(self, texts: list[str]) -> list[Embedding]:
            self.threads.add(threading.current_thread().name)
            rows = [np.full((len(t.split()) or 1, 4), 0.5, np.float32) for t in texts]
            return [
                Embedding(np.full(4, float(i), np.float32), r if self.multi else None)
                for i, r in enumerate(rows)
            ]

        def embed_pages(self, pages: list[Page]) -> list[Embedding]:
            return self._out([p.text for p in pages])

        def embed_queries(self, texts: list[str]) -> list[Embedding]:
            return self._out(list(texts))

    dense, multi = Part(False), Part(True)
    emb = CompositeEmbedder(dense, multi, Bm25Encoder(), pool_group=2)  # type: ignore[arg-type]
    assert emb.spec.models == {"dense": "dense-part", "multi": "multi-part", "sparse": "bm25"}
    assert emb.spec.pooled is not None and emb.spec.pooled.multivector
    out = emb.embed_queries(["one two three", "four"])
    assert [float(e.dense[0]) for e in out] == [0.0, 1.0]
    assert [e.multi.shape[0] for e in out] == [3, 1]
    assert [e.pooled.shape[0] for e in out] == [2, 1]  # mean pooling by 2 when the part gives none
    assert out[0].sparse is not None and len(out[0].sparse.indices) == 3
    here = threading.current_thread().name
    assert multi.threads == {here} and dense.threads == {here}  # queries: one after the other
    emb.embed_pages([Page(doc_id="d" * 64, source="a.pdf", page=1, page_count=1, text="one two")])
    assert multi.threads == {here, "pagerag-embed_0"} and dense.threads == {here}  # pages: both at once
    emb.close()
    with pytest.raises(ConfigError, match="no multi-vector"):
        CompositeEmbedder(dense, dense)  # type: ignore[arg-type]
