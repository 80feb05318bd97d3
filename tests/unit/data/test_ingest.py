"""Ingest: one window read with bound parameters into an immutable, content-addressed snapshot.

Also the guards of every source read that need no server (SQLite, SQL text, time zones, temp files); the
PostgreSQL side of them is in ``tests/integration/test_source_guards.py``.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml

from pipelines.config import settings
from pipelines.config.base import ConfigError
from pipelines.config.loading import load_config
from pipelines.config.model import ModelConfig
from pipelines.data import snapshot_store
from pipelines.data.arrow_normaliser import utc_from_wall_clock
from pipelines.data.ingest import ingest, load
from pipelines.data.source_errors import SourceError, SourceSchemaError
from pipelines.data.sources import single_statement, window_statement
from pipelines.data.windows import Window

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days
ROWS_PER_DAY = 150
PREMIUM_QUERY = (
    "SELECT * FROM customer_events WHERE plan = 'premium' AND event_ts >= :window_start AND event_ts < :window_end"
)


def with_source(cfg: ModelConfig, **source: str) -> ModelConfig:
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate({**data, "source": {"url_env": "PIPELINES_SOURCE_URL", **source}})


def test_same_date_twice_gives_same_snapshot_rewritten_whole(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given a first snapshot whose day files we age artificially
    first = ingest(demo_cfg, AS_OF, seeded_source)
    path = Path(first.path)
    days = [Path(f) for f in first.files()]
    content = load(first)
    aged = 1_000_000_000 * 10**9
    for day in days:
        os.utime(day, ns=(aged, aged))
    # when the same date is ingested again
    second = ingest(demo_cfg, AS_OF, seeded_source)
    # then path, hash and snapshot are the same, the files were replaced by the same data, nothing else is left
    assert second == first
    assert [Path(f) for f in second.files()] == days and len(days) == 49
    assert all(day.stat().st_mtime_ns != aged for day in days)
    pd.testing.assert_frame_equal(load(second), content)
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temp files or duplicates"
    assert all([p.name for p in day.parent.iterdir()] == [day.name] for day in days)
    assert path.name == f"{first.content_hash[:16]}.json"
    assert days[0].parent.name == "2026-01-11" and days[-1].parent.name == "2026-02-28"


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


# --- failed runs leave no debris --------------------------------------------------------------------------


def test_truncated_snapshot_is_whole_again_after_the_next_ingest(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given a snapshot with a day file cut short, as a full disk or a crash without rename-safety would leave it
    first = ingest(demo_cfg, AS_OF, seeded_source)
    expected = load(first)
    path = Path(first.files()[3])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(Exception, match="Parquet magic bytes not found"):  # whatever pyarrow raises for a cut file
        load(first)
    # when the same date is ingested again
    second = ingest(demo_cfg, AS_OF, seeded_source)
    # then the same snapshot is whole again and loads
    assert second == first
    pd.testing.assert_frame_equal(load(second), expected)


def finished_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_temp_files_of_dead_writers_are_removed_and_live_ones_kept(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given temp files in the model's snapshot folders: of a dead and of a live process of this host, of
    # another host (recent and two days old), of older releases (no host), and a file that is not ours
    host = snapshot_store.HOST
    token = "0123456789abcdef" * 2
    other = settings.snapshots_dir() / demo_cfg.name / "window=2025-01-01_2025-02-19"
    here = settings.snapshots_dir() / demo_cfg.name / "window=2026-01-11_2026-03-01"
    day = settings.snapshots_dir() / demo_cfg.name / "days" / "2026-01-12"
    files = {
        "dead": other / f".ingest-{host}-{finished_pid()}-{token}.tmp",
        "dead, day": day / f".ingest-{host}-{finished_pid()}-{token}.tmp",
        "live": here / f".ingest-{host}-{os.getpid()}-{token}.tmp",
        "live, day": day / f".ingest-{host}-{os.getpid()}-{token}.tmp",
        "other host": here / f".ingest-build-7.example.org-{finished_pid()}-{token}.tmp",
        "other host, old": other / f".ingest-build-7.example.org-{os.getpid()}-{token}.tmp",
        "old release": here / f".ingest-{finished_pid()}-{token}.tmp",
        "old release, old": here / f".1ac01ad586938532.parquet.{finished_pid()}.tmp",
        "not ours": here / ".notes.tmp",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PAR1 partial")
    two_days_ago = time.time() - 2 * 86_400
    for name in ("other host, old", "old release, old", "not ours"):
        os.utime(files[name], (two_days_ago, two_days_ago))
    # when the model is ingested
    ingest(demo_cfg, AS_OF, seeded_source)
    # then the dead writer's files and the day-old ones are gone, the rest stays
    left = {name for name, path in files.items() if path.exists()}
    assert left == {"live", "live, day", "other host", "old release", "not ours"}


def test_temp_files_name_the_host_and_process(tmp_path: Path) -> None:
    name = snapshot_store.SnapshotStore(str(tmp_path)).temp_path(str(tmp_path)).rsplit("/", 1)[-1]
    found = snapshot_store.TEMP_NAME.fullmatch(name)
    assert found is not None and found["host"] == snapshot_store.HOST and found["pid"] == str(os.getpid())


# --- source reads cannot write ------------------------------------------------------------------------------


VICTIM_QUERY = (
    "SELECT * FROM customer_events WHERE event_ts >= :window_start AND event_ts < :window_end; "
    "DROP TABLE victim; COMMIT;"
)


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_second_statement_is_refused_before_anything_runs(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given a victim table and a query source that would drop it after its SELECT
    engine = sa.create_engine(seeded_source)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE victim (x INTEGER)"))
    engine.dispose()
    # when ingesting
    with pytest.raises(SourceSchemaError) as info:
        ingest(with_source(demo_cfg, query=VICTIM_QUERY), AS_OF, seeded_source)
    # then one line says what is wrong, and the victim is still there
    message = str(info.value)
    assert message.startswith("the source query is more than one SQL statement (more SQL follows the ';' at ")
    assert "\n" not in message
    assert "victim" in table_names(seeded_source)


def test_a_writing_statement_fails_on_a_read_only_connection(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given a single statement that deletes the window's rows and returns them
    query = "DELETE FROM customer_events WHERE event_ts >= :window_start AND event_ts < :window_end RETURNING *"
    # when ingesting it, then SQLite refuses the write (query_only) and it is not worth retrying
    with pytest.raises(SourceSchemaError, match="attempt to write a readonly database"):
        ingest(with_source(demo_cfg, query=query), AS_OF, seeded_source)
    assert load(ingest(demo_cfg, AS_OF, seeded_source)).shape[0] == 49 * ROWS_PER_DAY, "no row was deleted"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "mssql+pyodbc://u@h/db"])
def test_sources_that_cannot_be_made_read_only_are_refused(demo_cfg: ModelConfig, home: Path, url: str) -> None:
    with pytest.raises(SourceSchemaError, match="reads are made read-only only on postgresql and sqlite"):
        ingest(demo_cfg, AS_OF, url)


@pytest.mark.parametrize(
    ("query", "single"),
    [
        ("SELECT 1", "SELECT 1"),
        ("SELECT 1 ;  \n", "SELECT 1"),
        ("SELECT 1; -- the end; really\n/* ; */", "SELECT 1"),
        ("SELECT 'a;b', 'it''s;' AS \"x;\"\"y\" FROM t", None),
        ("SELECT 1 -- a comment; with a semicolon\nFROM t", None),
        ("SELECT 1 /* a /* nested ; */ comment ; */ FROM t", None),
        ("SELECT $$a;b$$, $tag$ $$ ; $tag$, x$y FROM t", None),
        ("SELECT E'it\\'s; fine', e'\\\\' FROM t", None),
    ],
)
def test_a_single_statement_may_hold_semicolons_in_quotes_and_comments(query: str, single: str | None) -> None:
    assert single_statement(query) == (query if single is None else single)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1; DROP TABLE victim",
        "SELECT 1;; ",
        "SELECT 'a'';'; DELETE FROM t",
        "SELECT 1 /* c */; SELECT 2",
        "SELECT $a$ ; $a$; DROP TABLE victim",
        "SELECT 'it\\'; DROP TABLE victim; --'",  # standard strings: the backslash escapes nothing
        "SELECT $1; DROP TABLE victim",  # a positional parameter, not a dollar quote
    ],
)
def test_more_than_one_statement_is_refused(query: str) -> None:
    with pytest.raises(SourceSchemaError, match="more than one SQL statement"):
        single_statement(query)


def test_sqlite_quotes_are_read_as_sqlite_writes_them() -> None:
    assert single_statement("SELECT [a;b], `c;d` FROM t;", "sqlite") == "SELECT [a;b], `c;d` FROM t"
    with pytest.raises(SourceSchemaError):
        single_statement("SELECT $a$; DROP TABLE victim; $a$", "sqlite")  # no dollar quotes in SQLite
    with pytest.raises(SourceSchemaError):
        single_statement("SELECT 1 /* /* */; DROP TABLE victim; /* */", "sqlite")  # comments do not nest


# --- windows are UTC instants ---------------------------------------------------------------------------------


def test_window_bounds_in_a_zone_are_its_wall_clock_times(demo_cfg: ModelConfig) -> None:
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    assert window.bounds() == window.bounds("UTC") == (datetime(2026, 1, 11), datetime(2026, 3, 1))
    assert window.bounds("America/New_York") == (datetime(2026, 1, 10, 19), datetime(2026, 2, 28, 19))
    assert window.bounds("Asia/Kolkata") == (datetime(2026, 1, 11, 5, 30), datetime(2026, 3, 1, 5, 30))


def test_wall_clock_times_become_utc_as_postgresql_reads_them() -> None:
    # ambiguous (clocks go back: standard time) and skipped (clocks go forward: the offset before) times as
    # PostgreSQL's `timestamp AT TIME ZONE 'America/New_York'` gives them (checked on the server in
    # tests/integration/test_source_guards.py)
    wall = [datetime(2025, 11, 2, 1, 30), datetime(2026, 3, 8, 2, 30), datetime(2026, 1, 11), None]
    utc = utc_from_wall_clock(pa.array(wall, pa.timestamp("us")), "America/New_York")
    assert utc.type == pa.timestamp("us")
    assert utc.to_pylist() == [
        datetime(2025, 11, 2, 6, 30),
        datetime(2026, 3, 8, 7, 30),
        datetime(2026, 1, 11, 5),
        None,
    ]


def test_wall_clock_source_gives_the_snapshot_of_a_utc_source(demo_cfg: ModelConfig, seeded_source: str) -> None:
    # given the demo table, and a copy whose timestamps are New York wall-clock times of the same instants
    reference = ingest(demo_cfg, date(2026, 3, 15), seeded_source)  # its window holds the change to DST
    engine = sa.create_engine(seeded_source)
    frame = pd.read_sql_table("customer_events", engine)
    local = frame["event_ts"].dt.tz_localize("UTC").dt.tz_convert("America/New_York").dt.tz_localize(None)
    frame.assign(event_ts=local).to_sql("events_local", engine, index=False)
    engine.dispose()
    cfg = with_columns(with_source(demo_cfg, table="events_local"), timestamp_timezone="America/New_York")
    # when ingesting the copy with columns.timestamp_timezone
    snapshot = ingest(cfg, date(2026, 3, 15), seeded_source)
    # then the snapshot is the same, hash and all
    assert snapshot.content_hash == reference.content_hash
    assert snapshot.rows == reference.rows == 49 * ROWS_PER_DAY
    pd.testing.assert_frame_equal(load(snapshot), load(reference))


def test_zone_for_a_column_with_its_own_zone_is_a_schema_error(demo_cfg: ModelConfig, home: Path) -> None:
    # given timestamps stored with their offsets (SQLite text)
    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'zoned.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE zoned (customer_id INTEGER, event_ts TEXT)"))
        conn.execute(sa.text("INSERT INTO zoned VALUES (1, '2026-02-01 10:00:00+01:00')"))
    engine.dispose()
    cfg = with_columns(with_source(demo_cfg, table="zoned"), timestamp_timezone="Europe/Paris")
    with pytest.raises(SourceSchemaError, match=r"has a time zone of its own, so columns.timestamp_timezone"):
        ingest(cfg, AS_OF, url)


def with_columns(cfg: ModelConfig, **columns: Any) -> ModelConfig:
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate({**data, "columns": {**data["columns"], **columns}})


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "America", "localtime", "utc", "../../etc/passwd", ""])
def test_unknown_timestamp_timezone_is_a_config_error_naming_the_key(tmp_path: Path, zone: str) -> None:
    raw = yaml.safe_load((settings.configs_dir() / "demo.yaml").read_text())
    raw["columns"]["timestamp_timezone"] = zone
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"columns\.timestamp_timezone: .*is not an IANA time zone name"):
        load_config(path)
    raw["columns"]["timestamp_timezone"] = "America/New_York"
    path.write_text(yaml.safe_dump(raw))
    assert load_config(path).columns.timestamp_timezone == "America/New_York"
