"""The SQL text the ADBC driver runs for a window: bounds as typed literals, identifiers double-quoted.

Window bounds are SQL literals here, not bound parameters, and on purpose: the ADBC PostgreSQL driver
(1.13) streams a result with ``COPY (query) TO STDOUT (FORMAT binary)`` only when the query has no bound
parameters. With parameters it runs ``PQexecParams`` and holds the whole result in libpq memory before the
first batch (1,000,000 demo rows: one batch, ~1 GB resident instead of ~150 MB), and COPY itself cannot
take parameters. So ``spans_query`` writes the bounds as ``CAST('2026-01-11 00:00:00' AS TIMESTAMP
WITHOUT TIME ZONE)`` (what psycopg2 sends for a bound ``datetime``) with ``timestamp_literal``, which
accepts only naive ``datetime`` objects (from ``Window.bounds()`` and the wall clock) and raises for
anything else: no text from a config or a user is ever put into the SQL. Identifiers, validated as plain
SQL identifiers by the config, are double-quoted. Query sources (``:window_start`` / ``:window_end``) get
the literals where SQLAlchemy's ``text()`` would bind them, then are wrapped in
``SELECT * FROM (query) AS window_rows ORDER BY ...``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime

from pipelines.config.data_sections import SourceConfig
from pipelines.data.source_errors import SourceSchemaError
from pipelines.data.sql_text import single_statement
from pipelines.data.windows import Window, wall_clock

# What SQLAlchemy's text() takes for a bound parameter, and its escape for a literal colon.
_PARAMETER = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")
_ESCAPED_COLON = re.compile(r"\\(:\w*)(?![:\w])")
_WINDOW_PARAMETERS = ("window_start", "window_end")


def timestamp_literal(value: datetime) -> str:
    """A window bound as a typed SQL literal, ``CAST('2026-01-11 00:00:00' AS TIMESTAMP WITHOUT TIME ZONE)``.

    Only a naive ``datetime`` is accepted (its ISO text is digits, ``-``, ``:``, ``.`` and a space);
    anything else, text included, raises ``TypeError``.
    """
    if type(value) is not datetime or value.tzinfo is not None:
        raise TypeError(f"a window bound must be a naive datetime, not {value!r}")
    return f"CAST('{value.isoformat(sep=' ')}' AS TIMESTAMP WITHOUT TIME ZONE)"


def spans_query(
    source: SourceConfig,
    timestamp: str,
    spans: Sequence[Window],
    later: datetime | None = None,
    order_by: Sequence[str] = (),
    zone: str = "UTC",
    as_text: Collection[str] = (),
) -> str:
    r"""The SQL text the driver runs: the rows of ``sources.spans_statement``, in any of ``spans`` (runs of whole
    days) or stamped after ``later`` (naive UTC), ordered by ``order_by``.

    Identifiers (validated by the config) are always double-quoted; the bounds are ``timestamp_literal``s
    (wall-clock times in ``zone``, as ``Window.bounds``). A query source takes exactly one span and no ``later``,
    and must be a single statement; it gets the span's bounds in place of ``:window_start`` and ``:window_end``,
    found as SQLAlchemy's ``text()`` finds parameters (``::`` casts and ``\:`` escapes are left alone); any
    other parameter is a ``SourceSchemaError``, as it would fail on the SQLAlchemy path. Columns in ``as_text``
    are ordered as text by code point.
    """
    if source.query is not None:
        if len(spans) != 1 or later is not None:
            raise ValueError("a query source is read one span at a time, without later rows")
        sql = _bind_window(single_statement(source.query.strip()), *spans[0].bounds(zone))
        if order_by:  # the line break ends a trailing -- comment of the query
            sql = f"SELECT * FROM ({sql}\n) AS window_rows"  # noqa: S608 - wraps the configured query itself
    else:
        assert source.table is not None
        ts = _quote(timestamp)
        table = ".".join(_quote(name) for name in (source.db_schema, source.table) if name is not None)
        conditions = [
            f"{ts} >= {timestamp_literal(start)} AND {ts} < {timestamp_literal(end)}"
            for start, end in (span.bounds(zone) for span in spans)
        ]
        if later is not None:
            conditions.append(f"{ts} > {timestamp_literal(wall_clock(later, zone))}")
        if not conditions:
            raise ValueError("nothing to select: no span and no later rows")
        condition = conditions[0] if len(conditions) == 1 else " OR ".join(f"({c})" for c in conditions)
        sql = f"SELECT * FROM {table} WHERE {condition}"  # noqa: S608 - quoted validated identifiers, literal bounds
    if order_by:
        sql += " ORDER BY " + ", ".join(
            f'CAST({_quote(name)} AS text) COLLATE "C"' if name in as_text else _quote(name) for name in order_by
        )
    return sql


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _bind_window(query: str, start: datetime, end: datetime) -> str:
    others = sorted({f":{name}" for name in _PARAMETER.findall(query) if name not in _WINDOW_PARAMETERS})
    if others:
        raise SourceSchemaError(
            f"cannot build the window query: it uses parameters other than :window_start and :window_end: "
            f"{', '.join(others)}"
        )
    values = dict(zip(_WINDOW_PARAMETERS, (timestamp_literal(start), timestamp_literal(end)), strict=True))
    return _ESCAPED_COLON.sub(r"\1", _PARAMETER.sub(lambda found: values[found[1]], query))
