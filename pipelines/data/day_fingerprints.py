"""Server-side fingerprints of a window's days: which days changed since they were last read.

One query over the window (bound parameters, on the read-only UTC session of ``sources.source_connection``)
returns per UTC day of the timestamp column, computed by the database:

- the row count: rows inserted (late rows) or deleted;
- the sum of the timestamps as whole milliseconds (PostgreSQL: microseconds) since the epoch: a row moved to
  another time, or a delete and an insert that keep the count;
- PostgreSQL table sources only: the sum of the rows' ``xmin`` (the transaction that wrote each row
  version), which changes when any value of a row is updated, also one that is not the timestamp. It stays
  through ``VACUUM FREEZE``; a dump and restore changes every day's, so they are read again (harmless).

What it does not see: on SQLite and for query sources, an update of a non-timestamp value that keeps the
count and the timestamps (to have such days read again, delete the model's rows of the day ledger's table,
``pipelines_snapshot_days``: the next run reads every day); anywhere, a change of
the source's columns alone until a run reads a day (every nightly run reads its new day, and a day read with
other columns than the stored ones makes the whole window read again). All sums are of integers, exact and
independent of the order the database adds them in.

Each engine's day follows the same rule as the rows read: the UTC calendar day of the timestamp, a column
without a zone read in ``columns.timestamp_timezone`` (PostgreSQL converts with ``timezone()``; SQLite, which
knows no zones, buckets by the wall-clock bounds of each UTC day). Rows stamped after the window (the
impossible rows ``future_after`` selects) are only counted: ingest reads them on every run. Rows stamped between
the window's end and ``future_after`` (newer data than the run asked for: the rest of today for a nightly run,
everything since for an older date) are counted apart, for table sources, so a run can say what it left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pipelines.config.data_sections import SourceConfig
from pipelines.data.source_errors import SourceSchemaError
from pipelines.data.sources import future_bound, source_connection, spans_statement
from pipelines.data.windows import Window, wall_clock


@dataclass(frozen=True)
class Fingerprints:
    """A window's fingerprint per day with rows (``rows:stamps[:versions]``), the count of later (impossible)
    rows, and of the rows stamped between the window's end and then (None for a query source).
    """

    days: dict[date, str]
    rows: dict[date, int]
    later_rows: int
    newer_rows: int | None = None


def fingerprint_days(
    url: str,
    source: SourceConfig,
    timestamp: str,
    window: Window,
    future_after: datetime | None = None,
    zone: str = "UTC",
) -> Fingerprints:
    """Fingerprint each day of ``window`` in the source (see the module docstring), in one query.

    Raises ``SourceSchemaError`` for a bad URL, a missing table or a source without the timestamp column, and
    ``SourceError`` when the server cannot be reached, as the reads of the window do.
    """
    later = future_bound(window, future_after) if source.query is None else None
    with source_connection(url, source) as (conn, backend):
        selected = spans_statement(source, timestamp, [window], later, zone, backend)
        _require_timestamp(conn, selected, timestamp)
        found = conn.execute(_statement(source, selected, timestamp, window, zone, backend)).all()
        newer = (
            None if later is None else conn.execute(_newer_statement(source, timestamp, window, later, zone)).scalar()
        )
    days: dict[date, str] = {}
    rows: dict[date, int] = {}
    later_rows = 0
    for day_value, count, stamps, versions in found:
        day = _as_date(day_value, window)
        if day is None or not window.start <= day < window.end:
            later_rows += int(count)
            continue
        rows[day] = int(count)
        days[day] = ":".join(str(int(v)) for v in (count, stamps, versions) if v is not None)
    return Fingerprints(days, rows, later_rows, None if newer is None else int(newer))


def _newer_statement(source: SourceConfig, timestamp: str, window: Window, later: datetime, zone: str) -> Any:
    """``SELECT count(*)`` of a table source's rows stamped from the window's end up to ``later`` (naive UTC)."""
    import sqlalchemy as sa

    ts = sa.column(timestamp, sa.DateTime())
    table = sa.table(str(source.table), ts, schema=source.db_schema)
    since, until = wall_clock(window.end_instant(), zone), wall_clock(later, zone)
    return sa.select(sa.func.count()).select_from(table).where(ts >= since, ts <= until)


def _require_timestamp(conn: Any, selected: Any, timestamp: str) -> None:
    import sqlalchemy as sa

    probe: Any = sa.select(sa.literal_column("*")).select_from(_rows(selected, timestamp)).limit(0)
    names = list(conn.execute(probe).keys())
    if timestamp not in names:
        raise SourceSchemaError(f"the source has no timestamp column {timestamp!r}; it has {', '.join(names)}")


def _rows(selected: Any, timestamp: str) -> Any:
    """The selected rows as a FROM clause (a query source's: with its timestamp column declared)."""
    import sqlalchemy as sa

    if isinstance(selected, sa.TextClause):
        return selected.columns(sa.column(timestamp, sa.DateTime())).subquery("window_rows")
    return selected.subquery("window_rows")


def _statement(source: SourceConfig, selected: Any, timestamp: str, window: Window, zone: str, backend: str) -> Any:
    """``SELECT day, count, sum of stamps, sum of xmin (or NULL) ... GROUP BY day`` over the selected rows."""
    import sqlalchemy as sa

    if source.table is not None:  # straight from the table: its xmin is there
        rows: Any = selected.get_final_froms()[0]
        ts, where = rows.c[timestamp], selected.whereclause
    else:
        rows = _rows(selected, timestamp)
        ts, where = rows.c[timestamp], None
    if backend == "postgresql":
        stamp: Any = sa.cast(ts, sa.DateTime())
        if zone != "UTC":
            stamp = sa.func.timezone("UTC", sa.func.timezone(sa.bindparam("zone", zone), stamp))
        day: Any = sa.cast(stamp, sa.Date())
        stamps = sa.cast(sa.func.floor(sa.func.date_part("epoch", stamp) * 1_000_000), sa.BigInteger())
        xmin = sa.cast(sa.cast(sa.literal_column("xmin"), sa.Text()), sa.BigInteger())
        versions: Any = sa.func.sum(xmin) if source.table is not None else sa.null()
    else:
        day = sa.func.date(ts) if zone == "UTC" else _wall_clock_day(ts, window, zone)
        stamps = sa.cast(sa.func.round((sa.func.julianday(ts) - 2440587.5) * 86_400_000), sa.BigInteger())
        versions = sa.null()
    statement = sa.select(day.label("day"), sa.func.count(), sa.func.sum(stamps), versions).select_from(rows)
    if where is not None:
        statement = statement.where(where)
    return statement.group_by(day)


def _wall_clock_day(ts: Any, window: Window, zone: str) -> Any:
    """The day's offset from the window's start, by the wall-clock bounds in ``zone`` of each UTC day; NULL after."""
    import sqlalchemy as sa

    ends = [wall_clock(window.end_instant() - timedelta(days=n), zone) for n in range(len(window.days()) - 1, -1, -1)]
    return sa.case(*((ts < sa.bindparam(f"day_end_{i}", end, sa.DateTime()), i) for i, end in enumerate(ends)))


def _as_date(value: Any, window: Window) -> date | None:
    if value is None:
        return None
    if isinstance(value, int):
        return window.start + timedelta(days=value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
