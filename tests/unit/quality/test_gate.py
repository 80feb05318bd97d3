"""The quality gate sees the newest day: per-day checks next to the whole-window suite, on the real gate.

Gate tests seed a SQLite source with a scenario of ``pipelines.scenarios``, ingest the window and call
``pipelines.quality.gate.validate``: the same path as the DAG's ``validate`` task, without Airflow (a DAG run costs
several times more; ``tests/e2e/test_quality_gate_alerts.py`` keeps a few representative ones). Each starts
from a copy of a state folder where the gate already validated clean data for the same window, so GX's
context, suites and Data Docs site exist, as on any run after the first.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.alerts.event_messages import quality_alert
from pipelines.config.model import ModelConfig
from pipelines.config.quality_sections import DailyChecksConfig
from pipelines.data.ingest import ingest
from pipelines.data.windows import Window
from pipelines.demo.scenarios import SCENARIOS
from pipelines.demo.seed import generate, seed
from pipelines.quality.day_checks import day_checks
from pipelines.quality.gate import validate
from pipelines.quality.report import CheckResult, QualityGateFailed, QualityReport
from pipelines.quality.suites import with_unique_key

START = date(2026, 1, 1)
RUN_DATE = date(2026, 4, 1)  # window 2026-02-11 .. 2026-03-31
SOURCE_START, SOURCE_DAYS = date(2026, 2, 4), 56  # the gate tests' source: 2026-02-04 .. 2026-03-31
LAST_DAY = "2026-03-31"

# scenario -> (expectation, column) of a critical check that must name it; the newest-day cases also name
# the statistic and the day.
CAUGHT_BY_THE_SUITE = {
    "renamed-column": ("expect_column_to_exist", "monthly_charges"),
    "dropped-column": ("expect_column_to_exist", "tenure_months"),
    "type-change": ("expect_column_values_to_be_in_type_list", "total_charges"),
    "null-spike": ("expect_column_values_to_not_be_null", "monthly_charges"),
    "out-of-range": ("expect_column_values_to_be_between", "age"),
    "unknown-category": ("expect_column_values_to_be_in_set", "plan"),
    "duplicate-keys": ("expect_column_values_to_be_unique", "customer_id"),
    "empty-window": ("expect_table_row_count_to_be_between", None),
    "stale": ("expect_column_max_to_be_between", "event_ts"),
    "future-timestamps": ("expect_column_values_to_be_between", "event_ts"),
    "single-class": ("expect_column_distinct_values_to_equal_set", "churned"),
}
CAUGHT_BY_DAY_CHECKS = {
    "unit-change-last-day": ("newest mean", "avg_session_minutes", "mean", LAST_DAY),
    "labels-zero-last-days": ("newest label_rate", "churned", "label_rate", LAST_DAY),
    "null-spike-last-day": ("newest null_rate", "avg_session_minutes", "null_rate", LAST_DAY),
    "all-null-feature": ("window non_null", "discount_pct", "non_null", "2026-02-11..2026-03-31"),
    "infinite-values": ("daily infinite", "total_charges", "infinite", LAST_DAY),
}


def gate(cfg: ModelConfig, home: Path, scenario: str | None, as_of: date = RUN_DATE) -> QualityReport:
    """The gate's report on a snapshot of a seeded source (150 rows a day), broken by ``scenario``."""
    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'source.db'}"
    seed(url, SOURCE_START, days=SOURCE_DAYS, rows_per_day=150, seed=3, scenario=scenario)
    return validate(cfg, ingest(cfg, as_of, url))


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, QualityReport]:
    """A state folder where the gate validated clean data as of RUN_DATE, and its report (built once)."""
    from pipelines.config.loading import load_model

    template = tmp_path_factory.mktemp("clean-run")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PIPELINES_HOME", str(template))
        report = gate(load_model("demo"), template, None)
    return template, report


@pytest.fixture
def warm_home(home: Path, clean_run: tuple[Path, QualityReport]) -> Path:
    """This test's state folder, starting as a copy of ``clean_run``'s."""
    shutil.copytree(clean_run[0], home)
    return home


def failing(checks: pd.DataFrame) -> pd.DataFrame:
    return checks[(checks["observed"] < checks["low"]) | (checks["observed"] > checks["high"])]


def with_daily(cfg: ModelConfig, **changes: object) -> ModelConfig:
    daily = DailyChecksConfig.model_validate({**cfg.quality.daily.model_dump(), **changes})
    return cfg.model_copy(update={"quality": cfg.quality.model_copy(update={"daily": daily})})


def checks_as_of(cfg: ModelConfig, frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    return day_checks(cfg, frame, Window.for_as_of(as_of, cfg.windows))


# --- the per-day aggregate ----------------------------------------------------------------------------


def test_the_day_frame_has_a_row_per_day_column_and_statistic_with_its_bounds(demo_cfg: ModelConfig) -> None:
    frame = generate(START, days=60, rows_per_day=100, seed=1)

    checks = checks_as_of(demo_cfg, frame, date(2026, 3, 1))

    # window 2026-01-11 .. 2026-02-28: 48 earlier days, each checked; the newest day on its own bounds
    earlier = checks[checks["check"] == "day"]
    assert earlier["day"].nunique() == 49  # 48 relative days + the newest day's ±inf counts
    rows = earlier[earlier["statistic"] == "rows"]
    assert list(rows["day"]) == [(date(2026, 1, 11) + timedelta(days=i)).isoformat() for i in range(48)]
    assert rows["observed"].eq(100).all() and rows["typical"].eq(100).all()
    newest = checks[checks["check"] == "newest"].set_index(["column", "statistic"])
    assert set(newest["day"]) == {"2026-02-28"}
    assert {("*", "rows"), ("churned", "label_rate"), ("plan", "null_rate"), ("age", "mean")} <= set(newest.index)
    assert set(checks.loc[checks["statistic"] == "non_null", "column"]) == {*demo_cfg.columns.features, "churned"}
    # every bound brackets its typical value, and clean data is inside every bound
    centred = checks.dropna(subset=["typical"])
    assert (centred["low"] <= centred["typical"]).all() and (centred["typical"] <= centred["high"]).all()
    assert failing(checks).empty


@pytest.mark.parametrize(("rows_per_day", "seed_value"), [(150, 3), (400, 7), (60, 11)])  # tests, demo, small
def test_clean_demo_data_passes_every_day_check_on_every_seeded_date(
    demo_cfg: ModelConfig, rows_per_day: int, seed_value: int
) -> None:
    frame = generate(START, days=120, rows_per_day=rows_per_day, seed=seed_value)
    for as_of in (START + timedelta(days=d) for d in range(21, 121, 9)):
        bad = failing(checks_as_of(demo_cfg, frame[frame["event_ts"] < pd.Timestamp(as_of)], as_of))
        assert bad.empty, f"false alarm as of {as_of}:\n{bad.to_string()}"


def weekly_pattern(frame: pd.DataFrame) -> pd.DataFrame:
    """Weekends with 40% of a weekday's rows and 25% longer sessions."""
    weekend = frame["event_ts"].dt.day_of_week >= 5
    kept = frame[~weekend | (np.random.default_rng(0).random(len(frame)) < 0.4)].copy()
    kept.loc[kept["event_ts"].dt.day_of_week >= 5, "avg_session_minutes"] *= 1.25
    return kept


def test_a_weekly_pattern_is_compared_weekday_by_weekday(demo_cfg: ModelConfig) -> None:
    frame = weekly_pattern(generate(START, days=120, rows_per_day=400, seed=5))
    for as_of in (date(2026, 2, 20), date(2026, 4, 4), date(2026, 4, 5)):
        assert failing(checks_as_of(demo_cfg, frame, as_of)).empty, as_of
    # without weekdays, every weekend day of the window is out of line
    flat = failing(checks_as_of(with_daily(demo_cfg, weekly=False), frame, date(2026, 4, 5)))
    assert set(flat.loc[flat["statistic"] == "rows", "day"]) >= {"2026-03-28", "2026-03-29"}


def test_breakage_confined_to_the_last_day_is_caught_by_the_newest_day_only(demo_cfg: ModelConfig) -> None:
    frame = generate(START, days=90, rows_per_day=150, seed=3)
    last = frame["event_ts"] >= pd.Timestamp(LAST_DAY)
    broken = frame.assign(tenure_months=frame["tenure_months"].where(~last, frame["tenure_months"] * 2))

    bad = failing(checks_as_of(demo_cfg, broken, RUN_DATE))

    assert list(zip(bad["check"], bad["day"], bad["column"], bad["statistic"], strict=True)) == [
        ("newest", LAST_DAY, "tenure_months", "mean")
    ]
    assert bad["observed"].iloc[0] > bad["high"].iloc[0] > bad["typical"].iloc[0]


def test_a_longer_newest_increment_is_checked_as_a_whole_and_day_by_day(demo_cfg: ModelConfig) -> None:
    frame = generate(START, days=90, rows_per_day=150, seed=3)
    cfg = with_daily(demo_cfg, newest_days=3)
    last = frame["event_ts"] >= pd.Timestamp(LAST_DAY)

    bad = failing(checks_as_of(cfg, frame[~last], RUN_DATE))  # the feed stopped a day ago

    assert set(zip(bad["check"], bad["day"], bad["statistic"], strict=True)) == {("day", LAST_DAY, "rows")}
    newest = checks_as_of(cfg, frame, RUN_DATE).query("check == 'newest'")
    assert set(newest["day"]) == {"2026-03-29..2026-03-31"}


def test_short_history_keeps_the_absolute_checks_only(demo_cfg: ModelConfig) -> None:
    frame = generate(date(2026, 2, 25), days=5, rows_per_day=100, seed=1)  # 5 days of data in the window

    checks = checks_as_of(demo_cfg, frame, date(2026, 3, 2))

    assert set(checks["check"]) == {"window", "day"}
    assert set(checks["statistic"]) == {"rows", "non_null", "infinite"}
    day_rows = checks[(checks["check"] == "day") & (checks["statistic"] == "rows")]
    assert day_rows["low"].eq(demo_cfg.quality.min_rows_per_day).all()
    assert failing(checks).empty


def test_missing_and_non_numeric_columns_and_an_empty_window_are_left_to_the_suite(demo_cfg: ModelConfig) -> None:
    frame = generate(START, days=60, rows_per_day=100, seed=1)
    odd = frame.drop(columns=["age"]).assign(total_charges=frame["total_charges"].astype(str))

    checks = checks_as_of(demo_cfg, odd, date(2026, 3, 1))

    assert "age" not in set(checks["column"])
    assert set(checks.loc[checks["column"] == "total_charges", "statistic"]) == {"non_null", "null_rate"}
    empty = checks_as_of(demo_cfg, frame.iloc[:0], date(2026, 3, 1))
    assert empty[["check", "statistic", "observed"]].values.tolist() == [["window", "rows", 0]]


def test_disabled_day_checks_keep_the_null_and_infinity_checks(demo_cfg: ModelConfig) -> None:
    frame = generate(START, days=60, rows_per_day=100, seed=1)

    checks = checks_as_of(with_daily(demo_cfg, enabled=False), frame, date(2026, 3, 1))

    assert set(checks["statistic"]) == {"rows", "non_null", "infinite"}
    assert set(checks["check"]) == {"window", "day"}


# --- the gate -----------------------------------------------------------------------------------------


def test_the_catalogue_is_covered_by_the_gate_tests() -> None:
    assert set(CAUGHT_BY_THE_SUITE) | set(CAUGHT_BY_DAY_CHECKS) == set(SCENARIOS) - {"drift", "concept-shift"}


@pytest.mark.parametrize("scenario", sorted(CAUGHT_BY_DAY_CHECKS))
def test_each_newest_day_breakage_stops_the_gate_naming_day_statistic_value_and_bound(
    demo_cfg: ModelConfig, warm_home: Path, scenario: str, caplog: pytest.LogCaptureFixture
) -> None:
    expectation, column, statistic, day = CAUGHT_BY_DAY_CHECKS[scenario]

    with caplog.at_level(logging.INFO):
        report = gate(demo_cfg, warm_home, scenario)

    assert not report.success
    check = next(c for c in report.critical if (c.expectation, c.column) == (expectation, column))
    assert (check.statistic, check.day, check.severity) == (statistic, day, "critical")
    value, rest = check.observed.split(" on ", 1)
    assert float(value) >= 0 and rest.startswith(f"{day} (allowed {check.bound}")
    # and one alert (and the task's error) names it, with the observed value and the bound
    text = quality_alert("demo", RUN_DATE.isoformat(), "manual__1", report).text
    assert f"`{expectation}` on `{column}`: {check.observed}" in text
    assert f"{expectation} on {column}: observed {check.observed}" in str(QualityGateFailed(report))
    # the task log gets one line of the gate's own, and none of GX's INFO chatter
    assert not [r for r in caplog.records if r.name.startswith("great_expectations") and r.levelno < logging.WARNING]
    assert [r.getMessage() for r in caplog.records if r.name == "pipelines.quality.gate"] == [
        f"quality gate FAILED: suite demo, 76 expectations and {report.day_checks} per-day checks, "
        f"{len(report.critical)} critical and 0 warning(s) failed"
    ]


@pytest.mark.parametrize("scenario", sorted(CAUGHT_BY_THE_SUITE))
def test_each_whole_window_breakage_stops_the_gate_naming_the_expectation(
    demo_cfg: ModelConfig, warm_home: Path, scenario: str
) -> None:
    expectation, column = CAUGHT_BY_THE_SUITE[scenario]

    report = gate(demo_cfg, warm_home, scenario)

    assert not report.success
    assert (expectation, column) in {(c.expectation, c.column) for c in report.critical}
    assert report.critical[0].expectation.startswith("expect_"), "the suite's own failures are listed first"


def test_clean_data_passes_the_gate(clean_run: tuple[Path, QualityReport]) -> None:
    _, report = clean_run

    assert report.success, report.critical
    assert report.day_checks > 2000 and not report.warnings


def test_drift_is_valid_data_and_passes_the_gate(demo_cfg: ModelConfig, warm_home: Path) -> None:
    report = gate(demo_cfg, warm_home, "drift")

    assert report.success, report.critical


def test_reports_round_trip_with_the_day_fields() -> None:
    check = CheckResult(
        "newest mean", "age", "critical", "80 on 2026-03-31 (allowed 30 to 55)", "mean", LAST_DAY, "30 to 55"
    )
    report = QualityReport("demo", False, 76, [check], day_checks=2600)

    assert QualityReport.from_dict(report.to_dict()) == report
    older = {k: v for k, v in report.to_dict().items() if k != "day_checks"}
    older["critical"] = [
        {k: v for k, v in c.items() if k not in ("statistic", "day", "bound")} for c in older["critical"]
    ]
    assert QualityReport.from_dict(older) == replace(
        report, critical=[replace(check, statistic=None, day=None, bound=None)], day_checks=0
    )


def test_the_unique_key_check_follows_the_config(demo_cfg: ModelConfig) -> None:
    # Given: a suite without a uniqueness check, and configs with and without an entity key or unique key
    suite = {"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "x"}}]}
    data = demo_cfg.model_dump(by_alias=True)

    def columns(**changes: object) -> tuple[str, ...]:
        cfg = ModelConfig.model_validate({**data, "columns": {**data["columns"], **changes}})
        return cfg.columns.unique_columns

    # Then: the entity key by default, the listed columns, or none
    assert columns() == ("customer_id",)
    assert columns(unique_key=["customer_id", "event_ts"]) == ("customer_id", "event_ts")
    assert columns(unique_key=[]) == columns(entity_key=None) == ()
    assert columns(entity_key=None, unique_key=["event_ts"]) == ("event_ts",)
    with pytest.raises(ValueError, match="unique_key lists a column twice"):
        columns(unique_key=["event_ts", "event_ts"])
    # and: the suite gets one critical check for them, none without columns, no second copy of its own
    single = with_unique_key(suite, ("customer_id",))
    assert single["expectations"][-1]["type"] == "expect_column_values_to_be_unique"
    assert single["expectations"][-1]["kwargs"] == {"column": "customer_id"}
    assert single["expectations"][-1]["meta"]["severity"] == "critical"
    compound = with_unique_key(suite, ("customer_id", "event_ts"))["expectations"][-1]
    assert compound["type"] == "expect_compound_columns_to_be_unique"
    assert compound["kwargs"] == {"column_list": ["customer_id", "event_ts"]}
    assert with_unique_key(suite, ()) == suite
    assert with_unique_key(single, ("customer_id",)) == single
