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
    assert DEFAULT_MODELS == {"dense": "e5-small", "multi": "minilm-tokens", "sparse": "bm25"}
    for name in DEFAULT_MODELS.values():
        assert model_info(name).needs == ""


def test_full_size_adapters_are_registered_by_module_path() -> None:
    targets = {m.name: m.target for m in available()}
    assert targets["jina-v4"] == "pagerag.retriever.embedders.jina_v4:JinaV4Embedder"
    assert (
        targets["colqwen2.5"] == targets["colpali"] == "pagerag.retriever.embedders.colpali:ColVisionEmbedder"
    )
    assert targets["jina-colbert-v2"] == "pagerag.retriever.embedders.colbert:ColbertEmbedder"
    assert targets["st"] == "pagerag.retriever.embedders.sentence:SentenceTransformerEmbedder"
    assert model_info("st:intfloat/e5-base").name == "st"
    assert model_info("jina-v4").dims == {"dense": 2048, "multi": 128}


def test_resolve_fills_roles_from_defaults_and_none_drops_a_role() -> None:
    assert resolve(None) == DEFAULT_MODELS
    assert resolve({"dense": "jina-v4", "multi": "jina-v4"}) == {
        "dense": "jina-v4",
        "multi": "jina-v4",
        "sparse": "bm25",
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
    assert {"jina-v4", "colqwen2.5", "colpali", "jina-colbert-v2", "st"} <= set(rows)
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
