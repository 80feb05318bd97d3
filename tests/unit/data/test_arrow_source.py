"""Fast ingest: PostgreSQL windows over binary COPY into Arrow, streamed into the snapshot's parquet file.

Most tests need the PostgreSQL server on 127.0.0.1:5432 (each gets a database of its own); the ones about
SQL text, URLs and the digest do not.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pipelines.config.schema import ModelConfig
from pipelines.data import arrow_source
from pipelines.data.arrow_source import (
    ArrowDigest,
    libpq_uri,
    timestamp_literal,
    use_arrow,
    window_query,
    with_connect_timeout,
)
from pipelines.data.ingest import ingest
from pipelines.data.sources import SourceError, SourceSchemaError
from pipelines.data.windows import Window
from pipelines.registry import db

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days
PREMIUM_QUERY = (
    "SELECT * FROM customer_events WHERE plan LIKE 'prem%' AND customer_id::bigint > 0 "
    "AND event_ts >= :window_start AND event_ts < :window_end;"
)
postgres = pytest.mark.postgres


def with_source(cfg: ModelConfig, **source: str) -> ModelConfig:
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate({**data, "source": {"url_env": "PIPELINES_SOURCE_URL", **source}})


# --- both engines, same data ---------------------------------------------------------------------------


# --- snapshot contract on the Arrow path -----------------------------------------------------------------


# --- errors ---------------------------------------------------------------------------------------------


def test_unreachable_server_is_a_source_error_without_the_password(demo_cfg: ModelConfig, home: Path) -> None:
    url = "postgresql+psycopg2://postgres:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(SourceError) as info:
        ingest(demo_cfg, AS_OF, url)
    assert not isinstance(info.value, SourceSchemaError), "retrying may help"
    message = str(info.value)
    assert "s3cret-pw" not in message and "***" in message and "127.0.0.1" in message
    assert "\n" not in message


@pytest.mark.parametrize("url", ["postgresql+nosuchdriver://user@host/db", "postgresql://user@host:notaport/db"])
def test_bad_postgres_url_is_a_schema_error(demo_cfg: ModelConfig, home: Path, url: str) -> None:
    with pytest.raises(SourceSchemaError, match="bad source URL"):
        ingest(demo_cfg, AS_OF, url)


# --- engine choice, URLs, SQL text ----------------------------------------------------------------------


def test_engine_follows_the_url_with_an_escape_hatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE", raising=False)
    assert use_arrow("postgresql+psycopg2://u@h/db") and use_arrow("postgresql://u@h/db")
    assert not use_arrow("sqlite:///x.db") and not use_arrow("not a url")
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "sqlalchemy")
    assert not use_arrow("postgresql+psycopg2://u@h/db")
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "ADBC")
    assert use_arrow("sqlite:///x.db")
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "fast")
    with pytest.raises(SourceSchemaError, match="PIPELINES_INGEST_ENGINE='fast' is not one of"):
        use_arrow("postgresql://u@h/db")


def test_adbc_engine_refuses_other_databases(
    demo_cfg: ModelConfig, seeded_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "adbc")
    with pytest.raises(SourceSchemaError, match="reads PostgreSQL sources only, not sqlite"):
        ingest(demo_cfg, AS_OF, seeded_source)


@pytest.mark.parametrize("seconds", [None, "", "3", "2.5", "0.2"])
def test_adbc_connects_with_the_deadline_of_the_sqlalchemy_path(
    seconds: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given PIPELINES_DB_CONNECT_TIMEOUT unset, empty or set
    if seconds is None:
        monkeypatch.delenv("PIPELINES_DB_CONNECT_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("PIPELINES_DB_CONNECT_TIMEOUT", seconds)
    # then libpq gets the connect_timeout that psycopg2 gets from pipelines.db
    expected = db.connect_args("postgresql://h/db")["connect_timeout"]
    assert with_connect_timeout("postgresql://h/db") == f"postgresql://h/db?connect_timeout={expected}"
    assert with_connect_timeout("postgresql://h/db?sslmode=require") == (
        f"postgresql://h/db?sslmode=require&connect_timeout={expected}"
    )


def test_libpq_uri_keeps_credentials_and_options_and_drops_the_driver() -> None:
    url = "postgresql+psycopg2://ml:p%40ss%2Fw%3Ard@db.example:6543/source?sslmode=require"
    uri = libpq_uri(url)
    assert uri == "postgresql://ml:p%40ss%2Fw%3Ard@db.example:6543/source?sslmode=require"
    assert sa.make_url(uri).password == "p@ss/w:rd"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h/db",
        "postgresql+psycopg://ml:p%40ss@db.example:6543/source?sslmode=require&application_name=x",
        "postgresql+asyncpg://u:@127.0.0.1/db",
        "postgresql+psycopg2://u:p@ss/w:rd@h:5432/db",  # characters that SQLAlchemy quotes
        "postgresql+psycopg2://u:50%off@h/db",
        "postgresql+psycopg2://u@[::1]:5432/db",
        "postgresql+psycopg2://u@h/db?options=-c%20search_path%3Dx&sslmode=require",
    ],
)
def test_libpq_uri_means_what_sqlalchemy_reads(url: str) -> None:
    # the plain URLs are converted without SQLAlchemy, the rest by it: both give SQLAlchemy's reading
    parsed, uri = sa.make_url(url), sa.make_url(libpq_uri(url))
    assert uri.drivername == "postgresql"
    assert uri.set(drivername=parsed.drivername) == parsed


@pytest.mark.parametrize("source", [{"table": "customer_events", "schema": "Sales"}, {"query": PREMIUM_QUERY}])
def test_window_query_renders_only_typed_timestamps(demo_cfg: ModelConfig, source: dict[str, str]) -> None:
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    cfg = with_source(demo_cfg, **source)
    sql = window_query(cfg.source, "event_ts", window, datetime(2026, 5, 1, 12, 30), order_by=["event_ts", "ID"])
    assert "CAST('2026-01-11 00:00:00' AS TIMESTAMP WITHOUT TIME ZONE)" in sql
    assert "CAST('2026-03-01 00:00:00' AS TIMESTAMP WITHOUT TIME ZONE)" in sql
    assert sql.endswith('ORDER BY "event_ts", "ID"')
    assert "$" not in sql and "%%" not in sql and ":window" not in sql and not sql.rstrip().endswith(";")
    if "table" in source:
        assert sql.startswith('SELECT * FROM "Sales"."customer_events" WHERE ("event_ts" >= CAST(')
        assert "\"event_ts\" > CAST('2026-05-01 12:30:00' AS TIMESTAMP WITHOUT TIME ZONE)" in sql, "future rows too"
    else:
        assert sql.startswith("SELECT * FROM (SELECT * FROM customer_events WHERE plan LIKE 'prem%'")
        assert "::bigint" in sql


def test_window_query_orders_text_columns_by_code_point_when_asked(demo_cfg: ModelConfig) -> None:
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    order = ["event_ts", "Plan", "tenure_months"]
    sql = window_query(demo_cfg.source, "event_ts", window, order_by=order, as_text=["Plan"])
    assert sql.endswith('ORDER BY "event_ts", CAST("Plan" AS text) COLLATE "C", "tenure_months"')


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM t WHERE event_ts >= :window_start AND event_ts < :window_end",
        "SELECT *, '10:30'::time AS t, x::text FROM t WHERE (event_ts>=:window_start)AND event_ts<:window_end",
        "SELECT '\\:window_start' AS escaped, * FROM t WHERE event_ts BETWEEN :window_start AND :window_end",
        "SELECT * FROM t WHERE a::date >= CAST(:window_start AS date) AND event_ts < :window_end -- ends:here",
        "SELECT *, 'a;b' AS s FROM t WHERE event_ts >= :window_start AND event_ts < :window_end /* ; */",
    ],
)
def test_query_parameters_are_found_as_sqlalchemy_finds_them(demo_cfg: ModelConfig, query: str) -> None:
    # given a query source; when its window query is built, then the bounds are where SQLAlchemy binds them
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    marked = sa.text(query).bindparams(window_start="START", window_end="END")
    expected = str(marked.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    start, end = (timestamp_literal(bound) for bound in window.bounds())
    sql = window_query(with_source(demo_cfg, query=query).source, "event_ts", window)
    assert sql == expected.replace("'START'", start).replace("'END'", end)


def test_only_naive_datetimes_can_become_sql_literals() -> None:
    assert timestamp_literal(datetime(2026, 1, 11)) == "CAST('2026-01-11 00:00:00' AS TIMESTAMP WITHOUT TIME ZONE)"
    assert timestamp_literal(datetime(2026, 1, 11, 9, 5, 1, 20)) == (
        "CAST('2026-01-11 09:05:01.000020' AS TIMESTAMP WITHOUT TIME ZONE)"
    )
    for value in ("2026-01-11'; DROP TABLE x; --", date(2026, 1, 11), datetime(2026, 1, 11).astimezone()):
        with pytest.raises(TypeError, match="a window bound must be a naive datetime"):
            timestamp_literal(value)  # type: ignore[arg-type]
    assert timestamp_literal(pd.Timestamp("2026-01-11").to_pydatetime()).startswith("CAST('2026-01-11 00:00:00'")
    with pytest.raises(TypeError):
        timestamp_literal(pd.Timestamp("2026-01-11"))  # a datetime subclass is refused too


def test_query_with_another_parameter_is_a_schema_error(demo_cfg: ModelConfig) -> None:
    query = "SELECT * FROM t WHERE plan = :plan AND event_ts >= :window_start AND event_ts < :window_end"
    cfg = with_source(demo_cfg, query=query)
    with pytest.raises(SourceSchemaError, match="uses parameters other than :window_start and :window_end: :plan$"):
        window_query(cfg.source, "event_ts", Window.for_as_of(AS_OF, demo_cfg.windows))


# --- the digest -----------------------------------------------------------------------------------------


def digest_of(table: pa.Table, rows_per_batch: int) -> str:
    digest = ArrowDigest(table.schema)
    for batch in table.to_batches(max_chunksize=rows_per_batch):
        digest.update(batch)
    return digest.hexdigest()


@pytest.fixture
def mixed() -> pa.Table:
    n = 1000
    return pa.table(
        {
            "ts": pa.array([datetime(2026, 1, 1) + timedelta(minutes=i) for i in range(n)], pa.timestamp("us")),
            "x": pa.array([None if i % 7 == 0 else i * 0.5 for i in range(n)], pa.float64()),
            "k": pa.array(range(n), pa.int64()),
            "s": pa.array([None if i % 11 == 0 else "abc"[: i % 4] * (i % 5) for i in range(n)], pa.string()),
            "b": pa.array([None if i % 13 == 0 else i % 2 == 0 for i in range(n)], pa.bool_()),
            "l": pa.array([[i, i + 1] for i in range(n)], pa.list_(pa.int64())),
        }
    )


def test_digest_is_the_same_whatever_the_batch_boundaries(mixed: pa.Table) -> None:
    flat = mixed.drop_columns(["l"])  # lists are hashed per batch (IPC): boundaries matter there
    hashes = {digest_of(flat, size) for size in (1, 7, 64, 333, 1000)}
    assert len(hashes) == 1
    assert digest_of(mixed, 100) == digest_of(mixed, 100)


def test_digest_changes_with_values_nulls_order_and_types(mixed: pa.Table) -> None:
    flat = mixed.drop_columns(["l"])
    reference = digest_of(flat, 100)
    changed_value = flat.set_column(2, "k", pa.array(range(1, 1001), pa.int64()))
    one_more_null = flat.set_column(1, "x", pa.array([None, *flat["x"].to_pylist()[1:-1], None], pa.float64()))
    reordered = flat.take(pa.array([1, 0, *range(2, 1000)]))
    retyped = flat.set_column(2, "k", flat["k"].cast(pa.int32()))
    renamed = flat.rename_columns(["ts", "x", "key", "s", "b"])
    text = flat["s"].to_pylist()
    assert text[:3] == [None, "a", "abab"]
    moved_text = flat.set_column(3, "s", pa.array([None, "aa", "bab", *text[3:]], pa.string()))  # same bytes
    others = [changed_value, one_more_null, reordered, retyped, renamed, moved_text, flat.slice(0, 999)]
    digests = {digest_of(table, 100) for table in others}
    assert reference not in digests and len(digests) == len(others)


def test_arrow_source_never_imports_airflow() -> None:
    assert "airflow" not in Path(arrow_source.__file__).read_text()
