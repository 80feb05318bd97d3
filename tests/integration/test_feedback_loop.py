"""The feedback loop on real stores: batch scoring replaces exactly its window (SQLite by INSERT, PostgreSQL by
COPY), fails without writing on bad input, and performance measured from the predictions falls after a concept
shift, where decay is confirmed once per cooldown, not every day.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.cli import main
from pipelines.config.data_sections import SourceConfig
from pipelines.config.loading import load_model
from pipelines.config.model import ModelConfig
from pipelines.demo.seed import seed
from pipelines.errors import InputError, NoData
from pipelines.jobs.feedback import measure_performance
from pipelines.jobs.retrain import retrain
from pipelines.model.features import FeatureError
from pipelines.performance import batch_score, calibration, store
from pipelines.performance.batch_score import score_window
from pipelines.registry.versions import NoChampion
from tests.conftest import in_home

pytestmark = [pytest.mark.slow]

TRAINED_AS_OF = date(2026, 3, 1)


def scoring_cfg(days: int, batch_rows: int = 100_000, source: SourceConfig | None = None) -> ModelConfig:
    cfg = load_model("demo")
    assert cfg.scoring is not None
    changed = cfg.scoring.model_copy(update={"window_days": days, "batch_rows": batch_rows, "source": source})
    return cfg.model_copy(update={"scoring": changed})


def predictions(url: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text("SELECT * FROM pipelines_predictions ORDER BY event_ts, row_id"), conn)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def champion_home(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path, seeded_db: Path) -> Path:
    """A state folder where a champion was trained as of 2026-03-01 on the seeded source (with its calibration
    stored), built once. Tests start from a copy and only read the model: the copy's MLflow experiment still keeps
    its artifacts in this folder."""
    home = tmp_path_factory.mktemp("champion") / "home"
    with in_home(home, mlflow_template):
        outcome = retrain(load_model("demo"), TRAINED_AS_OF, f"sqlite:///{seeded_db}")
    assert outcome.status == "promoted", outcome.reasons
    return home


@pytest.fixture
def champion(home: Path, champion_home: Path, seeded_source: str) -> str:
    """This test's state folder, a copy of ``champion_home``, with the seeded source; the source URL."""
    shutil.copytree(champion_home, home, dirs_exist_ok=True)
    return seeded_source


def test_scoring_a_window_again_leaves_one_set_and_a_failure_midway_keeps_the_last(
    champion: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = f"sqlite:///{home / 'predictions.db'}"
    cfg = scoring_cfg(days=3, batch_rows=100)
    # when the three days before 03-05 are scored twice
    first = score_window(cfg, date(2026, 3, 5), champion, target, run_id="run-1")
    second = score_window(cfg, date(2026, 3, 5), champion, target, run_id="run-2")
    # then one set of rows: one per input, all from the second run, with the champion's version
    rows = predictions(target)
    assert (first.rows, second.rows, len(rows)) == (450, 450, 450)
    assert second.batches == 6 and rows["row_id"].is_unique
    assert set(rows["run_id"]) == {"run-2"} and set(rows["model_version"]) == {1}
    assert (rows["predicted_class"] == (rows["score"] >= 0.5).astype(int)).all()
    assert rows["event_ts"].min() >= "2026-03-02" and rows["event_ts"].max() < "2026-03-05"
    # and another window's rows are left alone by a re-run of this one
    score_window(scoring_cfg(days=1), date(2026, 3, 6), champion, target, run_id="run-3")
    score_window(cfg, date(2026, 3, 5), champion, target, run_id="run-4")
    assert predictions(target).groupby("run_id").size().to_dict() == {"run-3": 150, "run-4": 450}

    # given a scoring run that breaks after its second batch
    real_score, calls = batch_score.score, []

    def breaks(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker lost mid-write")
        return real_score(*args, **kwargs)

    monkeypatch.setattr(batch_score, "score", breaks)
    with pytest.raises(RuntimeError, match="mid-write"):
        score_window(cfg, date(2026, 3, 5), champion, target, run_id="run-5")
    # then the window's earlier predictions are all still there, none of the broken run's
    assert predictions(target).groupby("run_id").size().to_dict() == {"run-3": 150, "run-4": 450}

    # given a window without rows (years later): nothing is replaced, and the run fails
    monkeypatch.setattr(batch_score, "score", real_score)
    with pytest.raises(NoData, match=r"no rows in 2029-01-02\.\.2029-01-04 to score"):
        score_window(cfg, date(2029, 1, 5), champion, target, run_id="run-6")
    assert len(predictions(target)) == 600


def test_rows_a_query_returns_outside_the_window_are_counted_not_written(champion: str, home: Path) -> None:
    # given a scoring query that takes the window's end day too (BETWEEN is inclusive)
    target = f"sqlite:///{home / 'predictions.db'}"
    inclusive = SourceConfig(
        url_env="PIPELINES_SOURCE_URL",
        query="SELECT * FROM customer_events WHERE event_ts BETWEEN :window_start AND date(:window_end, '+1 day')",
    )
    result = score_window(scoring_cfg(days=1, source=inclusive), date(2026, 3, 5), champion, target, run_id="q")
    # then only the window's day is written (the next day's run would not replace the others), and it says so
    assert (result.rows, result.outside) == (150, 150)
    assert predictions(target)["event_ts"].str.startswith("2026-03-04").all()


def test_a_missing_column_stops_scoring_before_anything_is_written(champion: str, home: Path) -> None:
    target = f"sqlite:///{home / 'predictions.db'}"
    score_window(scoring_cfg(days=1), date(2026, 3, 5), champion, target, run_id="before")
    # given rows to score that lack a feature the model needs
    without = SourceConfig(
        url_env="PIPELINES_SOURCE_URL",
        query="SELECT customer_id, event_ts, tenure_months FROM customer_events "
        "WHERE event_ts >= :window_start AND event_ts < :window_end",
    )
    with pytest.raises(FeatureError, match="monthly_charges"):
        score_window(scoring_cfg(days=1, source=without), date(2026, 3, 5), champion, target, run_id="broken")
    assert set(predictions(target)["run_id"]) == {"before"}


def test_no_champion_or_no_predictions_is_a_clear_error(registry_home: Path, seeded_source: str, home: Path) -> None:
    target = f"sqlite:///{home / 'predictions.db'}"
    unscored = load_model("demo").model_copy(update={"scoring": None})
    with pytest.raises(InputError, match="no scoring section"):
        measure_performance(unscored, date(2026, 3, 20), seeded_source, target)
    with pytest.raises(NoChampion, match="no champion yet, nothing to score with"):
        score_window(scoring_cfg(days=1), date(2026, 3, 5), seeded_source, target, run_id="r")
    retrain(load_model("demo"), TRAINED_AS_OF, seeded_source)
    with pytest.raises(NoData, match=r"no predictions in 2026-02-\d\d..2026-03-19: run score first"):
        measure_performance(load_model("demo"), date(2026, 3, 20), seeded_source, target)


@pytest.mark.postgres
def test_postgres_scores_by_copy_with_the_same_rows_as_sqlite(champion: str, postgres_db: str, home: Path) -> None:
    # given the same demo rows in PostgreSQL and in SQLite, and a champion trained on them
    sqlite_source = champion
    seed(postgres_db, date(2026, 1, 1), days=90, rows_per_day=150, seed=3)
    cfg = scoring_cfg(days=2, batch_rows=120)
    # when scoring reads PostgreSQL in Arrow batches and writes by COPY, twice
    score_window(cfg, date(2026, 3, 5), postgres_db, postgres_db, run_id="pg-1")
    result = score_window(cfg, date(2026, 3, 5), postgres_db, postgres_db, run_id="pg-2")
    local = f"sqlite:///{home / 'predictions.db'}"
    score_window(cfg, date(2026, 3, 5), sqlite_source, local, run_id="lite")
    # then one set of rows, and the same ids, timestamps and scores as the SQLite path
    on_pg, on_sqlite = predictions(postgres_db), predictions(local)
    assert (result.rows, len(on_pg)) == (300, 300) and set(on_pg["run_id"]) == {"pg-2"}
    merged = on_pg.merge(on_sqlite, on="row_id", suffixes=("_pg", "_lite"))
    assert len(merged) == 300
    assert (pd.to_datetime(merged["event_ts_pg"]) == pd.to_datetime(merged["event_ts_lite"])).all()
    assert (merged["score_pg"] - merged["score_lite"]).abs().max() < 1e-9
    assert (merged["entity_key_pg"] == merged["entity_key_lite"]).all()


def test_a_concept_shift_makes_measured_performance_fall_and_decay_is_confirmed_once_per_cooldown(
    registry_home: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a source whose labels follow another rule from 2026-03-02 on (inputs unchanged), a champion
    # trained before it, and the champion's scores of all of March
    source, target = f"sqlite:///{home / 'shifted.db'}", f"sqlite:///{home / 'predictions.db'}"
    seed(source, date(2026, 1, 1), days=90, rows_per_day=150, seed=3, scenario="concept-shift", scenario_days=30)
    assert retrain(load_model("demo"), TRAINED_AS_OF, source).status == "promoted"
    cfg = scoring_cfg(days=31)
    score_window(cfg, date(2026, 4, 1), source, target, run_id="march")
    reference = calibration.load("demo", 1)
    assert reference is not None and reference.calibration is not None
    holdout = reference.holdout["roc_auc"]
    # when performance is measured daily from 03-11 to 03-16 (labels 7 days late, checks pool 7 days)
    checks = {day: measure_performance(cfg, day, source, target) for day in (date(2026, 3, d) for d in range(11, 17))}
    # then the realized AUC on shifted days is far below the holdout, while the day before the shift is not
    series = store.series("demo")
    realized = series[(series["kind"] == "realized") & (series["slice"] == "") & (series["metric"] == "roc_auc")]
    by_day = dict(zip(realized["day"], realized["value"], strict=True))
    assert by_day["2026-03-01"] > holdout - 0.1
    assert max(v for d, v in by_day.items() if d >= "2026-03-02") < holdout - 0.15
    # and measuring a day again replaced its rows instead of adding to them
    assert not series.duplicated(["day", "model_version", "kind", "slice", "metric"]).any()
    # and every check saw decay; the second confirmed it, the cooldown (72 h) held the next two back, and only
    # once it was over (no retrain fixed the champion) did a check act again
    assert all(check.decay for check in checks.values())
    confirmed = [day for day, check in checks.items() if check.confirmed]
    assert confirmed == [date(2026, 3, 12), date(2026, 3, 15)]
    assert "cooldown until 2026-03-15" in checks[date(2026, 3, 14)].reason
    assert checks[date(2026, 3, 11)].reason == "1 of 2 consecutive checks with decay"
    # and a second run for a day already checked replaces its record: it is not another check in a row
    again = measure_performance(cfg, date(2026, 3, 11), source, target)
    assert again.reason == "1 of 2 consecutive checks with decay" and not again.confirmed
    extra = checks[date(2026, 3, 12)].event_extra()
    assert extra["champion_version"] == 1 and extra["plot"].endswith("/artifacts/performance.png")
    assert any("worse than v1's holdout" in line for line in extra["findings"])
    # and days whose labels were not in at a check were estimated (CBPE) then; once in, they were measured too,
    # so estimate and realized value stand side by side (CBPE cannot see a new label rule: its estimate stays up)
    estimated = series[(series["kind"] == "estimated") & (series["metric"] == "roc_auc")]
    estimates = dict(zip(estimated["day"], estimated["value"], strict=True))
    assert min(estimates) == "2026-03-04" and max(estimates) == "2026-03-15"
    assert estimates["2026-03-05"] > holdout - 0.05 > by_day["2026-03-05"]

    # the CLI says the same in one JSON object
    assert main(["performance", "--as-of", "2026-03-16", "--source-url", source, "--target-url", target, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["decay"] is True and shown["champion_version"] == 1
    assert [b["kind"] for b in shown["measured"]] == ["realized", "estimated"]
    # and status shows the champion's newest measurements and the last check
    assert main(["status", "--json"]) == 0
    performance = json.loads(capsys.readouterr().out)["performance"]
    assert (performance["champion_version"], performance["metric"]) == (1, "roc_auc")
    assert performance["realized"]["day"] == "2026-03-08" and performance["realized"]["value"] < holdout - 0.15
    assert performance["estimated"]["day"] == "2026-03-15"
    assert (performance["checked_at"], performance["decay"]) == ("2026-03-16T00:00:00+00:00", True)


def test_cadence_replays_earlier_models_and_recommends_a_short_interval_after_a_concept_shift(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a source whose label rule changes on 2026-03-02, and no past versions with measured performance
    source = f"sqlite:///{home / 'shifted.db'}"
    seed(source, date(2026, 1, 1), days=90, rows_per_day=150, seed=3, scenario="concept-shift", scenario_days=30)
    # when cadence replays 3 models a week apart, each judged on its next 4 weeks, all before 04-01
    argv = ["cadence", "--as-of", "2026-04-01", "--source-url", source, "--weeks", "4", "--models", "3", "--json"]
    assert main(argv) == 0
    found = json.loads(capsys.readouterr().out)
    # then the models trained before the shift lose AUC with age, clearly, and the interval is short
    assert (found["basis"], found["models"], found["metric"]) == ("replay", 3, "roc_auc")
    low, high = found["slope_interval"]
    assert low <= found["slope_per_day"] <= high < 0
    assert found["recommended_days"] < 14 <= found["horizon_days"]
    assert {p["model_id"] for p in found["points"]} == {"as of 2026-02-18", "as of 2026-02-25", "as of 2026-03-04"}
    # and the result is stored for status and the Models page
    assert store.latest_cadence("demo") == ("replay", found["recommended_days"])


def test_labels_kept_in_another_database_are_joined_by_timestamp_and_key(
    champion: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the champion's scores of 03-02..03-11, and their labels alone in a database of their own
    target, labels_db = f"sqlite:///{home / 'predictions.db'}", home / "labels.db"
    score_window(scoring_cfg(days=10), date(2026, 3, 12), champion, target, run_id="r")
    source = sa.create_engine(champion)
    with source.connect() as conn:
        truth = pd.read_sql(sa.text("SELECT event_ts, customer_id, churned FROM customer_events"), conn)
    source.dispose()
    engine = sa.create_engine(f"sqlite:///{labels_db}")
    with engine.begin() as conn:
        truth.to_sql("churn_labels", conn, index=False)
    engine.dispose()
    monkeypatch.setenv("PIPELINES_LABELS_URL", f"sqlite:///{labels_db}")
    labels = SourceConfig(
        url_env="PIPELINES_LABELS_URL",
        query="SELECT event_ts, customer_id, churned FROM churn_labels "
        "WHERE event_ts >= :window_start AND event_ts < :window_end",
    )
    cfg = scoring_cfg(days=10)
    cfg = cfg.model_copy(update={"feedback": cfg.feedback.model_copy(update={"labels": labels})})
    # when performance is measured as of 03-16 (labels 7 days late: 03-02..03-08 are in)
    check = measure_performance(cfg, date(2026, 3, 16), champion, target, record=False)
    # then the realized value comes from those labels, on every scored row of the labelled days
    realized = check.measured[0]
    assert (realized.kind, realized.rows, realized.first_day) == ("realized", 7 * 150, "2026-03-02")
    assert realized.value is not None and 0.6 < realized.value < 0.95
