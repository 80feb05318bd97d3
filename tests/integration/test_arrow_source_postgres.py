"""Fast ingest: PostgreSQL windows over binary COPY into Arrow, streamed into the snapshot's parquet file.

Most tests need the PostgreSQL server on 127.0.0.1:5432 (each gets a database of its own); the ones about
SQL text, URLs and the digest do not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.data import ingest as ingest_mod
from pipelines.data.arrow_days import read_days
from pipelines.data.arrow_digest import ArrowDigest
from pipelines.data.ingest import ingest, load, window_frame
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_parts import Manifest, read_manifest
from pipelines.data.snapshot_store import SnapshotStore
from pipelines.data.source_errors import SourceError, SourceSchemaError
from pipelines.data.windows import Window
from pipelines.demo.seed import generate, seed
from tests.helpers import execute

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days
ROWS_PER_DAY = 150
PREMIUM_QUERY = (
    "SELECT * FROM customer_events WHERE plan LIKE 'prem%' AND customer_id::bigint > 0 "
    "AND event_ts >= :window_start AND event_ts < :window_end;"
)
postgres = pytest.mark.postgres


def with_source(cfg: ModelConfig, **source: str) -> ModelConfig:
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate({**data, "source": {"url_env": "PIPELINES_SOURCE_URL", **source}})


def both_engines(cfg: ModelConfig, url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Snapshot, Snapshot]:
    """The same window ingested by the Arrow path, then by the SQLAlchemy path."""
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE", raising=False)
    fast = ingest(cfg, AS_OF, url)
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "sqlalchemy")
    generic = ingest(cfg, AS_OF, url)
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE")
    return fast, generic


@pytest.fixture
def pg_source(postgres_db: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo table in a PostgreSQL database of this test's own: 2026-01-01 .. 2026-03-31, 150 rows a day."""
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE", raising=False)
    seed(postgres_db, date(2026, 1, 1), days=90, rows_per_day=ROWS_PER_DAY, seed=3)
    return postgres_db


# --- both engines, same data ---------------------------------------------------------------------------


@postgres
def test_both_engines_give_the_same_rows_columns_and_dtypes(
    demo_cfg: ModelConfig, pg_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the seeded demo table in PostgreSQL
    # when the same window is ingested by the Arrow path and by the SQLAlchemy path
    fast, generic = both_engines(demo_cfg, pg_source, monkeypatch)
    # then both snapshots hold the same rows, in the same order, with the same pandas dtypes
    assert fast.rows == generic.rows == 49 * ROWS_PER_DAY
    assert fast.content_hash != generic.content_hash, "the engines hash differently, by design"
    assert Path(fast.path).parent == Path(generic.path).parent
    fast_frame, generic_frame = load(fast), load(generic)
    assert list(fast_frame.columns) == list(generic_frame.columns)
    assert fast_frame.dtypes.astype(str).to_dict() == generic_frame.dtypes.astype(str).to_dict()
    pd.testing.assert_frame_equal(fast_frame, generic_frame)
    assert str(fast_frame["event_ts"].dtype) == "datetime64[us]"
    assert fast_frame["event_ts"].is_monotonic_increasing
    assert fast_frame["event_ts"].min() >= datetime(2026, 1, 11)
    assert fast_frame["event_ts"].max() < datetime(2026, 3, 1)
    assert fast_frame["plan"].dtype == "str" and fast_frame["churned"].dtype == "int64"


@postgres
def test_column_types_are_normalised_like_the_sqlalchemy_path(
    demo_cfg: ModelConfig, postgres_db: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a table with timestamptz (session time zone Europe/Paris), int4, int2, real, numeric, date, bool
    name = sa.make_url(postgres_db).database
    execute(
        postgres_db,
        f"ALTER DATABASE \"{name}\" SET timezone TO 'Europe/Paris'",
        "CREATE TABLE typed_events (customer_id integer, event_ts timestamptz, score real, amount numeric(10, 2),"
        " visits smallint, plan varchar(12), signup date, active boolean)",
        "INSERT INTO typed_events VALUES"
        " (2, '2026-02-01 10:00:00+02', 0.5, 12.34, 3, 'basic', '2025-12-01', true),"
        " (1, '2026-02-01 08:00:00+00', NULL, 'NaN', 4, NULL, '2025-11-02', false),"
        " (3, '2026-01-20 23:30:00-05', 1.25, NULL, 5, 'premium', '2024-01-01', true),"
        " (4, '2025-06-01 00:00:00+00', 2.0, 1.5, 6, 'before', '2024-01-01', true)",
    )
    cfg = with_source(demo_cfg, table="typed_events")
    # when both engines ingest the window
    fast, generic = both_engines(cfg, postgres_db, monkeypatch)
    fast_frame, generic_frame = load(fast), load(generic)
    # then the timestamp is naive UTC, ordered by timestamp then key, numbers are int64/float64, text is str
    assert list(fast_frame["event_ts"]) == [
        datetime(2026, 1, 21, 4, 30),
        datetime(2026, 2, 1, 8),
        datetime(2026, 2, 1, 8),
    ]
    assert list(fast_frame["customer_id"]) == [3, 1, 2]
    expected = {
        "customer_id": "int64",
        "event_ts": "datetime64[us]",
        "score": "float64",
        "amount": "float64",
        "visits": "int64",
        "plan": "str",
    }
    assert {c: str(fast_frame[c].dtype) for c in expected} == expected
    assert fast_frame.dtypes.astype(str).to_dict() == generic_frame.dtypes.astype(str).to_dict()
    pd.testing.assert_frame_equal(fast_frame, generic_frame)


# --- snapshot contract on the Arrow path -----------------------------------------------------------------


@postgres
def test_same_date_twice_gives_same_snapshot_rewritten_whole(demo_cfg: ModelConfig, pg_source: str) -> None:
    first = ingest(demo_cfg, AS_OF, pg_source)
    path = Path(first.path)
    days = [Path(f) for f in first.files()]
    content = load(first)
    aged = 1_000_000_000 * 10**9
    for day in days:
        os.utime(day, ns=(aged, aged))
    second = ingest(demo_cfg, AS_OF, pg_source)
    assert second == first
    assert all(day.stat().st_mtime_ns != aged for day in days), "the same data, written again over the files"
    pd.testing.assert_frame_equal(load(second), content)
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temp files or duplicates"
    assert all([p.name for p in day.parent.iterdir()] == [day.name] for day in days)
    assert path.name == f"{first.content_hash[:16]}.json" and len(days) == 49
    assert "/snapshots/demo/window=2026-01-11_2026-03-01/" in first.path
    assert "/snapshots/demo/days/2026-01-11/" in str(days[0])


@postgres
def test_batches_are_streamed_and_the_hash_ignores_batch_boundaries(
    demo_cfg: ModelConfig, pg_source: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the hash and files of an ingest with the driver's default batches (16 MiB: one batch here)
    reference = ingest(demo_cfg, AS_OF, pg_source)
    window = reference.window
    # when the same window is streamed in batches of ~32 KiB, watching Arrow's memory at every batch
    in_use: list[int] = []
    update = ArrowDigest.update

    def watching(self: ArrowDigest, batch: pa.RecordBatch) -> None:
        in_use.append(pa.total_allocated_bytes())
        update(self, batch)

    monkeypatch.setattr(ArrowDigest, "update", watching)
    before = pa.total_allocated_bytes()
    store = SnapshotStore(str(home / "small"))
    read = read_days(demo_cfg, pg_source, window.days(), None, store, store.root, window, batch_bytes=32_768)
    # then it took many batches, and wrote the same day files, byte for byte, with the same digests
    paths = [f"{store.root}/{day.part.file}" for day in read.days]
    assert len(in_use) > 2 * 49, "batches of ~32 KiB, each split by day"
    assert read.rows == reference.rows
    assert [f"{day.part.day}:{day.part.digest}" for day in read.days] == [
        f"{part.day}:{part.digest}" for part in read_manifest(reference.path).parts
    ]
    assert [Path(p).read_bytes() for p in paths] == [Path(p).read_bytes() for p in reference.files()]
    assert Manifest("arrow", read.schema, tuple(d.part for d in read.days)).content_hash == reference.content_hash
    # and memory held by Arrow stayed at a few batches, far below the window's ~1.5 MB
    window_bytes = sum(pq.read_table(path).nbytes for path in paths)
    assert max(in_use) - before < window_bytes / 4


@postgres
def test_future_rows_are_selected_by_both_engines(
    demo_cfg: ModelConfig, pg_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a row stamped years after the window, which cannot be true yet
    execute(
        pg_source,
        "INSERT INTO customer_events (customer_id, event_ts, plan) VALUES (42, '2099-01-01 00:00:00', 'basic')",
    )
    # when ingesting the window
    fast, generic = both_engines(demo_cfg, pg_source, monkeypatch)
    # then both engines hand it to the quality gate, last in order
    assert fast.rows == generic.rows == 49 * ROWS_PER_DAY + 1
    frame = load(fast)
    assert frame["event_ts"].iloc[-1] == datetime(2099, 1, 1)
    pd.testing.assert_frame_equal(frame, load(generic))


@postgres
def test_query_source_uses_the_arrow_path_with_the_window_bound(
    demo_cfg: ModelConfig, pg_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a query source with LIKE '...%', a :: cast and a trailing semicolon
    cfg = with_source(demo_cfg, query=PREMIUM_QUERY)
    # when both engines ingest it
    fast, generic = both_engines(cfg, pg_source, monkeypatch)
    # then they agree, and only premium rows of the window came back, ordered
    frame = load(fast)
    assert 0 < fast.rows == generic.rows < 49 * ROWS_PER_DAY
    assert set(frame["plan"]) == {"premium"}
    assert frame["event_ts"].min() >= datetime(2026, 1, 11) and frame["event_ts"].max() < datetime(2026, 3, 1)
    pd.testing.assert_frame_equal(frame, load(generic))


@postgres
def test_empty_window_is_a_valid_parquet_with_the_schema(demo_cfg: ModelConfig, pg_source: str) -> None:
    # given a date whose window holds no rows
    snapshot = ingest(demo_cfg, date(2025, 6, 1), pg_source)
    # then the snapshot exists with 0 rows and the columns and dtypes of a full one
    assert snapshot.rows == 0
    empty, full = load(snapshot), load(ingest(demo_cfg, AS_OF, pg_source))
    assert len(empty) == 0
    assert empty.dtypes.astype(str).to_dict() == full.dtypes.astype(str).to_dict()


@postgres
@pytest.mark.slow
def test_quality_gate_reports_an_empty_window(demo_cfg: ModelConfig, pg_source: str) -> None:
    from pipelines.quality.gate import validate

    report = validate(demo_cfg, ingest(demo_cfg, date(2025, 6, 1), pg_source))
    assert not report.success
    assert any(c.expectation == "expect_table_row_count_to_be_between" for c in report.critical)


@postgres
def test_window_frame_reads_postgres_with_the_fast_path(
    demo_cfg: ModelConfig, pg_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the seeded table; when the drift monitor's reader reads a window with each engine
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "sqlalchemy")
    generic = window_frame(demo_cfg, window, pg_source)
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE")
    monkeypatch.setattr(ingest_mod, "read_window", _refuse)
    fast = window_frame(demo_cfg, window, pg_source)
    # then the fast one never touched SQLAlchemy and holds the same rows and dtypes, ordered
    assert len(fast) == 49 * ROWS_PER_DAY and fast["event_ts"].is_monotonic_increasing
    generic = generic.sort_values(["event_ts", "customer_id"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(fast, generic)


@postgres
@pytest.mark.slow
def test_drift_check_gives_the_same_report_on_both_engines(
    demo_cfg: ModelConfig, pg_source: str, registry_home: Path, trained_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from pipelines.data.profile import build_profile
    from pipelines.jobs.monitor import check_drift
    from pipelines.model.estimators import predict
    from pipelines.model.features import model_frame
    from pipelines.model.train import PROFILE_ARTIFACT
    from pipelines.registry import versions as registry

    # given a champion whose reference profile is the PostgreSQL training window
    client = registry.client()
    client.create_registered_model("demo")
    with registry.start_run("demo", "reference") as run:
        pass
    version = int(client.create_model_version("demo", trained_model.as_uri(), run_id=run.info.run_id).version)
    registry.set_alias("demo", registry.CHAMPION, version)
    features = model_frame(load(ingest(demo_cfg, AS_OF, pg_source)), demo_cfg)
    scores = predict(registry.load_model("demo", version), features, demo_cfg.task)
    profile = build_profile(features, demo_cfg.columns.numeric, demo_cfg.columns.categorical, scores)
    mlflow.MlflowClient().log_text(run.info.run_id, profile.to_json(), PROFILE_ARTIFACT)
    # when the monitor checks the days before 2026-03-20 through SQLAlchemy, then through the fast path
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "sqlalchemy")
    generic = check_drift(demo_cfg, date(2026, 3, 20), pg_source, record=False)
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE")
    monkeypatch.setattr(ingest_mod, "read_window", _refuse)
    fast = check_drift(demo_cfg, date(2026, 3, 20), pg_source, record=False)
    # then both judged the same rows the same way
    assert fast.to_dict() == generic.to_dict()


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("the SQLAlchemy path was used")


@postgres
def test_cli_ingest_imports_neither_sqlalchemy_nor_pandas(pg_source: str, home: Path) -> None:
    # given the CLI in a fresh interpreter; when it ingests a PostgreSQL window
    script = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print(sorted({'pandas', 'sqlalchemy'} & set(sys.modules))))\n"
        "sys.argv = ['pipelines', *sys.argv[1:]]\n"
        "runpy.run_module('pipelines', run_name='__main__', alter_sys=True)\n"
    )
    args = ["ingest", "--model", "demo", "--as-of", AS_OF.isoformat(), "--source-url", pg_source]
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300)
    # then it wrote the snapshot without loading either (they cost ~0.7 s of start-up together)
    assert done.returncode == 0, done.stderr
    assert f"{49 * ROWS_PER_DAY} rows" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"


# --- errors ---------------------------------------------------------------------------------------------


@postgres
def test_missing_table_is_a_one_line_schema_error(demo_cfg: ModelConfig, postgres_db: str, home: Path) -> None:
    with pytest.raises(SourceSchemaError) as info:
        ingest(demo_cfg, AS_OF, postgres_db)
    message = str(info.value)
    assert message == f'cannot read customer_events from {postgres_db}: relation "customer_events" does not exist'
    assert not (home / "snapshots").exists()


@postgres
def test_missing_columns_are_schema_errors_naming_the_column(demo_cfg: ModelConfig, pg_source: str) -> None:
    no_timestamp = with_source(
        demo_cfg,
        query="SELECT customer_id FROM customer_events WHERE event_ts >= :window_start AND event_ts < :window_end",
    )
    with pytest.raises(SourceSchemaError, match=r"no timestamp column 'event_ts'; it has customer_id$"):
        ingest(no_timestamp, AS_OF, pg_source)
    bad_column = with_source(
        demo_cfg,
        query="SELECT nope, * FROM customer_events WHERE event_ts >= :window_start AND event_ts < :window_end",
    )
    with pytest.raises(SourceSchemaError) as info:
        ingest(bad_column, AS_OF, pg_source)
    assert str(info.value).endswith("the query from " + pg_source + ': column "nope" does not exist')
    for message in (str(info.value),):
        assert "\n" not in message and "COPY" not in message and "SELECT" not in message


@postgres
def test_entity_key_missing_is_left_to_the_quality_gate(demo_cfg: ModelConfig, pg_source: str) -> None:
    # as on the SQLAlchemy path, a source without the entity key is read (ordered by timestamp only)
    cfg = with_source(
        demo_cfg,
        query="SELECT event_ts, plan FROM customer_events WHERE event_ts >= :window_start AND event_ts < :window_end",
    )
    frame = load(ingest(cfg, AS_OF, pg_source))
    assert list(frame.columns) == ["event_ts", "plan"]
    assert frame["event_ts"].is_monotonic_increasing


@postgres
def test_broken_stream_is_a_source_error_and_leaves_no_file(
    demo_cfg: ModelConfig, postgres_db: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a window far larger than the socket buffers, streamed in small batches
    frame = generate(date(2026, 1, 1), days=49, rows_per_day=4_000, seed=1)
    engine = sa.create_engine(postgres_db)
    try:
        with engine.begin() as conn:
            frame.to_sql("customer_events", conn, index=False, method=_copy_rows)
    finally:
        engine.dispose()
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    update = ArrowDigest.update

    def kill_the_server_side(self: ArrowDigest, batch: pa.RecordBatch) -> None:
        # when the server process of the ingest's connection dies after the first batch
        if self.rows == 0:
            execute(
                postgres_db,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
        update(self, batch)

    monkeypatch.setattr(ArrowDigest, "update", kill_the_server_side)
    folder = home / "broken"
    store = SnapshotStore(str(folder))
    with pytest.raises(SourceError) as info:
        read_days(demo_cfg, postgres_db, window.days(), None, store, store.root, window, batch_bytes=65_536)
    # then it is a SourceError (retrying may help), on one line, and no file or temp file is left
    assert not isinstance(info.value, SourceSchemaError)
    assert str(info.value).startswith(f"cannot read customer_events from {postgres_db}: ")
    # libpq names the cause or only the effect, depending on when the backend is terminated
    message = str(info.value)
    assert "\n" not in message and ("terminating connection" in message or "closed the connection" in message)
    assert [p for p in folder.rglob("*") if p.is_file()] == []


def _copy_rows(table: Any, conn: Any, keys: list[str], data_iter: Iterator[tuple[object, ...]]) -> None:
    """``to_sql`` through COPY (CSV), so that 196,000 rows load in a second."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(data_iter)
    buffer.seek(0)
    with conn.connection.cursor() as cursor:
        columns = ", ".join(f'"{k}"' for k in keys)
        cursor.copy_expert(f'COPY "{table.name}" ({columns}) FROM STDIN WITH CSV', buffer)


@postgres
def test_missing_database_is_a_schema_error(demo_cfg: ModelConfig, postgres_db: str, home: Path) -> None:
    url = sa.make_url(postgres_db).set(database="pipelines_no_such_db").render_as_string(hide_password=False)
    with pytest.raises(SourceSchemaError, match='database "pipelines_no_such_db" does not exist'):
        ingest(demo_cfg, AS_OF, url)


# --- engine choice, URLs, SQL text ----------------------------------------------------------------------


# --- the digest -----------------------------------------------------------------------------------------
