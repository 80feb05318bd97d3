"""Stored per-day aggregates (``day_stats.DayStats``), keyed by model, the day file's content digest and what
was aggregated (the checked columns, and which are numeric): an unchanged day is never aggregated twice.

The table lives in the pipeline's own database; ``pipelines.registry.db`` creates it with the pipeline's other
tables and gives the engine (``DayStatsStore(db.engine())``: the quality layer does not import the registry).
Rows are only ever added: the aggregates of a digest and key never change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:  # pandas comes with it: status reads this module's table without it
    from pipelines.quality.day_stats import DayStats

METADATA = sa.MetaData()

DAY_STATS = sa.Table(
    "pipelines_day_stats",
    METADATA,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("config_key", sa.String(64), primary_key=True),
    sa.Column("stats", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
"""One row per model, day file digest and aggregation key: the day's aggregates as JSON."""

STATS_VERSION = "day-stats-v1"


def config_key(columns: Sequence[str], numeric: Sequence[str]) -> str:
    """The digest of what a day's aggregates cover: the checked columns and the numeric ones among them."""
    described = {"version": STATS_VERSION, "columns": list(columns), "numeric": list(numeric)}
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


class DayStatsStore:
    """Reads and adds stored day aggregates in the pipeline's database (``engine``, tables already created)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def stored(self, model: str, key: str, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored aggregates (as ``DayStats.to_dict`` gave them) of the day files with ``digests``."""
        wanted = sorted(set(digests))
        if not wanted:
            return {}
        table = DAY_STATS
        query = sa.select(table.c.digest, table.c.stats).where(
            table.c.model == model, table.c.config_key == key, table.c.digest.in_(wanted)
        )
        with self.engine.connect() as conn:
            return {digest: json.loads(stats) for digest, stats in conn.execute(query)}

    def add(self, model: str, key: str, found: dict[str, DayStats]) -> None:
        """Store the aggregates of new day files (by digest); a digest stored meanwhile is left as it is."""
        if not found:
            return
        now = datetime.now(UTC)
        rows = [
            {"model": model, "digest": d, "config_key": key, "stats": json.dumps(s.to_dict()), "created_at": now}
            for d, s in found.items()
        ]
        with self.engine.begin() as conn:
            known = self.stored(model, key, found) if conn.dialect.name not in ("postgresql", "sqlite") else {}
            new = [row for row in rows if row["digest"] not in known]
            if new:
                conn.execute(_insert_new(conn.dialect.name), new)


def stats_of(stored: dict[str, Any], day: date) -> DayStats:
    """Stored aggregates as the ``DayStats`` of ``day`` (a file's digest may serve several windows' same day)."""
    from pipelines.quality.day_stats import DayStats

    return DayStats.from_dict({**stored, "day": day.isoformat()})


def _insert_new(dialect: str) -> sa.Executable:
    """An INSERT that leaves an existing row of the same key alone (PostgreSQL, SQLite); a plain one elsewhere."""
    from sqlalchemy.dialects import postgresql, sqlite

    inserts: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    if dialect not in inserts:
        return sa.insert(DAY_STATS)
    return inserts[dialect](DAY_STATS).on_conflict_do_nothing()
