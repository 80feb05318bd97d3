"""What can go wrong reading a source, and how it is said: retryable SourceError, SourceSchemaError for what
retrying cannot fix, and the helpers that word them without leaking a password.
"""

from __future__ import annotations

from pipelines.errors import PipelinesError


class SourceError(PipelinesError, RuntimeError):
    """The source could not be read (unreachable, timed out): retrying may help."""


class SourceSchemaError(SourceError):
    """The source lacks what the config names (a table, a column) or the query is wrong: retrying will not help."""


SCHEMA_HINTS = (  # words in a driver's error that mean retrying will not help
    "no such table",
    "no such column",
    "does not exist",
    "unknown column",
    "syntax error",
    "read-only transaction",  # PostgreSQL: the query tried to write
    "readonly database",  # SQLite (query_only): the query tried to write
)


def zoned_column_error(what: str, timestamp: str, zone: str) -> SourceSchemaError:
    """The error for ``columns.timestamp_timezone`` set on a timestamp column that carries its own zone."""
    return SourceSchemaError(
        f"cannot read {what}: the timestamp column {timestamp!r} has a time zone of its own, so "
        f"columns.timestamp_timezone ({zone!r}) does not apply: remove it from the config"
    )


def safe_url(url: str) -> str:
    """``url`` with its password masked."""
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name when the message is empty)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
