"""The hybrid recipe value: defaults chosen by measurement, and validation."""

from __future__ import annotations

import pytest

from pagerag.ingest.errors import ConfigError
from pagerag.retriever.recipe import DEFAULT_RECIPE, HybridRecipe


def test_default_recipe_prefetches_three_stages_and_fuses_maxsim_with_sparse() -> None:
    assert DEFAULT_RECIPE.prefetch >= 10
    assert DEFAULT_RECIPE.rerank_limit == DEFAULT_RECIPE.prefetch
    assert len(DEFAULT_RECIPE.weights) == 3
    assert DEFAULT_RECIPE.final is not None and DEFAULT_RECIPE.final[:2] == (1.0, 1.0)
    assert DEFAULT_RECIPE.final_fusion == "dbsf"
    assert HybridRecipe(final=(1.0, 2.0, 1.0), final_fusion="rrf").final == (1.0, 2.0, 1.0)


def test_rerank_limit_and_immutability() -> None:
    recipe = HybridRecipe(prefetch=80, rerank=40)
    assert recipe.rerank_limit == 40
    with pytest.raises(AttributeError):
        recipe.prefetch = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prefetch": 0},
        {"rerank": 0},
        {"rrf_k": 0},
        {"weights": (0.0, 0.0, 0.0)},
        {"weights": (1.0, -1.0, 1.0)},
        {"final": (0.0, 0.0, 0.0)},
        {"final": (1.0, 1.5, 1.0), "final_fusion": "dbsf"},  # DBSF weights are repeat counts
        {"final_across": (1.0, 0.5, 1.0)},
        {"final_fusion": "sum"},
    ],
)
def test_bad_recipes_raise_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="recipe"):
        HybridRecipe(**kwargs)  # type: ignore[arg-type]
