"""The pipeline's own database: the promotion ledger, promotion intents, locks, drift and performance checks,
measured performance and each version's calibration; also the tables the lower layers define for it and take
an engine for: the snapshot day ledger (``pipelines.data.day_ledger``) and the stored per-day check aggregates
(``pipelines.quality.day_stats_store``).

Everything that workers share lives here, never on one machine's disk, so many workers behave as one. The
database is ``PIPELINES_LEDGER_URL``, else the MLflow backend when that is a SQL database, else ``ledger.db``
in the state folder. Every engine connects with a deadline (``PIPELINES_DB_CONNECT_TIMEOUT`` seconds,
default 10), so an unreachable server ends in an error, never a hang.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Literal, get_args

import sqlalchemy as sa

from pipelines.config import settings
from pipelines.config.settings import connect_args
from pipelines.data import day_ledger
from pipelines.quality import day_stats_store

LedgerKind = Literal[
    "promoted",
    "rejected",
    "blocked",
    "rolled_back",
    "rolled_forward",
    "readmitted",
    "approved",
    "refused",
    "found",
]
LEDGER_KINDS: tuple[str, ...] = get_args(LedgerKind)
"""What a ledger entry records; ``found`` is a champion move that no decision explains, recorded when seen."""

METADATA = sa.MetaData()

LEDGER = sa.Table(
    "pipelines_promotion_ledger",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("champion_version", sa.Integer),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("window_start", sa.String(10)),
    sa.Column("window_end", sa.String(10)),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
    sa.Column("airflow_run_id", sa.String(250)),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("decision_id", sa.String(64)),
    sa.CheckConstraint(f"kind IN ({', '.join(repr(k) for k in LEDGER_KINDS)})", name="ledger_kind"),
)

INTENTS = sa.Table(
    "pipelines_promotion_intents",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False, index=True),
    sa.Column("target_version", sa.Integer, nullable=False),
    sa.Column("from_version", sa.Integer),
    sa.Column("previous_before", sa.Integer),
    sa.Column("entry", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("ledger_id", sa.Integer),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.CheckConstraint("state IN ('pending', 'done', 'abandoned')", name="intent_state"),
)

LOCKS = sa.Table(
    "pipelines_locks",
    METADATA,
    sa.Column("name", sa.String(400), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("process_started", sa.Float, nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
)

DRIFT_CHECKS = sa.Table(
    "pipelines_drift_checks",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False, index=True),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("drift", sa.Boolean, nullable=False),
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.UniqueConstraint("model", "checked_at", name="drift_check_once"),
)

PERFORMANCE = sa.Table(
    "pipelines_performance",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("slice", sa.String(400), nullable=False),
    sa.Column("metric", sa.String(40), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('realized', 'estimated')", name="performance_kind"),
    sa.UniqueConstraint("model", "day", "model_version", "kind", "slice", "metric", name="performance_once"),
)
"""Metrics per model, day, version and slice (``''`` for all rows): realized once labels are in, else estimated."""

PERFORMANCE_CHECKS = sa.Table(
    "pipelines_performance_checks",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False, index=True),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decay", sa.Boolean, nullable=False),
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.UniqueConstraint("model", "checked_at", name="performance_check_once"),
)

CALIBRATIONS = sa.Table(
    "pipelines_calibrations",
    METADATA,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("holdout", sa.JSON, nullable=False),
    sa.Column("calibration", sa.JSON),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
"""Each version's metrics on its own holdout and, for binary models, the CBPE calibration fitted there."""

CADENCES = sa.Table(
    "pipelines_cadences",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False, index=True),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("basis", sa.String(20), nullable=False),
    sa.Column("recommended_days", sa.Float),
    sa.Column("result", sa.JSON, nullable=False),
)
"""Each ``cadence`` result: how fast the metric fell with age and the recommended retrain interval."""


def url() -> str:
    """``PIPELINES_LEDGER_URL``, else the MLflow backend when it is a database, else a file in the state folder."""
    explicit = os.environ.get("PIPELINES_LEDGER_URL")
    if explicit:
        return explicit
    tracking = settings.tracking_uri()
    if tracking.split(":", 1)[0].split("+", 1)[0] in {"sqlite", "postgresql", "mysql", "mssql"}:
        return tracking
    return f"sqlite:///{settings.home() / 'ledger.db'}"


def engine(database_url: str | None = None) -> sa.Engine:
    """The engine of the pipeline's database (``url()`` by default), its tables created on first use."""
    return _engine(database_url or url())


@cache
def _engine(database_url: str) -> sa.Engine:
    """One engine per URL without a pool (writes are rare; tests drop their databases)."""
    created = sa.create_engine(database_url, poolclass=sa.NullPool, connect_args=connect_args(database_url))
    with created.begin() as conn:
        if conn.dialect.name == "postgresql":  # workers starting together on a new database: one creates, the rest wait
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        for metadata in (METADATA, day_ledger.METADATA, day_stats_store.METADATA):
            metadata.create_all(conn, checkfirst=True)
        _upgrade(conn)
    return created


_SCHEMA_LOCK = 0x706970656C696E65
"""PostgreSQL advisory lock key held while the tables are created or upgraded ("pipeline" in ASCII)."""


def _upgrade(conn: sa.Connection) -> None:
    """Bring a ledger made by an earlier release up to date: the ``decision_id`` column and the new kinds."""
    columns = {c["name"] for c in sa.inspect(conn).get_columns(LEDGER.name)}
    if "decision_id" not in columns:
        conn.execute(sa.text(f"ALTER TABLE {LEDGER.name} ADD COLUMN decision_id VARCHAR(64)"))
    if conn.dialect.name == "postgresql":
        allowed = ", ".join(f"'{k}'" for k in LEDGER_KINDS)
        definition = conn.execute(
            sa.text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ledger_kind'")
        ).scalar()
        if definition is not None and "found" not in definition:
            conn.execute(sa.text(f"ALTER TABLE {LEDGER.name} DROP CONSTRAINT ledger_kind"))
            conn.execute(sa.text(f"ALTER TABLE {LEDGER.name} ADD CONSTRAINT ledger_kind CHECK (kind IN ({allowed}))"))
    elif conn.dialect.name == "sqlite":
        sql = conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": LEDGER.name}
        ).scalar()
        if sql is not None and "'found'" not in sql:
            _rebuild_sqlite_ledger(conn)


def _rebuild_sqlite_ledger(conn: sa.Connection) -> None:
    """SQLite cannot change a CHECK constraint: copy the rows into a table made from today's definition."""
    old = f"{LEDGER.name}_before_upgrade"
    conn.execute(sa.text(f"ALTER TABLE {LEDGER.name} RENAME TO {old}"))
    for index in LEDGER.indexes:
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {index.name}"))
    LEDGER.create(conn)
    names = ", ".join(c.name for c in LEDGER.columns)
    conn.execute(sa.text(f"INSERT INTO {LEDGER.name} ({names}) SELECT {names} FROM {old}"))  # noqa: S608 - names from our own Table
    conn.execute(sa.text(f"DROP TABLE {old}"))
