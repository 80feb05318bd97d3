"""Reading a model's window from its source database with SQLAlchemy and bound parameters.

Both engines (this one and ``pipelines.data.adbc_window``) read a source the same guarded way:

- the connection has a deadline (``PIPELINES_DB_CONNECT_TIMEOUT`` seconds, ``settings.connect_args``), so a server
  that is down or never answers ends in one ``SourceError`` line;
- each session runs ``SESSION_SQL`` first: PostgreSQL sessions are pinned to UTC and every transaction in
  them is read-only, SQLite connections are ``query_only``. Other databases are refused: their reads could
  not be made read-only;
- a query source is one statement (``sql_text.single_statement``), refused before connecting otherwise.

Windows are UTC days. A ``timestamptz`` column is compared and returned as UTC instants whatever the
server's zone; a column without a zone holds wall-clock times of ``columns.timestamp_timezone`` (UTC unless
set): it is filtered by the window's bounds in that zone and converted to naive UTC.

SQLAlchemy and pandas are imported where they are used: the ADBC path (``pipelines.data.adbc_window``) needs
only ``SESSION_SQL`` and ``row_order`` from here (its errors are in ``source_errors``),
and the CLI starts ~0.3 s sooner without SQLAlchemy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.config.data_sections import SourceConfig
from pipelines.config.settings import connect_args
from pipelines.data.source_errors import (
    SCHEMA_HINTS,
    SourceError,
    SourceSchemaError,
    first_line,
    safe_url,
    zoned_column_error,
)
from pipelines.data.sql_text import single_statement
from pipelines.data.windows import Window, wall_clock

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine


SESSION_SQL: dict[str, tuple[str, ...]] = {
    "postgresql": (
        "SET TIME ZONE 'UTC'",
        "SET standard_conforming_strings = on",  # quotes then mean to the server what single_statement reads
        "SET default_transaction_read_only = on",
    ),
    "sqlite": ("PRAGMA query_only = ON",),
}
"""What every source session runs before its query, by SQLAlchemy backend name."""


def session_sql(backend: str) -> tuple[str, ...]:
    """The statements that pin a ``backend`` session to UTC and read-only; ``SourceSchemaError`` for others."""
    try:
        return SESSION_SQL[backend]
    except KeyError:
        raise SourceSchemaError(
            f"cannot read a {backend} source: reads are made read-only only on {' and '.join(SESSION_SQL)}"
        ) from None


def make_engine(url: str) -> Engine:
    """An engine for ``url`` that connects with a deadline; SQLite files get their folder created. A URL that
    cannot be parsed, names an unknown driver or has a bad port is a ``SourceSchemaError``.
    """
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args(parsed))
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:  # ValueError: a bad port
        raise SourceSchemaError(f"bad source URL: {first_line(exc)}") from exc


def source_engine(url: str) -> Engine:
    """``make_engine`` for reading a source: every connection runs ``session_sql`` first (UTC, read-only)."""
    import sqlalchemy as sa

    statements = session_sql(sa.make_url(url).get_backend_name())  # before the driver is even imported
    engine = make_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _read_only_utc(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_connection.commit()  # PostgreSQL drivers opened a transaction: keep the settings

    return engine


def window_statement(
    source: SourceConfig,
    timestamp: str,
    window: Window,
    future_after: datetime | None = None,
    zone: str = "UTC",
    dialect: str = "postgresql",
) -> sa.Executable:
    """The SELECT for a window: identifiers quoted by SQLAlchemy, window bounds as bound parameters.

    The bounds are naive wall-clock times in ``zone``, the zone of the timestamp column's values. With
    ``future_after`` (naive UTC; table sources), rows stamped later than it are selected too, so the quality
    gate sees timestamps that cannot be true yet instead of them silently falling outside the window. A query
    source must be a single statement (``single_statement``, read as ``dialect`` writes SQL).
    ``pipelines.data.adbc_query.spans_query`` is the same SELECT as SQL text for the ADBC driver.
    """
    later = future_bound(window, future_after) if source.query is None else None
    return spans_statement(source, timestamp, [window], later, zone, dialect)


def future_bound(window: Window, future_after: datetime | None) -> datetime | None:
    """The instant (naive UTC) after which rows are selected as impossible ones: ``future_after``, at least the
    window's end; None without ``future_after``.
    """
    return None if future_after is None else max(future_after, window.end_instant())


def spans_statement(
    source: SourceConfig,
    timestamp: str,
    spans: Sequence[Window],
    later: datetime | None = None,
    zone: str = "UTC",
    dialect: str = "postgresql",
) -> sa.Executable:
    """The SELECT of the rows in any of ``spans`` (runs of whole days) or stamped after ``later`` (naive UTC).

    A table source takes any number of spans; a query source exactly one (its ``:window_start`` and
    ``:window_end``) and never ``later``. Bounds are bound parameters, wall-clock times in ``zone``.
    """
    import sqlalchemy as sa

    if source.query is not None:
        if len(spans) != 1 or later is not None:
            raise ValueError("a query source is read one span at a time, without later rows")
        start, end = spans[0].bounds(zone)
        return sa.text(single_statement(source.query, dialect)).bindparams(
            sa.bindparam("window_start", start, type_=sa.DateTime()),
            sa.bindparam("window_end", end, type_=sa.DateTime()),
        )
    assert source.table is not None
    ts = sa.column(timestamp, sa.DateTime())
    table = sa.table(source.table, ts, schema=source.db_schema)
    conditions = [sa.and_(ts >= start, ts < end) for start, end in (span.bounds(zone) for span in spans)]
    if later is not None:
        conditions.append(ts > wall_clock(later, zone))
    if not conditions:
        raise ValueError("nothing to select: no span and no later rows")
    selected = conditions[0] if len(conditions) == 1 else sa.or_(*conditions)
    return sa.select(sa.literal_column("*")).select_from(table).where(selected)


def row_order(columns: Sequence[str], timestamp: str, entity_key: str | None) -> list[str]:
    """The columns a snapshot's rows are ordered by: the timestamp, then the entity key; without an entity key,
    every other column in the source's order (text compared by code point), so the same rows always come in
    the same order and give the same snapshot.
    """
    if entity_key is None:
        return [timestamp, *(c for c in columns if c != timestamp)] if timestamp in columns else []
    return [c for c in (timestamp, entity_key) if c in columns]


def read_window(
    url: str,
    source: SourceConfig,
    timestamp: str,
    window: Window,
    future_after: datetime | None = None,
    zone: str = "UTC",
) -> pd.DataFrame:
    """All rows of the window (and any stamped after ``future_after``), the timestamp column as naive UTC.

    ``zone`` is ``columns.timestamp_timezone``: the zone of a timestamp column stored without one.
    """

    def statements(backend: str) -> list[sa.Executable]:
        return [window_statement(source, timestamp, window, future_after, zone, backend)]

    return read_frames(url, source, timestamp, statements, zone)[0]


def read_frames(
    url: str,
    source: SourceConfig,
    timestamp: str,
    statements: Callable[[str], Sequence[sa.Executable]],
    zone: str = "UTC",
) -> list[pd.DataFrame]:
    """One frame per statement (``statements(backend)``), each read by ``pandas.read_sql`` on one read-only
    connection, the timestamp column as naive UTC (``zone`` as in ``read_window``).
    """
    import pandas as pd

    with source_connection(url, source) as (conn, backend):
        frames = [pd.read_sql(statement, conn) for statement in statements(backend)]
    return [_utc_timestamps(frame, source, timestamp, zone) for frame in frames]


@contextmanager
def source_connection(url: str, source: SourceConfig) -> Iterator[tuple[sa.Connection, str]]:
    """A read-only UTC connection to the source and its backend name, closed when the block ends. A bad URL,
    and a failure inside the block, are one-line ``SourceSchemaError`` (retrying cannot help) or ``SourceError``.
    """
    import sqlalchemy as sa

    try:
        backend = sa.make_url(url).get_backend_name()
        engine = source_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:  # ValueError: a bad port
        raise SourceSchemaError(f"bad source URL: {first_line(exc)}") from exc
    try:
        with engine.connect() as conn:
            yield conn, backend
    except Exception as exc:
        pandas = sys.modules.get("pandas")  # read_sql's errors, without importing pandas for the Arrow path
        if not isinstance(exc, sa.exc.SQLAlchemyError) and not (
            pandas is not None and isinstance(exc, pandas.errors.DatabaseError)
        ):
            raise
        cause = exc.__cause__ if isinstance(exc.__cause__, sa.exc.SQLAlchemyError) else exc
        detail = first_line(getattr(cause, "orig", None) or cause)
        message = f"cannot read {source.table or 'the query'} from {safe_url(url)}: {detail}"
        schema_problem = isinstance(cause, (sa.exc.ProgrammingError, sa.exc.NotSupportedError)) or any(
            h in detail.lower() for h in SCHEMA_HINTS
        )
        raise (SourceSchemaError if schema_problem else SourceError)(message) from exc
    finally:
        engine.dispose()


def _utc_timestamps(frame: pd.DataFrame, source: SourceConfig, timestamp: str, zone: str) -> pd.DataFrame:
    """``frame`` with its timestamp column as naive UTC; ``SourceSchemaError`` when it has no such column."""
    import pandas as pd

    if timestamp not in frame.columns:
        raise SourceSchemaError(
            f"the source has no timestamp column {timestamp!r}; it has {', '.join(map(str, frame.columns))}"
        )
    stamps = pd.to_datetime(frame[timestamp], format="mixed")
    if stamps.dt.tz is not None:
        if zone != "UTC":
            raise zoned_column_error(source.table or "the query", timestamp, zone)
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    elif zone != "UTC":
        import pyarrow as pa

        from pipelines.data.arrow_normaliser import utc_from_wall_clock

        instants = utc_from_wall_clock(pa.array(stamps), zone).to_numpy(zero_copy_only=False)
        stamps = pd.Series(instants, index=frame.index, name=timestamp)
    frame[timestamp] = stamps
    return frame
