"""Synthetic demo data: deterministic, replaceable, and shaped like the demo model expects."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.demo.scenarios import apply_scenario
from pipelines.demo.seed import DEMO_TABLE, generate, seed, write_table

START = date(2026, 1, 1)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(START, days=10, rows_per_day=100, seed=5)


def table_rows(url: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(f"SELECT * FROM {DEMO_TABLE}"), conn)
    finally:
        engine.dispose()


def test_same_seed_gives_the_same_frame(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(generate(START, days=10, rows_per_day=100, seed=5), frame)


def test_other_seed_gives_other_data(frame: pd.DataFrame) -> None:
    other = generate(START, days=10, rows_per_day=100, seed=6)
    assert len(other) == len(frame)
    assert not other["monthly_charges"].equals(frame["monthly_charges"])


def test_shape_days_and_keys(frame: pd.DataFrame) -> None:
    # then each day has exactly rows_per_day rows, in time order, with unique customer ids
    days = frame["event_ts"].dt.date
    assert days.min() == START
    assert days.max() == date(2026, 1, 10)
    assert days.value_counts().eq(100).all()
    assert frame["event_ts"].is_monotonic_increasing
    assert frame["customer_id"].is_unique


def test_columns_fit_the_demo_config(frame: pd.DataFrame, demo_cfg: ModelConfig) -> None:
    cols = demo_cfg.columns
    # at least 15 features, numeric and categorical, every configured column present
    assert len(cols.features) >= 15
    assert set(cols.all) <= set(frame.columns)
    assert len(cols.numeric) >= 10
    assert len(cols.categorical) >= 3
    assert all(pd.api.types.is_numeric_dtype(frame[c]) for c in cols.numeric)
    assert not any(pd.api.types.is_numeric_dtype(frame[c]) for c in cols.categorical)


def test_some_features_have_missing_values(frame: pd.DataFrame, demo_cfg: ModelConfig) -> None:
    cols = demo_cfg.columns
    assert frame[list(cols.numeric)].isna().any().any()
    assert frame[list(cols.categorical)].isna().any().any()
    # the label, keys and timestamp are never missing
    assert not frame[[cols.label, cols.entity_key, cols.timestamp]].isna().any().any()


def test_label_has_both_classes(frame: pd.DataFrame) -> None:
    assert set(frame["churned"].unique()) == {0, 1}
    assert 0.02 < frame["churned"].mean() < 0.6


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate(START, days=0, rows_per_day=10, seed=1)


def test_seed_writes_and_rerun_replaces(home: Path) -> None:
    # given a seeded SQLite source
    url = f"sqlite:///{home / 'source.db'}"
    first = seed(url, START, days=3, rows_per_day=20, seed=1)
    assert (first.table, first.rows, first.first_day, first.last_day) == (DEMO_TABLE, 60, START, date(2026, 1, 3))
    written = table_rows(url)
    assert len(written) == 60
    # when seeding again with another seed
    again = seed(url, START, days=3, rows_per_day=20, seed=2)
    # then the data is replaced, not appended
    rewritten = table_rows(url)
    assert again.rows == len(rewritten) == 60
    assert not rewritten["monthly_charges"].equals(written["monthly_charges"])


def test_write_table_refuses_non_identifier(home: Path, frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        write_table(frame, f"sqlite:///{home / 'source.db'}", table="t; drop table x")


def test_seeded_source_fixture_holds_the_demo_table(seeded_source: str, home: Path) -> None:
    """Control for tests/unit/conftest.py, which serves `seeded_source` as a copy of a per-session seed."""
    assert seeded_source == f"sqlite:///{home / 'source.db'}"
    engine = sa.create_engine(seeded_source)
    try:
        with engine.connect() as conn:
            rows, first, last = conn.execute(
                sa.text(f"SELECT count(*), min(event_ts), max(event_ts) FROM {DEMO_TABLE}")
            ).one()
    finally:
        engine.dispose()
    assert rows == 90 * 150
    assert (first[:10], last[:10]) == ("2026-01-01", "2026-03-31")


def changed_days(before: pd.DataFrame, after: pd.DataFrame, column: str) -> set[date]:
    differs = before[column].ne(after[column]) & ~(before[column].isna() & after[column].isna())
    return set(after.loc[differs, "event_ts"].dt.date)


@pytest.mark.parametrize(
    ("scenario", "column", "days"),
    [
        ("unit-change-last-day", "avg_session_minutes", {date(2026, 1, 10)}),
        ("labels-zero-last-days", "churned", {date(2026, 1, 9), date(2026, 1, 10)}),
        ("null-spike-last-day", "avg_session_minutes", {date(2026, 1, 10)}),
        ("infinite-values", "total_charges", {date(2026, 1, 10)}),
    ],
)
def test_newest_day_scenarios_touch_only_the_last_days(
    frame: pd.DataFrame, scenario: str, column: str, days: set[date]
) -> None:
    broken = apply_scenario(frame, scenario, seed=5)
    assert changed_days(frame, broken, column) == days
    assert broken.drop(columns=[column]).equals(frame.drop(columns=[column]))


def test_breakage_scenarios_do_what_they_say(frame: pd.DataFrame) -> None:
    last = frame["event_ts"].dt.date == date(2026, 1, 10)
    unit = apply_scenario(frame, "unit-change-last-day", seed=5)
    ratio = unit.loc[last, "avg_session_minutes"] / frame.loc[last, "avg_session_minutes"]
    assert 0.7 < ratio.round(1).eq(1.6).mean() < 1.0, "most of the last day's rows, not all"
    assert apply_scenario(frame, "null-spike-last-day", seed=5).loc[last, "avg_session_minutes"].isna().mean() > 0.3
    assert apply_scenario(frame, "all-null-feature", seed=5)["discount_pct"].isna().all()
    infinite = apply_scenario(frame, "infinite-values", seed=5)["total_charges"]
    assert sorted(infinite[np.isinf(infinite)].tolist()) == [-np.inf, -np.inf, np.inf, np.inf, np.inf]
    assert apply_scenario(frame, "labels-zero-last-days", seed=5).loc[last, "churned"].eq(0).all()


def test_unknown_scenario_lists_the_catalogue(frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'; choose one of: renamed-column, "):
        apply_scenario(frame, "nope")
