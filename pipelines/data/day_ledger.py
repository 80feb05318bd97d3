"""The day ledger: per model, source and UTC day, the fingerprint a day had when it was read and the file that
holds its rows, so a nightly ingest reads only the days it has not seen or that changed.

The table lives in the pipeline's own database (state that workers share lives there, never on one machine's
disk); ``pipelines.registry.db`` creates it with the pipeline's other tables and gives the engine this ledger
takes (``DayLedger(db.engine())``: the data layer does not import the registry).

A day is recorded only after its file is in place, whole, under its final name; a record is trusted only while
its fingerprint is the source's and its file is there with the recorded size. So a crash at any point leaves at
worst a day that is read again. ``source_key`` names everything else a day's file depends on (the engine, the
source without its password, the timestamp column and zone, the row order, the hash version): another key
never shares a record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.data.source_errors import safe_url

METADATA = sa.MetaData()

SNAPSHOT_DAYS = sa.Table(
    "pipelines_snapshot_days",
    METADATA,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("fingerprint", sa.String(200), nullable=False),
    sa.Column("file", sa.String(500), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("schema", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
"""One row per model, source and day: the day's fingerprint when read, its file (relative to the model's
folder), the file's content digest, size and rows, and the digest of the day's schema."""

LAYOUT_VERSION = "days-v1"


@dataclass(frozen=True)
class DayRecord:
    """What the ledger knows of one day: its fingerprint when read and the file that holds its rows."""

    day: date
    fingerprint: str
    file: str
    digest: str
    bytes: int
    rows: int
    schema: str


def source_key(cfg: ModelConfig, source_url: str, engine: str) -> str:
    """The digest of everything besides the rows that a day's file depends on (see the module docstring)."""
    described = {
        "layout": LAYOUT_VERSION,
        "engine": engine,
        "url": safe_url(source_url),
        "source": cfg.source.model_dump(include={"table", "db_schema", "query"}),
        "timestamp": cfg.columns.timestamp,
        "zone": cfg.columns.timestamp_timezone,
        "entity_key": cfg.columns.entity_key,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


class DayLedger:
    """Reads and writes the day ledger in the pipeline's database (``engine``, tables already created)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def recorded(self, model: str, key: str, first: date, end: date) -> dict[date, DayRecord]:
        """The recorded days ``[first, end)`` of ``model`` read under ``key``."""
        table = SNAPSHOT_DAYS
        query = sa.select(table).where(
            table.c.model == model,
            table.c.source_key == key,
            table.c.day >= first.isoformat(),
            table.c.day < end.isoformat(),
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().all()
        return {
            date.fromisoformat(row["day"]): DayRecord(
                date.fromisoformat(row["day"]),
                row["fingerprint"],
                row["file"],
                row["digest"],
                int(row["bytes"]),
                int(row["rows"]),
                row["schema"],
            )
            for row in found
        }

    def record(self, model: str, key: str, days: Iterable[DayRecord]) -> None:
        """Record (or replace) days of ``model`` read under ``key``, in one transaction."""
        now = datetime.now(UTC)
        rows = [
            {
                "model": model,
                "source_key": key,
                "day": d.day.isoformat(),
                "fingerprint": d.fingerprint,
                "file": d.file,
                "digest": d.digest,
                "bytes": d.bytes,
                "rows": d.rows,
                "schema": d.schema,
                "recorded_at": now,
            }
            for d in days
        ]
        if not rows:
            return
        with self.engine.begin() as conn:
            upsert = _upsert(conn.dialect.name)
            if upsert is not None:
                conn.execute(upsert, rows)
                return
            table, keys = SNAPSHOT_DAYS, ("model", "source_key", "day")
            for row in rows:  # other databases: update, else insert
                match = [table.c[k] == row[k] for k in keys]
                if not conn.execute(sa.update(table).where(*match).values(row)).rowcount:
                    conn.execute(sa.insert(table).values(row))


def _upsert(dialect: str) -> sa.Executable | None:
    """An INSERT that replaces the row of the same model, key and day (two workers may record one day), on
    PostgreSQL and SQLite; None elsewhere.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    inserts: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    if dialect not in inserts:
        return None
    table = SNAPSHOT_DAYS
    statement = inserts[dialect](table)
    keys = [c.name for c in table.primary_key.columns]
    updated = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=updated)
