"""Every source read is guarded the same way on both ingest engines (ADBC and SQLAlchemy) against PostgreSQL.

- Time is UTC instants: a server in New York gives the snapshots a UTC server gives, for ``timestamptz``
  columns, for ``timestamp`` columns of UTC times and for ``timestamp`` columns of New York wall-clock times
  (``columns.timestamp_timezone``), across a change to daylight saving time.
- Reads cannot write: a second statement is refused before anything runs, and a single statement that writes
  fails in the read-only session.
- Waits have a deadline: a closed port and a port that accepts and never answers end in one ``SourceError``
  line within ``PIPELINES_DB_CONNECT_TIMEOUT``.
- A damaged snapshot file is whole again after the next ingest.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.data.day_ledger import DayLedger
from pipelines.data.ingest import ingest, load
from pipelines.data.snapshot import Snapshot
from pipelines.data.source_errors import SourceError, SourceSchemaError
from pipelines.demo.seed import seed
from pipelines.registry import db
from tests.helpers import execute

ENGINES = ("adbc", "sqlalchemy")
AS_OF = date(2026, 3, 15)  # window [2026-01-25, 2026-03-15): New York moves to daylight saving on 2026-03-08
ROWS_PER_DAY = 150
WINDOW = "event_ts >= :window_start AND event_ts < :window_end"


def with_source(cfg: ModelConfig, zone: str = "UTC", **source: str) -> ModelConfig:
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate(
        {
            **data,
            "source": {"url_env": "PIPELINES_SOURCE_URL", **source},
            "columns": {**data["columns"], "timestamp_timezone": zone},
        }
    )


def scalar(url: str, sql: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def ingest_with(engine: str, cfg: ModelConfig, url: str, monkeypatch: pytest.MonkeyPatch) -> Snapshot:
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", engine)
    return ingest(cfg, AS_OF, url)


@pytest.fixture
def source(postgres_db: str, home: Path) -> str:
    """The demo table (``timestamp`` column of UTC times), 2026-01-01 .. 2026-03-31, 150 rows a day."""
    seed(postgres_db, date(2026, 1, 1), days=90, rows_per_day=ROWS_PER_DAY, seed=3)
    return postgres_db


# --- time is UTC instants -----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_new_york_server_gives_the_snapshots_of_a_utc_server(
    demo_cfg: ModelConfig, postgres_databases: Callable[[], str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the demo table on a UTC server, and on a server whose database is in New York's zone the same rows
    # three ways: timestamp of UTC times, timestamptz, and timestamp of New York wall-clock times
    utc_server, new_york = postgres_databases(), postgres_databases()
    for url in (utc_server, new_york):
        seed(url, date(2026, 1, 1), days=90, rows_per_day=ROWS_PER_DAY, seed=3)
    execute(
        new_york,
        f"ALTER DATABASE \"{sa.make_url(new_york).database}\" SET timezone = 'America/New_York'",
        "CREATE TABLE events_tz AS SELECT * FROM customer_events",
        "ALTER TABLE events_tz ALTER COLUMN event_ts TYPE timestamptz USING event_ts AT TIME ZONE 'UTC'",
        "CREATE TABLE events_local AS SELECT * FROM customer_events",
        "ALTER TABLE events_local ALTER COLUMN event_ts TYPE timestamp"
        " USING (event_ts AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York'",
    )
    assert scalar(new_york, "SHOW timezone") == "America/New_York"
    sources = {
        "timestamp, UTC": demo_cfg,
        "timestamptz": with_source(demo_cfg, table="events_tz"),
        "timestamp, New York": with_source(demo_cfg, "America/New_York", table="events_local"),
    }
    for engine in ENGINES:
        # when each is ingested by each engine
        reference = ingest_with(engine, demo_cfg, utc_server, monkeypatch)
        got = {name: ingest_with(engine, cfg, new_york, monkeypatch) for name, cfg in sources.items()}
        # then every snapshot is the UTC server's, hash and all: the whole window, nothing outside it
        assert reference.rows == 49 * ROWS_PER_DAY
        assert {name: s.content_hash for name, s in got.items()} == dict.fromkeys(sources, reference.content_hash)
        stamps = load(got["timestamp, New York"])["event_ts"]
        assert stamps.min() >= datetime(2026, 1, 25) and stamps.max() < datetime(2026, 3, 15)
        # and with the day ledger (server-side day fingerprints) the same, with the newer rows counted alike
        home.mkdir(parents=True, exist_ok=True)
        ledger = DayLedger(db.engine(f"sqlite:///{home / f'ledger-{engine}.db'}"))
        for name, cfg in sources.items():
            read = ingest(cfg, AS_OF, new_york, ledger=ledger)
            assert (read.content_hash, read.rows_after_window) == (reference.content_hash, 17 * ROWS_PER_DAY), name
        # and a zone set for a column that has its own is refused by name
        with pytest.raises(SourceSchemaError, match=r"columns.timestamp_timezone .* does not apply"):
            ingest_with(engine, with_source(demo_cfg, "America/New_York", table="events_tz"), new_york, monkeypatch)


@pytest.mark.postgres
def test_every_source_session_is_utc_and_read_only(
    demo_cfg: ModelConfig, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a server zone other than UTC and a query that reports its session's settings
    execute(source, f"ALTER DATABASE \"{sa.make_url(source).database}\" SET timezone = 'Asia/Kolkata'")
    query = (
        "SELECT event_ts, customer_id, current_setting('TimeZone') AS session_zone,"
        f" current_setting('transaction_read_only') AS read_only FROM customer_events WHERE {WINDOW}"
    )
    for engine in ENGINES:
        # when each engine reads it
        frame = load(ingest_with(engine, with_source(demo_cfg, query=query), source, monkeypatch))
        # then the session was in UTC and its transaction read-only
        assert len(frame) == 49 * ROWS_PER_DAY
        assert set(frame["session_zone"]) == {"UTC"} and set(frame["read_only"]) == {"on"}, engine


@pytest.mark.postgres
def test_wall_clock_times_are_read_as_the_server_reads_them(
    demo_cfg: ModelConfig, postgres_db: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given New York wall-clock times in the hour that repeats and in the hour that is skipped
    execute(
        postgres_db,
        "CREATE TABLE odd_times (customer_id integer, event_ts timestamp)",
        "INSERT INTO odd_times VALUES (1, '2025-11-02 01:30'), (2, '2026-03-08 02:30'), (3, '2026-03-08 03:30')",
    )
    server = scalar(
        postgres_db,
        "SELECT string_agg(((event_ts AT TIME ZONE 'America/New_York') AT TIME ZONE 'UTC')::text, ','"
        " ORDER BY customer_id) FROM odd_times",
    )
    cfg = with_source(demo_cfg, "America/New_York", table="odd_times")
    for engine in ENGINES:
        # when each engine reads a window holding them
        monkeypatch.setenv("PIPELINES_INGEST_ENGINE", engine)
        frame = load(ingest(cfg, date(2026, 3, 9), postgres_db, training_days=365))
        # then they are the UTC instants PostgreSQL's AT TIME ZONE gives
        got = ",".join(str(t) for t in frame.sort_values("customer_id")["event_ts"])
        assert got == server == "2025-11-02 06:30:00,2026-03-08 07:30:00,2026-03-08 07:30:00", engine


# --- reads cannot write -------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_source_queries_cannot_write(demo_cfg: ModelConfig, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a victim table, a function that empties it, and queries that try to write
    execute(
        source,
        "CREATE TABLE victim (x integer)",
        "INSERT INTO victim VALUES (1)",
        "CREATE FUNCTION empty_victim() RETURNS integer LANGUAGE sql AS 'DELETE FROM victim RETURNING 1'",
    )
    attacks = {
        "second statement": f"SELECT * FROM customer_events WHERE {WINDOW}; DROP TABLE victim; COMMIT;",
        "writing function": f"SELECT *, empty_victim() AS gone FROM customer_events WHERE {WINDOW}",
        "writing CTE": (f"WITH gone AS (DELETE FROM customer_events WHERE {WINDOW} RETURNING *) SELECT * FROM gone"),
        "SELECT INTO": f"SELECT * INTO stolen FROM customer_events WHERE {WINDOW}",
    }
    harmless = (  # semicolons in quotes and comments, and one at the end
        f"SELECT *, 'a;b' AS note, $$c;d$$ AS quoted FROM customer_events /* ; */ WHERE {WINDOW} -- end;\n;"
    )
    for engine in ENGINES:
        errors = {}
        for name, query in attacks.items():
            with pytest.raises(SourceSchemaError) as info:
                ingest_with(engine, with_source(demo_cfg, query=query), source, monkeypatch)
            errors[name] = str(info.value)
        # then the second statement is refused by name, before anything ran, and the writes fail as read-only
        assert errors["second statement"].startswith("the source query is more than one SQL statement"), engine
        assert "cannot execute DELETE in a read-only transaction" in errors["writing function"], engine
        if engine == "sqlalchemy":
            assert "cannot execute SELECT in a read-only transaction" in errors["writing CTE"]  # PostgreSQL's words
            assert "cannot execute SELECT INTO in a read-only transaction" in errors["SELECT INTO"]
        else:  # ADBC wraps the query in COPY (SELECT ... ORDER BY), which refuses both before they run
            assert "data-modifying statement must be at the top level" in errors["writing CTE"]
            assert "no timestamp column" in errors["SELECT INTO"]
        assert all("\n" not in message for message in errors.values())
        assert scalar(source, "SELECT count(*) FROM victim") == 1
        assert scalar(source, "SELECT to_regclass('stolen') IS NULL") is True
        assert scalar(source, "SELECT count(*) FROM customer_events") == 90 * ROWS_PER_DAY
        frame = load(ingest_with(engine, with_source(demo_cfg, query=harmless), source, monkeypatch))
        assert len(frame) == 49 * ROWS_PER_DAY and set(frame["quoted"]) == {"c;d"}, engine


# --- waits have a deadline ----------------------------------------------------------------------------------


@pytest.fixture
def ports() -> Iterator[dict[str, int]]:
    """A closed port, and a silent one: it accepts TCP connections (the kernel's backlog) and never answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        yield {"closed": closed, "silent": silent.getsockname()[1]}


def test_unreachable_sources_fail_within_the_connect_timeout(
    demo_cfg: ModelConfig, home: Path, ports: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINES_DB_CONNECT_TIMEOUT", "3")
    for engine in ENGINES:
        for kind, port in ports.items():
            url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/source"
            started = time.monotonic()
            with pytest.raises(SourceError) as info:
                ingest_with(engine, demo_cfg, url, monkeypatch)
            elapsed = time.monotonic() - started
            message = str(info.value)
            assert elapsed < 3 + 2, f"{engine}, {kind} port: {elapsed:.1f} s"
            assert not isinstance(info.value, SourceSchemaError), "retrying may help"
            assert message.startswith(f"cannot read customer_events from {url}: ") and "\n" not in message
            assert ("timeout expired" if kind == "silent" else "Connection refused") in message, message


# --- a damaged snapshot heals -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_truncated_snapshot_is_whole_again_after_the_next_ingest(
    demo_cfg: ModelConfig, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for engine in ENGINES:
        # given a snapshot file cut short
        first = ingest_with(engine, demo_cfg, source, monkeypatch)
        expected = load(first)
        path = Path(first.path)
        path.write_bytes(path.read_bytes()[:1000])
        # when the same date is ingested again, then the file is whole and loads
        assert ingest_with(engine, demo_cfg, source, monkeypatch) == first
        pd.testing.assert_frame_equal(load(first), expected)
        assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == [], "no temp files"
