"""What an engine hands back after reading days from the source: each day's file, in place under its final
name, and the schema of the rows it read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from pipelines.data.snapshot_parts import DayPart, Engine, schema_text


@dataclass(frozen=True)
class WrittenDay:
    """A day read from the source: its part of the snapshot and its file's size in bytes."""

    part: DayPart
    bytes: int


@dataclass(frozen=True)
class DaysRead:
    """The days an engine read (files in place) and the schema of what it read."""

    engine: Engine
    days: tuple[WrittenDay, ...]
    schema: pa.Schema

    @property
    def schema_digest(self) -> str:
        """The digest of ``schema_text``: what the day ledger keeps to tell a changed source."""
        return schema_digest(self.engine, self.schema)

    @property
    def rows(self) -> int:
        """Rows read from the source."""
        return sum(d.part.rows for d in self.days)


def schema_digest(engine: Engine, schema: pa.Schema) -> str:
    """SHA-256 of what of ``schema`` the content hash covers (``snapshot_parts.schema_text``)."""
    return hashlib.sha256(schema_text(engine, schema).encode()).hexdigest()


def contiguous(days: Iterable[date]) -> list[tuple[date, date]]:
    """The runs of consecutive days as ``(first, end)`` pairs, end exclusive, oldest first."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], date.fromordinal(day.toordinal() + 1))
        else:
            runs.append((day, date.fromordinal(day.toordinal() + 1)))
    return runs
