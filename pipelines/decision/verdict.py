"""What a decision is: the checks of the policy, the verdict on one challenger, and why a rolled-back version
stays out (plain data and text, no I/O).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.registry.ledger import Entry


@dataclass(frozen=True)
class Check:
    """One rule of the policy. A failed ``blocking`` check stops a promotion the metrics alone would allow."""

    name: str
    passed: bool
    detail: str
    blocking: bool = False

    def __str__(self) -> str:
        return f"{'ok' if self.passed else 'FAIL'} {self.name}: {self.detail}"


@dataclass(frozen=True)
class Decision:
    """The verdict on one challenger, with every check that led to it."""

    model: str
    promote: bool
    challenger_version: int
    champion_version: int | None
    checks: list[Check]
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None = None
    gain_interval: tuple[float, float] | None = None
    holdout_rows: int = 0
    snapshot_hash: str = ""
    decision_id: str = ""
    evaluation_run_id: str | None = field(default=None, compare=False)

    @property
    def reasons(self) -> list[str]:
        """One line per check, as ``ok name: detail`` or ``FAIL name: detail``."""
        return [str(c) for c in self.checks]

    @property
    def blocked(self) -> bool:
        """Stopped by a blocking rule (an older window, a slice that got worse), not by the metrics."""
        return any(c.blocking and not c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The decision's fields as a plain dict, with its ``reasons``."""
        data = asdict(self)
        data["reasons"] = self.reasons
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """The decision ``to_dict`` gave (its ``reasons`` are recomputed)."""
        fields = {k: v for k, v in data.items() if k != "reasons"}
        fields["checks"] = [Check(**c) for c in data["checks"]]
        if fields.get("gain_interval") is not None:
            fields["gain_interval"] = tuple(fields["gain_interval"])
        return cls(**fields)


def rollback_reason(model: str, version: int, hold: Entry) -> str:
    """Why a rolled-back version stays out, and how a human re-admits it."""
    said = "; ".join(hold.reasons)
    return (
        f"v{version} was rolled back on {hold.decided_at:%Y-%m-%d %H:%M} UTC by {hold.actor} ({said}); "
        f"only a human re-admits it: python -m pipelines promote --model {model} --version {version} --reason TEXT"
    )
