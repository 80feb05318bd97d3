"""What a model looks like now: aliases with their lineage, the promotion ledger, the latest quality, drift and
measured performance.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines.config import settings
from pipelines.config.model import ModelConfig
from pipelines.registry import versions as registry
from pipelines.registry.ledger import Entry, entries
from pipelines.reports.performance_status import DayValue, PerformanceStatus, latest_performance


@dataclass(frozen=True)
class AliasedVersion:
    """A version an alias points at: its data window, snapshot, trigger, holdout metrics and decision."""

    version: int
    window_start: str | None
    window_end: str | None
    snapshot_hash: str | None
    trigger: str | None
    metrics: dict[str, float]
    decision: str | None
    run_id: str | None

    @classmethod
    def of(cls, info: registry.VersionInfo) -> AliasedVersion:
        """The version as ``status`` shows it."""
        return cls(**info.summary(), run_id=info.run_id)


@dataclass(frozen=True)
class QualityStatus:
    """The most recent validation of a snapshot of the model."""

    window_end: str
    validated_at: str
    suite: str
    success: bool
    evaluated: int
    failed: list[str]
    warnings: list[str]
    docs_path: str | None


@dataclass(frozen=True)
class DriftStatus:
    """The most recent drift check of the model (its ``monitor`` run in MLflow)."""

    checked_at: str
    window_end: str | None
    champion_version: int | None
    drift: bool
    confirmed: bool
    features: list[str]
    run_id: str


@dataclass(frozen=True)
class Status:
    """A model's aliases, its ledger (newest first), its latest quality and drift checks and its measured
    performance.
    """

    model: str
    champion: AliasedVersion | None
    challenger: AliasedVersion | None
    previous_champion: AliasedVersion | None
    ledger: list[Entry]
    quality: QualityStatus | None
    drift: DriftStatus | None
    performance: PerformanceStatus | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stable ``status --json`` shape."""
        return {
            "model": self.model,
            **{key: asdict(part) if part else None for key, part in self.aliases().items()},
            "ledger": [entry.to_dict() for entry in self.ledger],
            "quality": asdict(self.quality) if self.quality else None,
            "drift": asdict(self.drift) if self.drift else None,
            "performance": asdict(self.performance) if self.performance else None,
        }

    def aliases(self) -> dict[str, AliasedVersion | None]:
        """The version of each alias, by key: champion, challenger, previous_champion."""
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "previous_champion": self.previous_champion,
        }


def status(model: str, limit: int = 20, cfg: ModelConfig | None = None) -> Status:
    """The model's status, after reconciling any champion move a crash left half done. With the model's config,
    ``performance`` too: its primary metric, and the cadence against its retrain schedule.
    """
    from pipelines.decision.transaction import reconcile

    reconcile(model, actor="status")
    champion, challenger, previous = (
        registry.by_alias(model, alias)
        for alias in (registry.CHAMPION, registry.CHALLENGER, registry.PREVIOUS_CHAMPION)
    )
    return Status(
        model=model,
        champion=AliasedVersion.of(champion) if champion else None,
        challenger=AliasedVersion.of(challenger) if challenger else None,
        previous_champion=AliasedVersion.of(previous) if previous else None,
        ledger=entries(model, limit),
        quality=latest_quality(model),
        drift=latest_drift(model),
        performance=_performance(model, champion, cfg),
    )


def _performance(
    model: str, champion: registry.VersionInfo | None, cfg: ModelConfig | None
) -> PerformanceStatus | None:
    if cfg is None or champion is None:
        return None
    return latest_performance(model, champion.version, cfg.policy.primary_metric, cfg.schedule.cron)


def latest_quality(model: str) -> QualityStatus | None:
    """The most recent validation written next to a snapshot of the model, or None."""
    results = sorted(
        (settings.snapshots_dir() / model).glob("window=*/*.validation.json"), key=lambda p: p.stat().st_mtime
    )
    if not results:
        return None
    from pipelines.quality.report import QualityReport

    latest = results[-1]
    report = QualityReport.from_dict(json.loads(latest.read_text())["report"])
    return QualityStatus(
        window_end=latest.parent.name.rsplit("_", 1)[-1],
        validated_at=datetime.fromtimestamp(latest.stat().st_mtime, UTC).isoformat(timespec="seconds"),
        suite=report.suite,
        success=report.success,
        evaluated=report.evaluated,
        failed=[str(c) for c in report.critical],
        warnings=[str(c) for c in report.warnings],
        docs_path=report.docs_path,
    )


def latest_drift(model: str) -> DriftStatus | None:
    """The most recent drift check of the model (its ``monitor`` run in MLflow), or None."""
    run = registry.latest_run(model, "monitor")
    if run is None:
        return None
    tags = run.tags
    return DriftStatus(
        checked_at=datetime.fromtimestamp(run.start_time / 1000, UTC).isoformat(timespec="seconds"),
        window_end=tags.get("window_end"),
        champion_version=int(tags["champion_version"]) if tags.get("champion_version", "").isdigit() else None,
        drift=tags.get("drift") == "True",
        confirmed=tags.get("drift_confirmed") == "True",
        features=[f for f in tags.get("drifted", "").split(",") if f],
        run_id=run.run_id,
    )


_HEADLINES = {
    "promoted": "became champion",
    "rolled_back": "champion again (rollback)",
    "rolled_forward": "became champion (roll-forward)",
    "readmitted": "re-admitted and champion again",
    "found": "found as champion, unexplained by any decision",
    "blocked": "blocked",
    "rejected": "rejected",
    "approved": "approved",
    "refused": "refused",
}


def history_lines(report: Status) -> list[str]:
    """Human-readable ledger, oldest first, then the current champion."""
    lines = []
    for entry in reversed(report.ledger):
        subject = f"v{entry.version}" if entry.version is not None else "run"
        lines.append(
            f"{entry.decided_at.isoformat(timespec='microseconds')} {subject} {_HEADLINES[entry.kind]} "
            f"(data before {entry.window_end}, {entry.trigger}, by {entry.actor})"
        )
        lines.extend(f"    {reason}" for reason in entry.reasons)
    champion = report.champion
    lines.append(
        f"champion now: v{champion.version} (data before {champion.window_end})" if champion else "no champion yet"
    )
    return lines


def performance_lines(report: Status) -> list[str]:
    """The champion's measured performance in a few lines; none before anything was measured."""
    found = report.performance
    if found is None:
        return []

    def shown(kind: str, part: DayValue | None) -> str:
        if part is None or part.value is None:
            return f"{kind}: none yet"
        return f"{kind} {part.value:.4f} on {part.day} ({part.rows} rows)"

    trend = "" if found.trend_per_week is None else f", trend {found.trend_per_week:+.4f} per week"
    check = (
        f"; last check {found.checked_at}: "
        + ("decay confirmed" if found.confirmed else "decay" if found.decay else "no decay")
        if found.checked_at
        else ""
    )
    head = f"performance of v{found.champion_version} ({found.metric}): "
    lines = [head + ", ".join([shown("realized", found.realized), shown("estimated", found.estimated)]) + trend + check]
    if found.recommended_retrain_days is not None:
        lines.append(f"cadence: retrain at least every {found.recommended_retrain_days:.0f} days")
    if found.schedule_warning:
        lines.append(f"WARNING: {found.schedule_warning}")
    return lines
