"""When a check acts: what it saw (drift, or decay of performance) is confirmed after a number of checks in a row
that saw it, and held back during the cooldown after a retrain that such a check triggered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipelines.config.drift import DriftConfig
from pipelines.drift.stats import DriftReport


@dataclass(frozen=True)
class CheckRecord:
    """A past check as remembered between runs: when, whether it saw drift (or decay), whether it triggered a
    retrain.
    """

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
    policy = cfg.policy
    return confirm_streak(history, report.drift, policy.consecutive_checks, policy.cooldown_hours, now, "drift")


def confirm_streak(
    history: Sequence[CheckRecord], seen: bool, needed: int, cooldown_hours: int, now: datetime, what: str
) -> Confirmation:
    """What this check confirms when it ``seen`` ``what`` (drift, decay): ``needed`` checks in a row that saw
    it, and no retrain it triggered within ``cooldown_hours`` before ``now``. Records at or after ``now`` do not
    count, so re-running a check gives the same answer.
    """
    _require_aware(now)
    earlier = sorted((r for r in history if r.time < now), key=lambda r: r.time)
    if not seen:
        return Confirmation(False, f"no {what} in this check", 0)
    streak = 1
    for record in reversed(earlier):
        if not record.drift:
            break
        streak += 1
    if streak < needed:
        return Confirmation(False, f"{streak} of {needed} consecutive checks with {what}", streak)
    found = f"{what} in {streak} consecutive checks" if streak > 1 else f"{what} in this check"
    triggers = [r.time for r in earlier if r.triggered]
    if triggers:
        until = max(triggers) + timedelta(hours=cooldown_hours)
        if now < until:
            last = max(triggers).isoformat()
            return Confirmation(
                False,
                f"{found}, but in cooldown until {until.isoformat()} ({what}-triggered retrain at {last})",
                streak,
                until,
            )
    return Confirmation(True, found, streak)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"times must be timezone-aware, got {moment.isoformat()}")
