"""Measured performance in the pipeline's database (``db.PERFORMANCE``), shared by every worker.

Measuring a day again replaces that day's rows of the same version and kind in one transaction, so re-runs
and backfills leave one set of rows; nothing else is ever deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from pipelines.performance.measure import Measurement, finite_or_none
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
