"""Scoring with the model's own categories: a value never seen in training is scored exactly as a missing
value, counted and reported, whether it sorts before, between or after the known ones."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from xgboost.core import XGBoostError

from pipelines.config.data_sections import ColumnsConfig
from pipelines.config.loading import load_model
from pipelines.config.model import ModelConfig
from pipelines.model.estimators import predict
from pipelines.model.features import FeatureError, model_frame
from pipelines.model.scoring import Scored, aligned_frame, score, trained_categories

REGION_VALUE = {"east": 0.0, "north": 1.0, "south": 2.0, "west": 3.0}
MISSING_VALUE = 5.0  # what a row without a region is worth, apart from every known region


@pytest.fixture(scope="module")
def cfg() -> ModelConfig:
    columns = ColumnsConfig(timestamp="ts", entity_key="id", label="y", numeric=("x",), categorical=("region",))
    return load_model("demo").model_copy(update={"task": "regression", "columns": columns})


@pytest.fixture(scope="module")
def model(cfg: ModelConfig) -> object:
    """A small regressor: the target is the region's value (missing regions have their own) plus a bit of x."""
    import xgboost as xgb

    rng = np.random.default_rng(0)
    regions = rng.choice(list(REGION_VALUE), 600).astype(object)
    regions[:60] = None
    x = rng.normal(size=600)
    target = np.array([REGION_VALUE.get(r, MISSING_VALUE) for r in regions]) + 0.1 * x
    fitted = xgb.XGBRegressor(n_estimators=30, max_depth=3, tree_method="hist", enable_categorical=True, nthread=1)
    fitted.fit(model_frame(pd.DataFrame({"x": x, "region": regions}), cfg), target)
    return fitted


def rows(*regions: str | None) -> pd.DataFrame:
    """Rows that differ only in region, with columns the model does not use as well."""
    n = len(regions)
    return pd.DataFrame({"id": range(n), "ts": ["2026-03-01"] * n, "x": [0.0] * n, "region": list(regions)})


def test_the_models_categories_are_stored_with_it_in_its_order(model: object) -> None:
    assert trained_categories(model) == {"region": ["east", "north", "south", "west"]}


@pytest.mark.parametrize("value", ["newtown", "zzz", "aaa"], ids=["between", "after", "before"])
def test_an_unseen_value_scores_exactly_as_a_missing_value_and_is_counted(
    model: object, cfg: ModelConfig, value: str
) -> None:
    # given a row with a region never seen in training, one without a region and two known ones
    frame = rows(value, None, "east", value, "north")
    # when
    scored = score(model, frame, cfg)
    # then
    unseen, missing, east, _, north = scored.scores
    assert unseen == missing
    assert east == pytest.approx(REGION_VALUE["east"], abs=0.1) and north == pytest.approx(1.0, abs=0.1)
    assert missing == pytest.approx(MISSING_VALUE, abs=0.1)
    assert scored.unseen == {"region": {value: 2}}
    assert scored.unseen_lines() == [f"region: 2 rows with values never seen in training ({value}), scored as missing"]


def test_without_alignment_xgboost_refuses_or_mis_scores_unseen_values(model: object, cfg: ModelConfig) -> None:
    """The problem the alignment solves (XGBoost 3.2, upstream issue #11826)."""

    def unaligned(value: str) -> float | None:
        try:
            return float(predict(model, model_frame(rows(value), cfg), "regression")[0])
        except XGBoostError:
            return None

    missing, north = score(model, rows(None), cfg).scores[0], unaligned("north")
    assert missing == pytest.approx(MISSING_VALUE, abs=0.1)
    assert unaligned("zzz") is None, "after every known value: 'Found a category not in the training set'"
    between = unaligned("newtown")
    assert between != missing, "between known values it is never scored as missing"
    assert between in (None, pytest.approx(north)), "XGBoost 3.2 silently scores it as the next category"


def test_aligned_frame_has_the_models_categories_even_for_a_window_without_some(
    model: object, cfg: ModelConfig
) -> None:
    features, unseen = aligned_frame(model, rows("west", "west", "nowhere", None), cfg)
    assert list(features["region"].cat.categories) == ["east", "north", "south", "west"]
    assert features["region"].cat.codes.tolist() == [3, 3, -1, -1]
    assert list(features.columns) == ["x", "region"]
    assert unseen == {"region": {"nowhere": 1}}


def test_a_missing_column_or_a_config_that_does_not_fit_the_model_is_a_feature_error(
    model: object, cfg: ModelConfig
) -> None:
    with pytest.raises(FeatureError, match="lacks feature columns: region"):
        score(model, rows("east").drop(columns="region"), cfg)
    wider = cfg.model_copy(update={"columns": cfg.columns.model_copy(update={"numeric": ("x", "id")})})
    with pytest.raises(
        FeatureError, match="the model was trained on features x, region; the config gives x, id, region"
    ):
        score(model, rows("east"), wider)


def test_unseen_lines_name_the_most_common_values_first() -> None:
    scored = Scored(np.zeros(1), {"plan": {f"p{i}": i for i in range(1, 8)}, "region": {"newtown": 1}})
    assert scored.unseen_lines() == [
        "plan: 28 rows with values never seen in training (p7, p6, p5, p4, p3, and 2 more), scored as missing",
        "region: 1 row with values never seen in training (newtown), scored as missing",
    ]


def test_categories_survive_mlflow_and_a_registered_champion_scores_new_regions_as_missing(
    register_trained: Callable[..., int], seeded_source: str, demo_cfg: ModelConfig
) -> None:
    from pipelines.registry import versions as registry

    # given the demo model as logged by train (mlflow.xgboost) and loaded back from the registry
    loaded = registry.load_model("demo", register_trained())
    frame = pd.read_sql("SELECT * FROM customer_events ORDER BY customer_id LIMIT 3", seeded_source)
    # when a new region appears (between "east" and "north") and when the region is missing
    scored = score(loaded, pd.concat([frame.assign(region="newtown"), frame.assign(region=None)]), demo_cfg)
    # then
    assert trained_categories(loaded)["region"] == ["central", "east", "north", "south", "west"]
    assert np.array_equal(scored.scores[:3], scored.scores[3:])
    assert scored.unseen == {"region": {"newtown": 3}}
