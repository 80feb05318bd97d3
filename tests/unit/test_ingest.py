"""Ingest: one window read with bound parameters into an immutable, content-addressed snapshot."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.config import ModelConfig
from pipelines.ingest import ingest, load
from pipelines.sources import SourceError, window_statement
from pipelines.windows import Window

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days
ROWS_PER_DAY = 150
PREMIUM_QUERY = (
    "SELECT * FROM customer_events WHERE plan = 'premium' AND event_ts >= :window_start AND event_ts < :window_end"
)


def with_source(cfg: ModelConfig, **source: str) -> ModelConfig:
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate({**data, "source": {"url_env": "PIPELINES_SOURCE_URL", **source}})


def test_same_date_twice_gives_same_snapshot_without_rewriting(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given a first snapshot whose file we age artificially
    first = ingest(demo_cfg, AS_OF, seeded_source)
    path = Path(first.path)
    aged = 1_000_000_000 * 10**9
    os.utime(path, ns=(aged, aged))
    # when the same date is ingested again
    second = ingest(demo_cfg, AS_OF, seeded_source)
    # then path, hash and snapshot are the same and the file was left alone
    assert second == first
    assert path.stat().st_mtime_ns == aged
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temp files or duplicates"
    assert path.name == f"{first.content_hash[:16]}.parquet"


def test_different_date_gives_different_snapshot(demo_cfg: ModelConfig, seeded_source: str) -> None:
    first = ingest(demo_cfg, AS_OF, seeded_source)
    other = ingest(demo_cfg, date(2026, 3, 2), seeded_source)
    assert other.content_hash != first.content_hash
    assert other.path != first.path
    assert Path(first.path).exists() and Path(other.path).exists()


def test_only_rows_inside_the_window(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given a source spanning 2026-01-01 .. 2026-03-31
    # when ingesting as of 2026-03-01
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    frame = load(snapshot)
    stamps = frame["event_ts"]
    # then only [2026-01-11, 2026-03-01) is kept: every day of it, nothing outside
    assert (snapshot.window_start, snapshot.holdout_start, snapshot.window_end) == (
        "2026-01-11",
        "2026-02-22",
        "2026-03-01",
    )
    assert stamps.min() >= datetime(2026, 1, 11)
    assert stamps.max() < datetime(2026, 3, 1)
    assert stamps.min().date() == date(2026, 1, 11)
    assert stamps.max().date() == date(2026, 2, 28)
    assert snapshot.rows == len(frame) == 49 * ROWS_PER_DAY
    assert pd.api.types.is_datetime64_any_dtype(stamps)
    assert stamps.is_monotonic_increasing
    assert snapshot.window == Window(date(2026, 1, 11), date(2026, 2, 22), AS_OF)


def test_training_days_override_narrows_the_window(demo_cfg: ModelConfig, seeded_source: str) -> None:
    snapshot = ingest(demo_cfg, AS_OF, seeded_source, training_days=7)
    assert snapshot.window_start == "2026-02-15"
    assert snapshot.rows == 14 * ROWS_PER_DAY
    assert "window=2026-02-15_2026-03-01" in snapshot.path


def test_missing_table_is_a_clear_source_error(demo_cfg: ModelConfig, home: Path) -> None:
    # given a database without the demo table
    url = f"sqlite:///{home / 'empty.db'}"
    # when ingesting
    with pytest.raises(SourceError) as info:
        ingest(demo_cfg, AS_OF, url)
    # then one line names the table, the database and the cause, without SQL or traceback noise
    message = str(info.value)
    assert message.startswith(f"cannot read customer_events from {url}: ")
    assert "no such table: customer_events" in message
    assert "\n" not in message
    assert "[SQL:" not in message and "Background on this error" not in message
    assert not (home / "snapshots").exists()


def test_query_source_binds_the_window(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given a query-based source selecting premium customers of the window
    cfg = with_source(demo_cfg, query=PREMIUM_QUERY)
    # when ingesting
    snapshot = ingest(cfg, AS_OF, seeded_source)
    frame = load(snapshot)
    # then the query ran with the window bounds: premium rows of [2026-01-11, 2026-03-01) only
    everything = load(ingest(demo_cfg, AS_OF, seeded_source))
    assert 0 < snapshot.rows < len(everything)
    assert set(frame["plan"]) == {"premium"}
    assert snapshot.rows == int((everything["plan"] == "premium").sum())
    assert frame["event_ts"].min() >= datetime(2026, 1, 11)
    assert frame["event_ts"].max() < datetime(2026, 3, 1)


def test_query_without_timestamp_column_is_a_source_error(demo_cfg: ModelConfig, seeded_source: str) -> None:
    cfg = with_source(
        demo_cfg,
        query="SELECT customer_id FROM customer_events WHERE event_ts >= :window_start AND event_ts < :window_end",
    )
    with pytest.raises(SourceError, match="no timestamp column 'event_ts'"):
        ingest(cfg, AS_OF, seeded_source)


@pytest.mark.parametrize("source", [{"table": "customer_events"}, {"query": PREMIUM_QUERY}])
def test_window_bounds_are_bound_parameters_not_sql_text(demo_cfg: ModelConfig, source: dict[str, str]) -> None:
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    statement = window_statement(with_source(demo_cfg, **source).source, "event_ts", window)
    compiled = statement.compile(dialect=sa.dialects.sqlite.dialect())
    assert "2026" not in str(compiled)
    assert set(compiled.params.values()) == {datetime(2026, 1, 11), datetime(2026, 3, 1)}


@pytest.mark.parametrize("url", ["not a url", "postgresql+nosuchdriver://user@host/db"])
def test_bad_url_is_a_source_error(demo_cfg: ModelConfig, home: Path, url: str) -> None:
    with pytest.raises(SourceError):
        ingest(demo_cfg, AS_OF, url)
