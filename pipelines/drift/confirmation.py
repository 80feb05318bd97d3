"""When drift acts: a check's drift is confirmed after ``consecutive_checks`` checks in a row with drift, and held
back during the cooldown after a drift-triggered retrain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipelines.config.drift import DriftConfig
from pipelines.drift.stats import DriftReport


@dataclass(frozen=True)
class CheckRecord:
    """A past check as remembered between runs: when, whether it saw drift, whether it triggered a retrain."""

    time: datetime
    drift: bool
    triggered: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.time)


@dataclass(frozen=True)
class Confirmation:
    """Whether this check confirms drift (and so may trigger a retrain), and why."""

    confirmed: bool
    reason: str
    consecutive: int
    cooldown_until: datetime | None = None


def confirm(history: Sequence[CheckRecord], report: DriftReport, cfg: DriftConfig, now: datetime) -> Confirmation:
    """Drift is confirmed after ``consecutive_checks`` checks in a row with drift, outside the cooldown.

    Only records before ``now`` (the check's logical time) count, so re-running a check gives the same answer.
    """
    _require_aware(now)
    earlier = sorted((r for r in history if r.time < now), key=lambda r: r.time)
    if not report.drift:
        return Confirmation(False, "no drift in this check", 0)
    streak = 1
    for record in reversed(earlier):
        if not record.drift:
            break
        streak += 1
    needed = cfg.policy.consecutive_checks
    if streak < needed:
        return Confirmation(False, f"{streak} of {needed} consecutive checks with drift", streak)
    seen = f"drift in {streak} consecutive checks" if streak > 1 else "drift in this check"
    triggers = [r.time for r in earlier if r.triggered]
    if triggers:
        until = max(triggers) + timedelta(hours=cfg.policy.cooldown_hours)
        if now < until:
            return Confirmation(
                False,
                f"{seen}, but in cooldown until {until.isoformat()} (drift-triggered retrain at {max(triggers).isoformat()})",
                streak,
                until,
            )
    return Confirmation(True, seen, streak)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"times must be timezone-aware, got {moment.isoformat()}")
