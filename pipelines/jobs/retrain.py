"""The whole chain in one process: ingest, validate, train, evaluate, promote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

from pipelines.config.schema import ModelConfig
from pipelines.data.ingest import ingest
from pipelines.decision.evaluate import evaluate
from pipelines.decision.promote import Approval, promote, record_quality_block
from pipelines.faults import stop_point
from pipelines.model.train import Lineage, train
from pipelines.quality.gate import QualityGateFailed, validate
from pipelines.registry import versions as registry

Progress = Callable[[str], None]
HELD = "held: the config requires approval; pass --approve or run the Airflow DAG to ask for it"


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
    approval = approval if cfg.policy.approval.required else None
    stage = "registry"
    snapshot = report = None
    try:
        registry.ping()
        stage = "ingest"
        progress(f"ingest: reading the window before {as_of}")
        snapshot = ingest(cfg, as_of, source_url, training_days)
        progress(
            f"ingest: {snapshot.rows} rows, {snapshot.window_start}..{snapshot.window_end}, hash {snapshot.content_hash[:12]}"
        )
        stop_point("ingested")
        stage = "validate"
        report = validate(cfg, snapshot)
        if not report.success:
            failures = [str(c) for c in report.critical]
            if not dry_run:
                record_quality_block(cfg.name, snapshot.window_start, snapshot.window_end, failures, lineage)
            raise QualityGateFailed(report)
        progress(f"validate: {report.evaluated} expectations, {len(report.warnings)} warning(s)")
        stop_point("validated")
        stage = "train"
        trained = train(cfg, snapshot, lineage)
        progress(f"train: version {trained.version}" + (" (reused, same data and code)" if trained.reused else ""))
        stage = "evaluate"
        decision = evaluate(cfg, snapshot, trained.version)
        progress(f"evaluate: {'promote' if decision.promote else 'keep the champion'}")
        stop_point("evaluated")
        stage = "promote"
        held = cfg.policy.approval.required and approval is None and decision.promote
        result = promote(decision, dry_run=dry_run or held, lineage=lineage, approval=approval)
        if held:
            result = replace(result, reasons=[*result.reasons, HELD])
    except Exception as exc:  # every stage failure becomes a reported outcome
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
