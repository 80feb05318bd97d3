"""Per-day checks of a snapshot of day files: stored aggregates of unchanged days stand in for computing them,
and the result is exactly the per-day checks of the loaded window."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.data import snapshot_reader
from pipelines.data.day_ledger import DayLedger
from pipelines.data.ingest import ingest, load
from pipelines.quality import snapshot_checks
from pipelines.quality.day_checks import day_checks
from pipelines.quality.day_stats import DayStats, day_stats
from pipelines.quality.day_stats_store import DAY_STATS, DayStatsStore
from pipelines.quality.snapshot_checks import snapshot_day_checks
from pipelines.registry import db
from tests.helpers import execute

AS_OF = date(2026, 3, 1)


@pytest.fixture
def engine(home: Path) -> sa.Engine:
    """This test's own pipeline database (SQLite)."""
    home.mkdir(parents=True, exist_ok=True)
    return db.engine(f"sqlite:///{home / 'pipeline.db'}")


@pytest.fixture
def files_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The day files the per-day checks read, in order."""
    read: list[str] = []
    original = snapshot_reader.file_frames

    def counting(path: str, *args: Any, **kwargs: Any) -> Any:
        read.append(path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(snapshot_checks, "file_frames", counting)
    return read


def test_stored_days_are_reused_and_the_checks_are_those_of_the_whole_window(
    demo_cfg: ModelConfig, seeded_source: str, engine: sa.Engine, files_read: list[str]
) -> None:
    # given two consecutive nights ingested with the day ledger
    ledger, store = DayLedger(engine), DayStatsStore(engine)
    first = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    second = ingest(demo_cfg, AS_OF + timedelta(days=1), seeded_source, ledger=ledger)
    # when the first night's checks run, then every day file is aggregated once and stored
    checks = snapshot_day_checks(demo_cfg, first, store)
    assert len(files_read) == 49
    pd.testing.assert_frame_equal(checks, day_checks(demo_cfg, load(first), first.window), check_exact=True)
    # when the next night's checks run, then only its new day is read, and the result is the whole window's
    files_read.clear()
    checks = snapshot_day_checks(demo_cfg, second, store)
    assert files_read == [second.files()[-1]]
    pd.testing.assert_frame_equal(checks, day_checks(demo_cfg, load(second), second.window), check_exact=True)
    # and a re-run reads nothing
    files_read.clear()
    snapshot_day_checks(demo_cfg, second, store)
    assert files_read == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(DAY_STATS)).scalar() == 50


def test_a_changed_day_and_a_changed_config_are_aggregated_again(
    demo_cfg: ModelConfig, seeded_source: str, engine: sa.Engine, files_read: list[str]
) -> None:
    # given a window whose checks ran and were stored
    ledger, store = DayLedger(engine), DayStatsStore(engine)
    snapshot_day_checks(demo_cfg, ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger), store)
    files_read.clear()
    # when a late row changes one day, then only that day's new file is aggregated
    execute(
        seeded_source,
        "INSERT INTO customer_events (customer_id, event_ts, plan, churned, age) "
        "VALUES (7, '2026-01-20 10:00:00', 'basic', 1, 200)",
    )
    late = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    checks = snapshot_day_checks(demo_cfg, late, store)
    assert [Path(f).parent.name for f in files_read] == ["2026-01-20"]
    pd.testing.assert_frame_equal(checks, day_checks(demo_cfg, load(late), late.window), check_exact=True)
    # when the checked columns change, then every day is aggregated again under the new key
    files_read.clear()
    data = demo_cfg.model_dump(by_alias=True)
    fewer = [c for c in data["columns"]["numeric"] if c != "age"]
    cfg = ModelConfig.model_validate({**data, "columns": {**data["columns"], "numeric": fewer}})
    checks = snapshot_day_checks(cfg, late, store)
    assert len(files_read) == 49
    pd.testing.assert_frame_equal(checks, day_checks(cfg, load(late), late.window), check_exact=True)


def test_without_a_store_every_day_is_aggregated_one_file_at_a_time(
    demo_cfg: ModelConfig, seeded_source: str, files_read: list[str]
) -> None:
    snapshot = ingest(demo_cfg, AS_OF, seeded_source, training_days=7)
    checks = snapshot_day_checks(demo_cfg, snapshot)
    assert files_read == list(snapshot.files())
    pd.testing.assert_frame_equal(checks, day_checks(demo_cfg, load(snapshot), snapshot.window), check_exact=True)


def test_a_single_file_snapshot_of_an_older_release_is_checked_whole(
    demo_cfg: ModelConfig, seeded_source: str, tmp_path: Path
) -> None:
    # given a snapshot written as one parquet file, as before day files
    snapshot = ingest(demo_cfg, AS_OF, seeded_source, training_days=7)
    single = tmp_path / "0123456789abcdef.parquet"
    load(snapshot).to_parquet(single, index=False)
    older = type(snapshot)(**{**snapshot.to_dict(), "path": str(single)})
    # then it loads, lists its one file, and its checks are those of its rows
    assert older.files() == (str(single),)
    pd.testing.assert_frame_equal(load(older), load(snapshot))
    pd.testing.assert_frame_equal(snapshot_day_checks(demo_cfg, older), snapshot_day_checks(demo_cfg, snapshot))


def test_stored_aggregates_read_back_exactly(demo_cfg: ModelConfig, seeded_source: str, engine: sa.Engine) -> None:
    frame = load(ingest(demo_cfg, AS_OF, seeded_source, training_days=7))
    columns = [c for c in (*demo_cfg.columns.features, demo_cfg.columns.label) if c in frame.columns]
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
    stats = day_stats(date(2026, 2, 20), frame, columns, numeric)
    store = DayStatsStore(engine)
    store.add("demo", "key", {"d" * 64: stats})
    store.add("demo", "key", {"d" * 64: stats})  # a second worker's same day: left as it is
    assert DayStats.from_dict(store.stored("demo", "key", ["d" * 64])["d" * 64]) == stats


def test_a_loaded_window_stands_in_for_the_day_files(
    demo_cfg: ModelConfig, seeded_source: str, engine: sa.Engine, files_read: list[str]
) -> None:
    # given a snapshot the gate has loaded anyway
    snapshot = ingest(demo_cfg, AS_OF, seeded_source, ledger=DayLedger(engine))
    frame = load(snapshot)
    # when its per-day checks run with the frame, then no day file is read, and the result is the same
    checks = snapshot_day_checks(demo_cfg, snapshot, DayStatsStore(engine), frame=frame)
    assert files_read == []
    pd.testing.assert_frame_equal(checks, day_checks(demo_cfg, frame, snapshot.window), check_exact=True)
    # and the aggregates it stored serve the next run, which reads nothing either
    pd.testing.assert_frame_equal(snapshot_day_checks(demo_cfg, snapshot, DayStatsStore(engine)), checks)
    assert files_read == []
