"""Reading a model's window from its source database with SQLAlchemy and bound parameters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines.config import SourceConfig
from pipelines.windows import Window


class SourceError(RuntimeError):
    """The source could not be read: unreachable, missing table, or a query that fails."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(parsed, pool_pre_ping=True)


def window_statement(source: SourceConfig, timestamp: str, window: Window) -> sa.Executable:
    """The SELECT for a window: identifiers quoted by SQLAlchemy, window bounds as bound parameters."""
    start, end = window.bounds()
    if source.query is not None:
        return sa.text(source.query).bindparams(
            sa.bindparam("window_start", start, type_=sa.DateTime()),
            sa.bindparam("window_end", end, type_=sa.DateTime()),
        )
    assert source.table is not None
    ts = sa.column(timestamp, sa.DateTime())
    table = sa.table(source.table, ts, schema=source.db_schema)
    return sa.select(sa.literal_column("*")).select_from(table).where(ts >= start, ts < end)


def read_window(url: str, source: SourceConfig, timestamp: str, window: Window) -> pd.DataFrame:
    """All rows of the window, with the timestamp column parsed."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            frame = pd.read_sql(window_statement(source, timestamp, window), conn)
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"cannot read {source.table or 'query'} from {_safe(url)}: {_first_line(exc)}") from exc
    finally:
        engine.dispose()
    if timestamp not in frame.columns:
        raise SourceError(f"the source has no timestamp column {timestamp!r}; it has {list(frame.columns)}")
    stamps = pd.to_datetime(frame[timestamp], format="mixed")
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    frame[timestamp] = stamps
    return frame


def _safe(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
