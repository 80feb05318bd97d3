"""When performance has decayed: the champion's pooled primary metric against the policy's floor and against its
own holdout value less a tolerance; confirmed by the same streak and cooldown rules as drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from pipelines.model.metrics import HIGHER_IS_BETTER, gain


@dataclass(frozen=True)
class Basis:
    """One value a decay check judges: realized (labels in) or estimated (CBPE), over which days and rows."""

    kind: str
    value: float | None
    rows: int
    first_day: str
    last_day: str


@dataclass(frozen=True)
class DecayCheck:
    """One decay check of the champion: what was measured, what fell, and whether it acts."""

    model: str
    champion_version: int
    checked_at: str
    metric: str
    floor: float
    reference: float | None
    tolerance: float
    measured: list[Basis]
    findings: list[str]
    decay: bool
    confirmed: bool
    reason: str
    run_id: str | None = None
    plot: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The check as a plain dict."""
        return asdict(self)

    def event_extra(self) -> dict[str, Any]:
        """What the performance asset event carries to the retrain run: what fell, by how much, on which days."""
        return {
            "model": self.model,
            "champion_version": self.champion_version,
            "metric": self.metric,
            "measured": [asdict(b) for b in self.measured],
            "floor": self.floor,
            "reference": self.reference,
            "tolerance": self.tolerance,
            "findings": self.findings,
            "confirmation": self.reason,
            "plot": self.plot,
        }


def findings(
    basis: Basis, metric: str, floor: float, reference: float | None, tolerance: float, version: int
) -> list[str]:
    """What is wrong with one measured value: below the floor, or worse than the version's holdout value by more
    than the tolerance. Empty when it is fine or was not measured.
    """
    value = basis.value
    if value is None or not np.isfinite(value):
        return []
    found = []
    where = f"{basis.kind} {metric} {value:.4f} ({basis.rows} rows, {basis.first_day}..{basis.last_day})"
    if gain(metric, value, floor) < 0:
        found.append(f"{where} is {'below' if HIGHER_IS_BETTER[metric] else 'above'} the floor {floor:.4f}")
    if reference is not None and np.isfinite(reference):
        fell = gain(metric, reference, value)
        if fell > tolerance + 1e-12:  # a fall of exactly the tolerance is allowed, whatever the float rounding
            found.append(
                f"{where} is {fell:.4f} worse than v{version}'s holdout {reference:.4f} (tolerance {tolerance:.4f})"
            )
    return found
