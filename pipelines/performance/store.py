"""Measured performance and cadence results in the pipeline's database (``db.PERFORMANCE``, ``db.CADENCES``),
shared by every worker.

Measuring a day again replaces that day's rows of the same version and kind in one transaction, so re-runs
and backfills leave one set of rows; nothing else is ever deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from pipelines.model.metrics import finite_or_none
from pipelines.performance.measure import Measurement
from pipelines.registry import db


def save(model: str, measurements: Sequence[Measurement], engine: sa.Engine | None = None) -> int:
    """Replace the stored rows of each (day, version, kind) in ``measurements`` with them; returns rows written."""
    table = db.PERFORMANCE
    now = datetime.now(UTC)
    keys = sorted({(m.day, m.model_version, m.kind) for m in measurements})
    with (engine or db.engine()).begin() as conn:
        for day, version, kind in keys:
            conn.execute(
                table.delete().where(
                    table.c.model == model,
                    table.c.day == day,
                    table.c.model_version == version,
                    table.c.kind == kind,
                )
            )
        if measurements:
            conn.execute(
                table.insert(),
                [
                    {**m.to_dict(), "value": finite_or_none(m.value), "model": model, "computed_at": now}
                    for m in measurements
                ],
            )
    return len(measurements)


def series(model: str, since: str | None = None, engine: sa.Engine | None = None) -> pd.DataFrame:
    """The stored measurements of ``model`` (from day ``since``), oldest day first."""
    table = db.PERFORMANCE
    columns = [
        table.c.day,
        table.c.model_version,
        table.c.kind,
        table.c.slice,
        table.c.metric,
        table.c.value,
        table.c.rows,
    ]
    query = sa.select(*columns).where(table.c.model == model)
    if since is not None:
        query = query.where(table.c.day >= since)
    with (engine or db.engine()).connect() as conn:
        rows = conn.execute(query.order_by(table.c.day, table.c.model_version, table.c.kind, table.c.slice)).all()
    return pd.DataFrame(rows, columns=[c.name for c in columns])


def save_cadence(model: str, basis: str, recommended_days: float | None, result: dict[str, Any]) -> None:
    """Append one ``cadence`` result (``Cadence.to_dict()``) to the model's history."""
    row = {
        "model": model,
        "computed_at": datetime.now(UTC),
        "basis": basis,
        "recommended_days": recommended_days,
        "result": result,
    }
    with db.engine().begin() as conn:
        conn.execute(db.CADENCES.insert().values(**row))


def latest_cadence(model: str) -> tuple[str, float | None] | None:
    """The newest cadence result's basis and recommended days, or None when none was computed."""
    found = latest_cadence_result(model)
    return None if found is None else (found[0], found[1].get("recommended_days"))


def latest_cadence_result(model: str) -> tuple[str, dict[str, Any]] | None:
    """The newest cadence result's basis and the result itself (``Cadence.to_dict()``), or None."""
    table = db.CADENCES
    query = (
        sa.select(table.c.basis, table.c.result)
        .where(table.c.model == model)
        .order_by(table.c.computed_at.desc(), table.c.id.desc())
        .limit(1)
    )
    with db.engine().connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else (str(row.basis), dict(row.result))
