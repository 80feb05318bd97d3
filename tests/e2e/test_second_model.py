"""A second model, added only as a YAML config and a GX suite, trains end to end on another table."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config.loading import load_model
from pipelines.registry import versions as registry
from tests.conftest import ROOT
from tests.e2e.helpers import run_dag

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.usefixtures("registry_home")]

CONFIG = """
name: delivery_eta
description: Minutes from order to doorstep, a regression on another table.
task: regression
source:
  url_env: DELIVERY_SOURCE_URL
  query: >
    SELECT order_id, created_at, distance_km, items, courier_rating, city, vehicle, minutes
    FROM deliveries WHERE created_at >= :window_start AND created_at < :window_end
columns:
  timestamp: created_at
  entity_key: order_id
  label: minutes
  numeric: [distance_km, items, courier_rating]
  categorical: [city, vehicle]
windows: {training_days: 21, holdout_days: 5}
xgboost: {num_boost_round: 200, params: {max_depth: 3, learning_rate: 0.1, nthread: 2}}
policy: {primary_metric: rmse, floor: 12.0, min_improvement: 0.0, guards: {mae: 0.5}}
quality: {suite: deliveries}
"""

SUITE = {
    "name": "deliveries",
    "expectations": [
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 500},
            "meta": {"severity": "critical"},
        },
        {
            "type": "expect_column_values_to_be_unique",
            "kwargs": {"column": "order_id"},
            "meta": {"severity": "critical"},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "distance_km", "min_value": 0, "max_value": 60},
            "meta": {"severity": "critical"},
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "vehicle", "value_set": ["bike", "scooter", "car"]},
            "meta": {"severity": "warning"},
        },
    ],
}


def deliveries(days: int, per_day: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    distance = rng.gamma(2.0, 2.5, n).clip(0.2, 59)
    items = rng.integers(1, 9, n)
    vehicle = rng.choice(["bike", "scooter", "car"], n)
    city = rng.choice(["lyon", "lille", "nantes"], n)
    speed = pd.Series(vehicle).map({"bike": 0.25, "scooter": 0.35, "car": 0.5}).to_numpy()
    minutes = 8 + distance / speed + 1.5 * items + 4 * (city == "lyon") + rng.normal(0, 3, n)
    return pd.DataFrame(
        {
            "order_id": np.arange(n),
            "created_at": pd.Timestamp("2026-02-01")
            + pd.to_timedelta(day, "D")
            + pd.to_timedelta(rng.integers(0, 86_400, n), "s"),
            "distance_km": distance.round(2),
            "items": items,
            "courier_rating": rng.uniform(3, 5, n).round(1),
            "city": city,
            "vehicle": vehicle,
            "minutes": minutes.round(1),
        }
    )


@pytest.fixture
def delivery_model(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    configs, suites = tmp_path / "configs", tmp_path / "expectations"
    configs.mkdir()
    suites.mkdir()
    (configs / "demo.yaml").write_text((ROOT / "configs" / "demo.yaml").read_text())
    (configs / "delivery_eta.yaml").write_text(CONFIG)
    (suites / "deliveries.json").write_text(json.dumps(SUITE))
    monkeypatch.setenv("PIPELINES_CONFIGS_DIR", str(configs))
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(suites))
    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'deliveries.db'}"
    deliveries(days=45, per_day=120, seed=5).to_sql("deliveries", url, index=False)
    monkeypatch.setenv("DELIVERY_SOURCE_URL", url)
    return url


def test_a_regression_model_from_yaml_and_suite_runs_end_to_end(airflow_db, delivery_model):
    from airflow.dag_processing.dagbag import DagBag

    # Given: a DagBag parsed with the new config next to the demo one
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.get_dag("retrain_delivery_eta")
    assert dag is not None

    # When: two nightly runs
    first = run_dag(dag, date(2026, 3, 1))
    second = run_dag(dag, date(2026, 3, 8))

    # Then: both succeed; the first version is champion with a sane RMSE and a regression decision on record
    assert first[0] == "success", first[1]
    assert second[0] == "success", second[1]
    versions = registry.all_versions("delivery_eta")
    assert [v.window_end for v in versions] == ["2026-03-08", "2026-03-01"]
    champion = registry.by_alias("delivery_eta", registry.CHAMPION)
    assert champion is not None and champion.holdout_metrics["rmse"] < 12.0
    assert set(champion.holdout_metrics) == {"rmse", "mae", "r2"}
    assert versions[0].tags["suite"] == "deliveries"
    assert load_model("delivery_eta").task == "regression"
