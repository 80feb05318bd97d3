"""The check records of each model, in the pipeline's database (``db.DRIFT_CHECKS``, ``db.PERFORMANCE_CHECKS``),
shared by every worker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipelines.drift.confirmation import CheckRecord
from pipelines.registry import db

_UPSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class CheckHistory:
    """The check records of one model in one table: drift checks by default, or performance checks.

    A re-run of a check (same model and time) replaces its earlier record. Times are stored as UTC instants;
    a record's ``drift`` is the table's flag column (``drift`` or ``decay``), its ``triggered`` the table's
    ``confirmed`` column.
    """

    def __init__(self, model: str, engine: sa.Engine | None = None, table: sa.Table = db.DRIFT_CHECKS) -> None:
        self.model = model
        self._engine = engine
        self._table = table
        self._flag = "decay" if "decay" in table.c else "drift"

    def append(self, record: CheckRecord) -> None:
        """Record a check, replacing any earlier record of the same time in one statement (``ON CONFLICT``
        on PostgreSQL and SQLite; elsewhere a delete and an insert in one transaction).
        """
        moment = record.time.astimezone(UTC)
        row = {"model": self.model, "checked_at": moment, self._flag: record.drift, "confirmed": record.triggered}
        engine = self._db()
        with engine.begin() as conn:
            for statement in _replacing(self._table, self._flag, engine.dialect.name, row):
                conn.execute(statement)

    def records(self) -> list[CheckRecord]:
        """Every record of the model, oldest first."""
        table = self._table
        query = sa.select(table.c.checked_at, table.c[self._flag], table.c.confirmed).where(table.c.model == self.model)
        with self._db().connect() as conn:
            rows = conn.execute(query.order_by(table.c.checked_at)).all()
        return [CheckRecord(_utc(at), bool(drift), bool(confirmed)) for at, drift, confirmed in rows]

    def _db(self) -> sa.Engine:
        return self._engine or db.engine()


def _replacing(table: sa.Table, flag: str, dialect: str, row: dict[str, Any]) -> list[sa.Executable]:
    """Statements that insert a check record or replace the one of the same model and time."""
    upsert = _UPSERTS.get(dialect)
    if upsert is None:
        same = (table.c.model == row["model"]) & (table.c.checked_at == row["checked_at"])
        return [table.delete().where(same), table.insert().values(**row)]
    insert = upsert(table).values(**row)
    return [
        insert.on_conflict_do_update(
            index_elements=[table.c.model, table.c.checked_at],
            set_={flag: insert.excluded[flag], "confirmed": insert.excluded.confirmed},
        )
    ]


def _utc(moment: datetime) -> datetime:
    """A stored time as a UTC instant (SQLite hands back naive UTC times)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
