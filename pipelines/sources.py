"""Reading a model's window from its source database with SQLAlchemy and bound parameters.

SQLAlchemy and pandas are imported where they are used: the ADBC path (``pipelines.arrow_source``) needs
only the errors defined here, and the CLI starts ~0.3 s sooner without SQLAlchemy.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config import SourceConfig
from pipelines.windows import Window

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine


class SourceError(RuntimeError):
    """The source could not be read (unreachable, timed out): retrying may help."""


class SourceSchemaError(SourceError):
    """The source lacks what the config names (a table, a column) or the query is wrong: retrying will not help."""


_SCHEMA_HINTS = ("no such table", "no such column", "does not exist", "unknown column", "syntax error")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(parsed, pool_pre_ping=True)


def window_statement(
    source: SourceConfig, timestamp: str, window: Window, future_after: datetime | None = None
) -> sa.Executable:
    """The SELECT for a window: identifiers quoted by SQLAlchemy, window bounds as bound parameters.

    With ``future_after`` (table sources), rows stamped later than it are selected too, so the quality
    gate sees timestamps that cannot be true yet instead of them silently falling outside the window.
    ``pipelines.arrow_source.window_query`` is the same SELECT as SQL text for the ADBC driver.
    """
    import sqlalchemy as sa

    start, end = window.bounds()
    if source.query is not None:
        return sa.text(source.query).bindparams(
            sa.bindparam("window_start", start, type_=sa.DateTime()),
            sa.bindparam("window_end", end, type_=sa.DateTime()),
        )
    assert source.table is not None
    ts = sa.column(timestamp, sa.DateTime())
    table = sa.table(source.table, ts, schema=source.db_schema)
    in_window = sa.and_(ts >= start, ts < end)
    condition = in_window if future_after is None else sa.or_(in_window, ts > max(future_after, end))
    return sa.select(sa.literal_column("*")).select_from(table).where(condition)


def read_window(
    url: str, source: SourceConfig, timestamp: str, window: Window, future_after: datetime | None = None
) -> pd.DataFrame:
    """All rows of the window (and any stamped after ``future_after``), with the timestamp column parsed."""
    import pandas as pd
    import sqlalchemy as sa

    try:
        engine = make_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:  # ValueError: a bad port
        raise SourceSchemaError(f"bad source URL: {_first_line(exc)}") from exc
    try:
        with engine.connect() as conn:
            frame = pd.read_sql(window_statement(source, timestamp, window, future_after), conn)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, sa.exc.SQLAlchemyError) else exc
        detail = _first_line(getattr(cause, "orig", None) or cause)
        message = f"cannot read {source.table or 'the query'} from {_safe(url)}: {detail}"
        schema_problem = isinstance(cause, sa.exc.ProgrammingError) or any(h in detail.lower() for h in _SCHEMA_HINTS)
        raise (SourceSchemaError if schema_problem else SourceError)(message) from exc
    finally:
        engine.dispose()
    if timestamp not in frame.columns:
        raise SourceSchemaError(
            f"the source has no timestamp column {timestamp!r}; it has {', '.join(map(str, frame.columns))}"
        )
    stamps = pd.to_datetime(frame[timestamp], format="mixed")
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    frame[timestamp] = stamps
    return frame


def _safe(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
