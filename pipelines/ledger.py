"""The promotion ledger: every decision about a model, appended to a SQL table that survives restarts.

MLflow keeps only where each alias points now; the ledger keeps which version was champion when, and why.
It lives in the MLflow backend database when that is a SQL database, else in ``ledger.db`` in the state
folder; ``PIPELINES_LEDGER_URL`` overrides both. Rows are only ever inserted.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, get_args

import sqlalchemy as sa

from pipelines import settings

Kind = Literal["promoted", "rejected", "blocked", "rolled_back", "approved", "refused"]
KINDS: tuple[str, ...] = get_args(Kind)

_metadata = sa.MetaData()
TABLE = sa.Table(
    "pipelines_promotion_ledger",
    _metadata,
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
    sa.CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})", name="ledger_kind"),
)


@dataclass(frozen=True)
class Entry:
    """One decision: what happened to which version, against which champion, why, and who or what decided."""

    model: str
    kind: Kind
    version: int | None
    champion_version: int | None
    reasons: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    window_start: str | None = None
    window_end: str | None = None
    trigger: str = "manual"
    cause: str = ""
    airflow_run_id: str | None = None
    actor: str = "policy"
    decided_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decided_at"] = self.decided_at.isoformat(timespec="microseconds")
        return data


def url() -> str:
    """``PIPELINES_LEDGER_URL``, else the MLflow backend when it is a database, else a file in the state folder."""
    explicit = os.environ.get("PIPELINES_LEDGER_URL")
    if explicit:
        return explicit
    tracking = settings.tracking_uri()
    if tracking.split(":", 1)[0].split("+", 1)[0] in {"sqlite", "postgresql", "mysql", "mssql"}:
        return tracking
    return f"sqlite:///{settings.home() / 'ledger.db'}"


def append(entry: Entry) -> Entry:
    """Insert one entry and return it with its id.

    Idempotent per Airflow run: a retried task that records the same kind for the same version in the same
    run gets the earlier entry back instead of a second one.
    """
    if entry.kind not in KINDS:
        raise ValueError(f"unknown ledger kind {entry.kind!r} (known: {', '.join(KINDS)})")
    row = {k: v for k, v in asdict(entry).items() if k != "id"}
    row["metrics"] = _json_safe(row["metrics"])
    row["decided_at"] = entry.decided_at.astimezone(UTC)
    with _engine(url()).begin() as conn:
        if entry.airflow_run_id is not None:
            same = (TABLE.c[key] == row[key] for key in ("model", "kind", "version", "airflow_run_id"))
            earlier = conn.execute(sa.select(TABLE).where(*same)).mappings().first()
            if earlier is not None:
                return _entry(dict(earlier))
        new_id = conn.execute(TABLE.insert().values(**row).returning(TABLE.c.id)).scalar_one()
    return Entry(**{**row, "id": int(new_id)})


def entries(model: str, limit: int | None = None) -> list[Entry]:
    """The model's entries, newest first."""
    query = sa.select(TABLE).where(TABLE.c.model == model).order_by(TABLE.c.decided_at.desc(), TABLE.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with _engine(url()).connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [_entry(dict(row)) for row in rows]


def _json_safe(value: Any) -> Any:
    """NaN and infinities (an AUC on one class) become null: PostgreSQL's JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _entry(row: dict[str, Any]) -> Entry:
    stamp = row["decided_at"]
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    return Entry(**{**row, "decided_at": stamp})


@cache
def _engine(database_url: str) -> sa.Engine:
    """One engine per URL without a pool (decisions are rare; tests drop their databases), table created once."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    _metadata.create_all(engine, checkfirst=True)
    return engine
