"""PostgreSQL windows straight into Arrow: binary COPY through the ADBC driver, streamed as record batches.

``ingest`` uses this (through ``arrow_days``) for PostgreSQL sources (see ``adbc_url.use_arrow``); every other
dialect, and PostgreSQL when the environment variable ``PIPELINES_INGEST_ENGINE=sqlalchemy`` is set, goes through
``frame_days`` (SQLAlchemy + pandas). The SQL text is ``adbc_query.spans_query``;
the batches are normalised by ``arrow_normaliser.Normaliser``.

The connection is guarded as the SQLAlchemy path's (see ``pipelines.data.sources``): libpq's
``connect_timeout`` (``PIPELINES_DB_CONNECT_TIMEOUT``) bounds the wait for the server, the session runs
``sources.SESSION_SQL["postgresql"]`` (UTC, read-only) before the query, and a query source must be a single
statement. The bounds are UTC, or wall-clock times of ``columns.timestamp_timezone`` for a timestamp column
without a zone, which ``arrow_normaliser.utc_from_wall_clock`` then converts to UTC.

Rows come ordered by the timestamp, then the entity key (when the source has it), from the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from pipelines.config.data_sections import SourceConfig
from pipelines.data.adbc_query import spans_query
from pipelines.data.adbc_url import libpq_uri, with_connect_timeout
from pipelines.data.arrow_normaliser import Normaliser
from pipelines.data.source_errors import SCHEMA_HINTS, SourceError, SourceSchemaError, safe_url
from pipelines.data.sources import SESSION_SQL, future_bound, row_order
from pipelines.data.windows import Window

_ADBC_STATUS = re.compile(r"^[A-Z_]+: ")
_BATCH_HINT = "adbc.postgresql.batch_size_hint_bytes"


@dataclass(frozen=True)
class WindowStream:
    """An open window: its normalised schema, its record batches (read lazily) and the SQL that was run."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    query: str


@contextmanager
def open_window(
    url: str,
    source: SourceConfig,
    timestamp: str,
    entity_key: str | None,
    window: Window,
    future_after: datetime | None = None,
    batch_bytes: int | None = None,
    zone: str = "UTC",
) -> Iterator[WindowStream]:
    """Run the window's query over binary COPY and stream it; the connection closes when the block ends.

    The session is in UTC and read-only; ``zone`` is ``columns.timestamp_timezone``. Raises
    ``SourceSchemaError`` for a bad URL, a missing table or column, a wrong query or one that writes, and
    ``SourceError`` when the server cannot be reached in time or the stream breaks. Messages are one line and
    name the table and the server without the password. ``batch_bytes`` is the driver's batch size hint
    (16 MiB by default); memory stays around a few batches whatever the window's size.
    """
    later = future_bound(window, future_after) if source.query is None else None
    with open_spans(url, source, timestamp, entity_key, [window], later, batch_bytes, zone) as stream:
        yield stream


@contextmanager
def open_spans(
    url: str,
    source: SourceConfig,
    timestamp: str,
    entity_key: str | None,
    spans: Sequence[Window],
    later: datetime | None = None,
    batch_bytes: int | None = None,
    zone: str = "UTC",
) -> Iterator[WindowStream]:
    """``open_window`` for the rows in any of ``spans`` (runs of whole days) or stamped after ``later`` (naive
    UTC), as ``adbc_query.spans_query`` selects them: a query source takes one span and no ``later``.
    """
    # The driver's low-level API: its DB-API module would import pandas, which this path does not need.
    import adbc_driver_manager as adbc
    import adbc_driver_postgresql

    uri = with_connect_timeout(libpq_uri(url))
    what = source.table or "the query"
    unordered = spans_query(source, timestamp, spans, later, zone=zone)  # refuses a second statement

    def failure(exc: BaseException) -> SourceError:
        return _source_error(exc, what, url, adbc)

    handles: list[Any] = []  # closed in reverse order: reader, statement, connection, database
    try:
        try:
            handles.append(adbc_driver_postgresql.connect(uri))  # autocommit, as ADBC connections start
            handles.append(adbc.AdbcConnection(handles[-1]))
            statement = adbc.AdbcStatement(handles[-1])
            handles.append(statement)
            statement.set_sql_query("; ".join(SESSION_SQL["postgresql"]))
            statement.execute_update()
            if batch_bytes is not None:
                statement.set_options(**{_BATCH_HINT: str(batch_bytes)})
            statement.set_sql_query(unordered)
            schema = pa.schema(statement.execute_schema())
            names = schema.names
            if timestamp not in names:
                raise SourceSchemaError(
                    f"the source has no timestamp column {timestamp!r}; it has {', '.join(map(str, names))}"
                )
            order = row_order(names, timestamp, entity_key)
            # Ordered by every column, text compares by code point, as pandas orders it on the other path.
            text = [f.name for f in schema if _is_text(f.type)] if entity_key is None else []
            query = spans_query(source, timestamp, spans, later, order, zone, text)
            statement.set_sql_query(query)
            stream, _ = statement.execute_query()
            reader = pa.RecordBatchReader.from_stream(stream)
            handles.append(reader)
        except adbc.Error as exc:
            raise failure(exc) from None
        normalise = Normaliser(reader.schema, timestamp, what, zone)

        def batches() -> Iterator[pa.RecordBatch]:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (adbc.Error, pa.ArrowException, OSError) as exc:  # OSError: ArrowIOError
                    raise failure(exc) from None
                yield normalise(batch)

        yield WindowStream(normalise.schema, batches(), query)
    finally:
        for handle in reversed(handles):
            with suppress(Exception):
                handle.close()


def _source_error(exc: BaseException, what: str, url: str, adbc: Any) -> SourceError:
    """``SourceSchemaError`` when retrying cannot help (SQLSTATE classes 42 and 3F, missing objects), else ``SourceError``."""
    import sqlalchemy as sa  # errors only: the happy path does without it

    password = sa.make_url(url).password
    text = str(exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    detail = _ADBC_STATUS.sub("", detail, count=1).replace("[libpq] ", "")
    if "ERROR:" in detail:
        detail = detail.split("ERROR:", 1)[1].strip()
    detail = " ".join(detail.split())
    if password:
        detail = detail.replace(str(password), "***")
    sqlstate = str(getattr(exc, "sqlstate", None) or "")
    schema_problem = (
        isinstance(exc, adbc.ProgrammingError)
        or sqlstate[:2] in ("42", "3F", "0A")  # syntax or access, missing schema, feature not supported
        or sqlstate == "25006"  # read_only_sql_transaction: the query tried to write
        or any(hint in detail.lower() for hint in SCHEMA_HINTS)
    )
    return (SourceSchemaError if schema_problem else SourceError)(f"cannot read {what} from {safe_url(url)}: {detail}")


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))
