"""The whole chain in one process (the CLI's ``retrain``): the steps of ``jobs.steps`` in order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.decision.promote import Approval
from pipelines.decision.verdict import Decision
from pipelines.jobs import steps
from pipelines.quality.report import QualityGateFailed
from pipelines.registry import versions as registry
from pipelines.registry.lineage import Lineage

Progress = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainOutcome:
    """The stable ``retrain --json`` shape."""

    model: str
    as_of: str
    status: str  # "promoted" | "rejected" | "dry_run" | "failed"
    version: int | None
    reasons: list[str]
    stage: str | None = None
    snapshot: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The outcome's fields as a plain dict."""
        return asdict(self)


def retrain(
    cfg: ModelConfig,
    as_of: date,
    source_url: str,
    lineage: Lineage | None = None,
    training_days: int | None = None,
    dry_run: bool = False,
    progress: Progress = lambda _: None,
    approval: Approval | None = None,
) -> RetrainOutcome:
    """Run every stage for ``as_of``; a failed stage gives status ``failed`` naming the stage.

    When the config requires approval and none is given, a promotion the policy allows is held (dry run).
    """
    lineage = lineage or Lineage()
    stage = "registry"
    snapshot = report = None
    try:
        registry.ping()
        stage = "ingest"
        progress(f"ingest: reading the window before {as_of}")
        snapshot = steps.ingest(cfg, as_of, source_url, training_days)
        progress(
            f"ingest: {snapshot.rows} rows, {snapshot.window_start}..{snapshot.window_end}, hash {snapshot.content_hash[:12]}"
            + (f"; {snapshot.rows_after_window} newer rows are after the window" if snapshot.rows_after_window else "")
        )
        stage = "validate"
        report = steps.validate(cfg, snapshot, lineage, dry_run)
        progress(f"validate: {report.evaluated} expectations, {len(report.warnings)} warning(s)")
        stage = "train"
        trained = steps.train(cfg, snapshot, lineage)
        progress(f"train: version {trained.version}" + (" (reused, same data and code)" if trained.reused else ""))
        stage = "evaluate"
        decision = steps.evaluate(cfg, snapshot, trained.version)
        progress(f"evaluate: {'promote' if decision.promote else 'keep the champion'}")
        stage = "promote"
        try:
            result = steps.promote(cfg, decision, lineage, dry_run, approval)
        finally:  # as in the DAG, the card never delays the promotion and is drawn whatever it did
            _draw_card(cfg, snapshot, decision, progress, dry_run)
    except Exception as exc:  # every stage failure becomes a reported outcome
        report = exc.report if isinstance(exc, QualityGateFailed) else report
        return RetrainOutcome(
            cfg.name,
            as_of.isoformat(),
            "failed",
            None,
            [f"{stage} failed: {exc}"],
            stage,
            snapshot.to_dict() if snapshot else None,
            quality=report.to_dict() if report else None,
        )
    metrics = {"challenger": decision.challenger_metrics, "champion": decision.champion_metrics}
    return RetrainOutcome(
        cfg.name,
        as_of.isoformat(),
        result.status,
        result.version,
        result.reasons,
        None,
        snapshot.to_dict(),
        metrics,
        report.to_dict(),
    )


def _draw_card(cfg: ModelConfig, snapshot: Snapshot, decision: Decision, progress: Progress, dry_run: bool) -> None:
    """The model card step; its failure is reported and the run goes on, as the decision stands without it."""
    try:
        folder = steps.model_card(cfg, snapshot, decision, dry_run)
    except Exception as exc:  # a report of the decision, never a part of it
        log.exception("%s v%s: the model card could not be logged", cfg.name, decision.challenger_version)
        progress(f"model card: failed ({type(exc).__name__}: {exc}); the decision stands")
        return
    if folder is not None:
        progress(f"model card: {folder} of v{decision.challenger_version}'s training run")
