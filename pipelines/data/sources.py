"""Reading a model's window from its source database with SQLAlchemy and bound parameters.

Both engines (this one and ``pipelines.data.adbc_window``) read a source the same guarded way:

- the connection has a deadline (``PIPELINES_DB_CONNECT_TIMEOUT`` seconds, ``settings.connect_args``), so a server
  that is down or never answers ends in one ``SourceError`` line;
- each session runs ``SESSION_SQL`` first: PostgreSQL sessions are pinned to UTC and every transaction in
  them is read-only, SQLite connections are ``query_only``. Other databases are refused: their reads could
  not be made read-only;
- a query source is one statement (``single_statement``), refused before connecting otherwise.

Windows are UTC days. A ``timestamptz`` column is compared and returned as UTC instants whatever the
server's zone; a column without a zone holds wall-clock times of ``columns.timestamp_timezone`` (UTC unless
set): it is filtered by the window's bounds in that zone and converted to naive UTC.

SQLAlchemy and pandas are imported where they are used: the ADBC path (``pipelines.data.adbc_window``) needs
only ``SESSION_SQL``, ``single_statement`` and ``row_order`` from here (its errors are in ``source_errors``),
and the CLI starts ~0.3 s sooner without SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
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


def single_statement(query: str, dialect: str = "postgresql") -> str:
    """``query`` without its trailing ``;``, or ``SourceSchemaError`` when it is more than one SQL statement.

    A ``;`` inside quotes, quoted identifiers and comments (and PostgreSQL's ``E'...'`` strings and dollar
    quotes) separates nothing; ``dialect`` (``postgresql`` or ``sqlite``) says how those are written.
    """
    code = [(at, char) for at, char in _code(query, postgres=dialect == "postgresql") if not char.isspace()]
    ends = [at for at, char in code if char == ";"]
    if not ends:
        return query
    if ends[0] != code[-1][0]:
        raise SourceSchemaError(
            f"the source query is more than one SQL statement (more SQL follows the ';' at character "
            f"{ends[0] + 1}): give a single SELECT"
        )
    return query[: ends[0]].rstrip()


_DOLLAR_QUOTE = re.compile(r"\$(?:[^\W\d]\w*)?\$")


def _code(query: str, postgres: bool) -> Iterator[tuple[int, str]]:
    """The characters of ``query`` outside quotes and comments, with their positions."""
    at, size = 0, len(query)
    while at < size:
        char, pair = query[at], query[at : at + 2]
        if pair == "--":
            end = query.find("\n", at)
            at = size if end < 0 else end + 1
        elif pair == "/*":
            at = _comment_end(query, at, nested=postgres)
        elif char in "'\"" or (not postgres and char in "[`"):
            escapes = postgres and char == "'" and query[at - 1 : at] in ("E", "e") and not _word_before(query, at - 1)
            at = _quote_end(query, at, "]" if char == "[" else char, escapes)
        elif postgres and char == "$" and not _word_before(query, at) and (tag := _DOLLAR_QUOTE.match(query, at)):
            end = query.find(tag[0], tag.end())
            at = size if end < 0 else end + len(tag[0])
        else:
            yield at, char
            at += 1


def _word_before(query: str, at: int) -> bool:
    return at > 0 and (query[at - 1].isalnum() or query[at - 1] in "_$")


def _comment_end(query: str, at: int, nested: bool) -> int:
    depth, at = 1, at + 2
    while at < len(query) and depth:
        pair = query[at : at + 2]
        if pair == "*/":
            depth, at = depth - 1, at + 2
        elif nested and pair == "/*":
            depth, at = depth + 1, at + 2
        else:
            at += 1
    return at


def _quote_end(query: str, at: int, close: str, escapes: bool) -> int:
    at += 1
    while at < len(query):
        char = query[at]
        if escapes and char == "\\":
            at += 2
        elif char == close and close != "]" and query[at + 1 : at + 2] == close:
            at += 2  # a doubled quote is one quote character
        elif char == close:
            return at + 1
        else:
            at += 1
    return at


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
    ``pipelines.data.adbc_query.window_query`` is the same SELECT as SQL text for the ADBC driver.
    """
    import sqlalchemy as sa

    start, end = window.bounds(zone)
    if source.query is not None:
        return sa.text(single_statement(source.query, dialect)).bindparams(
            sa.bindparam("window_start", start, type_=sa.DateTime()),
            sa.bindparam("window_end", end, type_=sa.DateTime()),
        )
    assert source.table is not None
    ts = sa.column(timestamp, sa.DateTime())
    table = sa.table(source.table, ts, schema=source.db_schema)
    in_window = sa.and_(ts >= start, ts < end)
    if future_after is None:
        return sa.select(sa.literal_column("*")).select_from(table).where(in_window)
    later = max(wall_clock(future_after, zone), end)
    return sa.select(sa.literal_column("*")).select_from(table).where(sa.or_(in_window, ts > later))


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
    import pandas as pd
    import sqlalchemy as sa

    try:
        backend = sa.make_url(url).get_backend_name()
        statement = window_statement(source, timestamp, window, future_after, zone, backend)
        engine = source_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:  # ValueError: a bad port
        raise SourceSchemaError(f"bad source URL: {first_line(exc)}") from exc
    try:
        with engine.connect() as conn:
            frame = pd.read_sql(statement, conn)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, sa.exc.SQLAlchemyError) else exc
        detail = first_line(getattr(cause, "orig", None) or cause)
        message = f"cannot read {source.table or 'the query'} from {safe_url(url)}: {detail}"
        schema_problem = isinstance(cause, (sa.exc.ProgrammingError, sa.exc.NotSupportedError)) or any(
            h in detail.lower() for h in SCHEMA_HINTS
        )
        raise (SourceSchemaError if schema_problem else SourceError)(message) from exc
    finally:
        engine.dispose()
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
