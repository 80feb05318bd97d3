"""Nightly ingest grows with the new day: day files, the day ledger and server-side fingerprints, on SQLite.

The PostgreSQL side (the Arrow engine, ``xmin``, killed runs) is in
``tests/integration/test_incremental_ingest_postgres.py``.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.data.day_fingerprints import fingerprint_days
from pipelines.data.day_ledger import SNAPSHOT_DAYS, DayLedger
from pipelines.data.ingest import ingest, load
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_parts import SnapshotMissing, read_manifest
from pipelines.data.snapshot_reader import iter_frames
from pipelines.data.sources import read_window
from pipelines.data.windows import Window
from pipelines.errors import PipelinesError
from pipelines.registry import db
from tests.helpers import execute

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days
ROWS_PER_DAY = 150
LATE_ROW = (
    "INSERT INTO customer_events (customer_id, event_ts, plan, churned) VALUES (7, '2026-01-20 10:00:00', 'basic', 0)"
)


@pytest.fixture
def ledger(home: Path) -> DayLedger:
    """The day ledger in this test's own pipeline database (SQLite)."""
    home.mkdir(parents=True, exist_ok=True)
    return DayLedger(db.engine(f"sqlite:///{home / 'pipeline.db'}"))


def full_read(cfg: ModelConfig, as_of: date, url: str) -> Snapshot:
    """The window read whole, as without a ledger."""
    return ingest(cfg, as_of, url)


def test_the_next_day_reads_one_day_and_composes_the_full_hash(
    demo_cfg: ModelConfig, seeded_source: str, ledger: DayLedger
) -> None:
    # given a first nightly run, which reads every day of the window
    first = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    assert (first.rows_read, first.rows_reused) == (49 * ROWS_PER_DAY, 0)
    # when the next night's run ingests the window one day later
    second = ingest(demo_cfg, AS_OF + timedelta(days=1), seeded_source, ledger=ledger)
    # then it read only the new day (1/49 of the rows) and reused the other 48
    assert (second.rows_read, second.rows_reused) == (ROWS_PER_DAY, 48 * ROWS_PER_DAY)
    # and the snapshot is the one a full read of that window gives: hash, path, rows and frame
    full = full_read(demo_cfg, AS_OF + timedelta(days=1), seeded_source)
    assert full.rows_read == 49 * ROWS_PER_DAY
    assert second == full and second.content_hash == full.content_hash
    pd.testing.assert_frame_equal(load(second), load(full))
    assert len(second.files()) == 49 and Path(second.files()[0]).parent.name == "2026-01-12"
    # and a re-run of the same night reads nothing
    again = ingest(demo_cfg, AS_OF + timedelta(days=1), seeded_source, ledger=ledger)
    assert (again.rows_read, again.rows_reused) == (0, 49 * ROWS_PER_DAY) and again == second


def test_a_late_row_in_an_old_day_is_detected_and_read_again(
    demo_cfg: ModelConfig, seeded_source: str, ledger: DayLedger
) -> None:
    # given a window ingested with the ledger
    first = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    before = fingerprint_days(seeded_source, demo_cfg.source, "event_ts", window)
    # when a row arrives late, in a day read three weeks earlier
    execute(seeded_source, LATE_ROW)
    after = fingerprint_days(seeded_source, demo_cfg.source, "event_ts", window)
    # then that day's fingerprint (and only it) changed
    changed = {day for day in after.days if after.days[day] != before.days.get(day)}
    assert changed == {date(2026, 1, 20)} and after.rows[date(2026, 1, 20)] == ROWS_PER_DAY + 1
    # and the next run reads that day again, whole, and reuses the rest
    second = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    assert (second.rows_read, second.rows_reused) == (ROWS_PER_DAY + 1, 48 * ROWS_PER_DAY)
    assert second.content_hash != first.content_hash
    assert second == full_read(demo_cfg, AS_OF, seeded_source)
    assert (load(second)["customer_id"] == 7).sum() == 1


def test_a_moved_timestamp_changes_the_fingerprint_but_an_updated_value_does_not_on_sqlite(
    demo_cfg: ModelConfig, seeded_source: str
) -> None:
    # given the fingerprints of the window
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    before = fingerprint_days(seeded_source, demo_cfg.source, "event_ts", window).days
    # when one row moves within its day, and another row's feature changes
    first_id = 1_000_000 * 20 + 3  # a row of 2026-01-20 (day 20 of the seed)
    execute(
        seeded_source,
        f"UPDATE customer_events SET event_ts = '2026-01-20 23:59:59' WHERE customer_id = {first_id}",
        f"UPDATE customer_events SET age = age + 1 WHERE customer_id = {first_id + 1}",
    )
    after = fingerprint_days(seeded_source, demo_cfg.source, "event_ts", window).days
    # then the moved row changed its day's timestamp sum; the value update alone is not seen on SQLite (the
    # module docstring says so: no row versions to sum there)
    assert {day for day in after if after[day] != before[day]} == {date(2026, 1, 20)}
    execute(seeded_source, f"UPDATE customer_events SET age = age + 1 WHERE customer_id = {first_id + 100}")
    assert fingerprint_days(seeded_source, demo_cfg.source, "event_ts", window).days == after


def test_a_damaged_or_missing_day_file_is_read_again(
    demo_cfg: ModelConfig, seeded_source: str, ledger: DayLedger
) -> None:
    # given a window ingested with the ledger, then one day file cut short and another removed
    first = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    cut, gone = Path(first.files()[5]), Path(first.files()[30])
    cut.write_bytes(cut.read_bytes()[:100])
    gone.unlink()
    # when the same night runs again
    second = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    # then exactly those two days were read again, and the snapshot is whole
    assert (second.rows_read, second.rows_reused) == (2 * ROWS_PER_DAY, 47 * ROWS_PER_DAY)
    assert second == first
    pd.testing.assert_frame_equal(load(second), load(full_read(demo_cfg, AS_OF, seeded_source)))


def test_new_source_columns_make_the_whole_window_read_again(
    demo_cfg: ModelConfig, seeded_source: str, ledger: DayLedger
) -> None:
    # given a window ingested with the ledger, then a column added to the source
    ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    execute(seeded_source, "ALTER TABLE customer_events ADD COLUMN loyalty_points INTEGER")
    # when the next night's run reads its new day, which has the new column
    second = ingest(demo_cfg, AS_OF + timedelta(days=1), seeded_source, ledger=ledger)
    # then it read every day again, so all days have the same columns
    assert (second.rows_read, second.rows_reused) == (49 * ROWS_PER_DAY, 0)
    assert "loyalty_points" in load(second).columns
    assert second == full_read(demo_cfg, AS_OF + timedelta(days=1), seeded_source)


def test_rows_stamped_in_the_future_are_read_on_every_run_never_reused(
    demo_cfg: ModelConfig, seeded_source: str, ledger: DayLedger
) -> None:
    # given a row stamped years ahead, which cannot be true yet
    execute(
        seeded_source,
        "INSERT INTO customer_events (customer_id, event_ts, plan, churned) VALUES (42, '2099-01-01 00:00:00', 'basic', 0)",
    )
    # when the window is ingested twice with the ledger
    first = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    second = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    # then both snapshots hand it to the gate, last, and the second run read it (only it) again
    assert first.rows == second.rows == 49 * ROWS_PER_DAY + 1
    assert second.rows_read == 1 and second == first
    # and the rows from the window's end to now are counted apart, not read (the future row is not among them)
    newer = _count(seeded_source, "SELECT count(*) FROM customer_events WHERE event_ts >= '2026-03-01'") - 1
    assert first.rows_after_window == second.rows_after_window == newer == 31 * ROWS_PER_DAY
    assert load(second)["event_ts"].iloc[-1] == datetime(2099, 1, 1)
    assert read_manifest(second.path).parts[-1].day == date(2099, 1, 1)


def test_day_dtypes_compose_to_the_dtypes_of_a_whole_window_read(
    demo_cfg: ModelConfig, seeded_source: str, ledger: DayLedger
) -> None:
    # given a source where an integer column has a NULL on one day and is NULL all of another day, and a text
    # column is NULL all of one day: each day's file then has its own dtypes
    execute(
        seeded_source,
        "ALTER TABLE customer_events ADD COLUMN visits INTEGER",
        "UPDATE customer_events SET visits = customer_id % 7",
        "UPDATE customer_events SET visits = NULL WHERE customer_id = 15000001",
        "UPDATE customer_events SET visits = NULL WHERE event_ts >= '2026-02-01' AND event_ts < '2026-02-02'",
        "UPDATE customer_events SET device_os = NULL WHERE event_ts >= '2026-02-03' AND event_ts < '2026-02-04'",
    )
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    # when the window is ingested day by day, then loaded
    frame = load(ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger))
    # then it is what one read of the whole window gave before day files: rows, order and dtypes
    whole = read_window(seeded_source, demo_cfg.source, "event_ts", window)
    whole = whole.sort_values(["event_ts", "customer_id"], kind="stable", ignore_index=True)
    whole = pd.read_parquet(_roundtrip(whole))
    assert frame["visits"].dtype == "float64" and frame["device_os"].dtype == "str"
    pd.testing.assert_frame_equal(frame, whole)
    # and a batched read gives the same rows in frames of at most 1000 rows, with the window's dtypes
    batches = list(iter_frames(ingest(demo_cfg, AS_OF, seeded_source), batch_rows=1000))
    assert max(len(b) for b in batches) <= 1000 and len(batches) >= 49
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), whole)


def _roundtrip(frame: pd.DataFrame) -> object:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    return buffer


def test_readers_invent_no_partition_columns_from_folder_names(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given a snapshot whose manifest sits in window=... and whose day files sit in days/<day>/
    snapshot = ingest(demo_cfg, AS_OF, seeded_source, training_days=7)
    source_columns = list(read_window(seeded_source, demo_cfg.source, "event_ts", snapshot.window).columns)
    # when it is read whole, by columns and in batches, then only the source's columns come back
    assert list(load(snapshot).columns) == source_columns
    assert list(load(snapshot, columns=["plan", "age"]).columns) == ["plan", "age"]
    assert all(list(frame.columns) == source_columns for frame in iter_frames(snapshot))


def test_an_empty_window_has_the_columns_and_dtypes_of_a_full_one(
    demo_cfg: ModelConfig, seeded_source: str, ledger: DayLedger
) -> None:
    # given a date whose window holds no rows; when it is ingested with and without the ledger
    empty = ingest(demo_cfg, date(2025, 6, 1), seeded_source, ledger=ledger)
    plain = ingest(demo_cfg, date(2025, 6, 1), seeded_source)
    # then the snapshot has no day files, loads with the source's columns, and nothing was recorded
    assert empty.rows == 0 and empty.files() == () and empty == plain
    frame = load(empty)
    assert len(frame) == 0 and "event_ts" in frame.columns and len(list(iter_frames(empty))) == 0
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SNAPSHOT_DAYS)).scalar() == 0


def test_the_snapshot_payload_is_json_and_older_payloads_load(demo_cfg: ModelConfig, seeded_source: str) -> None:
    snapshot = ingest(demo_cfg, AS_OF, seeded_source, training_days=7)
    payload = json.loads(json.dumps(snapshot.to_dict()))
    assert Snapshot(**payload) == snapshot and Snapshot(**payload).rows_read == 14 * ROWS_PER_DAY
    older = {k: v for k, v in payload.items() if k not in ("rows_read", "rows_reused")}
    assert Snapshot(**older) == snapshot and Snapshot(**older).rows_read is None


def test_a_missing_snapshot_is_one_line_naming_it(demo_cfg: ModelConfig, seeded_source: str) -> None:
    snapshot = ingest(demo_cfg, AS_OF, seeded_source, training_days=7)
    gone = Snapshot(**{**snapshot.to_dict(), "path": snapshot.path.replace(".json", "0.json")})
    with pytest.raises(SnapshotMissing, match=r"^no snapshot manifest at .*0\.json$") as info:
        load(gone)
    assert isinstance(info.value, PipelinesError) and isinstance(info.value, FileNotFoundError)
    Path(snapshot.files()[2]).unlink()
    with pytest.raises(SnapshotMissing, match=r"^a snapshot file is missing: .*\.parquet$"):
        load(snapshot)


def test_a_wall_clock_source_reads_incrementally_like_a_utc_one(
    demo_cfg: ModelConfig, seeded_source: str, ledger: DayLedger
) -> None:
    # given a copy of the demo table with New York wall-clock times, whose window holds the change to DST
    engine = sa.create_engine(seeded_source)
    frame = pd.read_sql_table("customer_events", engine)
    local = frame["event_ts"].dt.tz_localize("UTC").dt.tz_convert("America/New_York").dt.tz_localize(None)
    frame.assign(event_ts=local).to_sql("events_local", engine, index=False)
    engine.dispose()
    data = demo_cfg.model_dump(by_alias=True)
    cfg = ModelConfig.model_validate(
        {
            **data,
            "source": {"url_env": "PIPELINES_SOURCE_URL", "table": "events_local"},
            "columns": {**data["columns"], "timestamp_timezone": "America/New_York"},
        }
    )
    # when two consecutive nights are ingested with the ledger
    ingest(cfg, date(2026, 3, 15), seeded_source, ledger=ledger)
    second = ingest(cfg, date(2026, 3, 16), seeded_source, ledger=ledger)
    # then the second read one UTC day, and equals a full read and the UTC table's snapshot
    assert (second.rows_read, second.rows_reused) == (ROWS_PER_DAY, 48 * ROWS_PER_DAY)
    assert second == full_read(cfg, date(2026, 3, 16), seeded_source)
    assert second.content_hash == ingest(demo_cfg, date(2026, 3, 16), seeded_source).content_hash
    # and both count the same newer rows: every row from the window's end (2026-03-16 UTC) to the read
    newer = _count(seeded_source, "SELECT count(*) FROM customer_events WHERE event_ts >= '2026-03-16'")
    assert newer == 16 * ROWS_PER_DAY
    assert second.rows_after_window == newer
    assert ingest(demo_cfg, date(2026, 3, 16), seeded_source, ledger=ledger).rows_after_window == newer


def _count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()
