"""The promotion ledger: every decision about a model, appended to a SQL table that survives restarts.

MLflow keeps only where each alias points now; the ledger keeps which version was champion when, and why.
Rows are only ever inserted. A champion move is first written as an *intent* (``open_intent``); once the
aliases have moved, ``commit_intent`` inserts the ledger entry and closes the intent in one transaction, so
a crash in between leaves an open intent that the next promotion, rollback or status reconciles
(``pipelines.decision.transaction.reconcile``). The tables live in the pipeline's database
(``pipelines.registry.db``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pipelines.registry import db

Kind = db.LedgerKind
KINDS = db.LEDGER_KINDS
CHAMPION_MOVES = frozenset({"promoted", "rolled_back", "rolled_forward", "readmitted", "found"})
"""Kinds whose entry says which version became champion (``found``: a move no decision explains)."""


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
    decision_id: str | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry's fields as a plain dict, ``decided_at`` as ISO text."""
        data = asdict(self)
        data["decided_at"] = self.decided_at.isoformat(timespec="microseconds")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        """The entry of a ``to_dict`` dict or a ledger row; ``decided_at`` as text or a datetime, naive read as UTC."""
        stamp = data["decided_at"]
        stamp = datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
        return cls(**{**data, "decided_at": stamp})


@dataclass(frozen=True)
class Intent:
    """A champion move announced before the aliases move: the entry to record once they have."""

    id: int
    entry: Entry
    from_version: int | None
    previous_before: int | None

    @property
    def target_version(self) -> int:
        """The version the move makes champion."""
        assert self.entry.version is not None
        return self.entry.version


def append(entry: Entry) -> Entry:
    """Insert one entry and return it with its id.

    Idempotent per Airflow run: a retried task that records the same kind for the same version in the same
    run gets the earlier entry back instead of a second one.
    """
    with db.engine().begin() as conn:
        if entry.airflow_run_id is not None:
            earlier = _same_run_entry(conn, entry)
            if earlier is not None:
                return earlier
        return _insert(conn, entry)


def entries(model: str, limit: int | None = None) -> list[Entry]:
    """The model's entries, newest first."""
    table = db.LEDGER
    query = sa.select(table).where(table.c.model == model).order_by(table.c.decided_at.desc(), table.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with db.engine().connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [Entry.from_dict(dict(row)) for row in rows]


def champion_entry(model: str) -> Entry | None:
    """The newest entry that names who became champion, or None when the ledger has none."""
    table = db.LEDGER
    query = (
        sa.select(table)
        .where(table.c.model == model, table.c.kind.in_(sorted(CHAMPION_MOVES)))
        .order_by(table.c.id.desc())
        .limit(1)
    )
    with db.engine().connect() as conn:
        row = conn.execute(query).mappings().first()
    return Entry.from_dict(dict(row)) if row is not None else None


def rollback_hold(model: str, version: int) -> Entry | None:
    """The rollback that still holds ``version`` out of the champion seat, or None.

    A rollback away from a version holds until a human re-admits it (a ``readmitted`` entry for it).
    """
    hold = None
    for entry in reversed(entries(model)):
        if entry.kind == "rolled_back" and entry.champion_version == version:
            hold = entry
        elif entry.kind == "readmitted" and entry.version == version:
            hold = None
    return hold


def open_intent(entry: Entry, from_version: int | None, previous_before: int | None) -> Intent:
    """Announce a champion move to ``entry.version``, before any alias moves."""
    if entry.version is None:
        raise ValueError("a champion move needs a target version")
    row = {
        "model": entry.model,
        "target_version": entry.version,
        "from_version": from_version,
        "previous_before": previous_before,
        "entry": _json_safe(entry.to_dict()),
        "created_at": datetime.now(UTC),
        "state": "pending",
    }
    with db.engine().begin() as conn:
        new_id = conn.execute(db.INTENTS.insert().values(**row).returning(db.INTENTS.c.id)).scalar_one()
    return Intent(int(new_id), entry, from_version, previous_before)


def pending_intents(model: str) -> list[Intent]:
    """Champion moves announced but neither recorded nor abandoned, oldest first."""
    table = db.INTENTS
    query = sa.select(table).where(table.c.model == model, table.c.state == "pending").order_by(table.c.id)
    with db.engine().connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        Intent(int(r["id"]), Entry.from_dict(dict(r["entry"])), r["from_version"], r["previous_before"]) for r in rows
    ]


def commit_intent(intent: Intent, note: str = "") -> Entry:
    """Record the move: insert its ledger entry and close the intent, in one transaction."""
    entry = intent.entry
    if note:
        entry = Entry(**{**asdict(entry), "reasons": [*entry.reasons, note]})
    with db.engine().begin() as conn:
        recorded = _insert(conn, entry)
        conn.execute(
            db.INTENTS.update()
            .where(db.INTENTS.c.id == intent.id, db.INTENTS.c.state == "pending")
            .values(state="done", resolved_at=datetime.now(UTC), ledger_id=recorded.id, note=note)
        )
    return recorded


def abandon_intent(intent: Intent, note: str) -> None:
    """Close an intent whose move never happened; the ledger is unchanged."""
    with db.engine().begin() as conn:
        conn.execute(
            db.INTENTS.update()
            .where(db.INTENTS.c.id == intent.id, db.INTENTS.c.state == "pending")
            .values(state="abandoned", resolved_at=datetime.now(UTC), note=note)
        )


def _same_run_entry(conn: sa.Connection, entry: Entry) -> Entry | None:
    table = db.LEDGER
    same = (
        table.c.model == entry.model,
        table.c.kind == entry.kind,
        table.c.version == entry.version if entry.version is not None else table.c.version.is_(None),
        table.c.airflow_run_id == entry.airflow_run_id,
    )
    row = conn.execute(sa.select(table).where(*same)).mappings().first()
    return Entry.from_dict(dict(row)) if row is not None else None


def _insert(conn: sa.Connection, entry: Entry) -> Entry:
    if entry.kind not in KINDS:
        raise ValueError(f"unknown ledger kind {entry.kind!r} (known: {', '.join(KINDS)})")
    row = {k: v for k, v in asdict(entry).items() if k != "id"}
    row["metrics"] = _json_safe(row["metrics"])
    row["decided_at"] = entry.decided_at.astimezone(UTC)
    new_id = conn.execute(db.LEDGER.insert().values(**row).returning(db.LEDGER.c.id)).scalar_one()
    return Entry(**{**row, "id": int(new_id)})


def _json_safe(value: Any) -> Any:
    """NaN and infinities (an AUC on one class) become null: PostgreSQL's JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
