"""One function per stage of a retrain run, called both by the CLI chain (``jobs.retrain``) and by the tasks of
the ``retrain_<model>`` DAG, so a stage changes in one place.

Each step does its stage's whole job, ledger writes included: ``validate`` records a failed gate before it
raises, ``promote`` holds a promotion that waits for a human. The callers only choose how a failure is shown
(a line on stderr, or a red task and a Slack alert). Each step imports its stage when it runs, so a DAG file
that imports this module stays cheap to parse.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pipelines.faults import stop_point
from pipelines.jobs.process_memory import release_freed_memory

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.config.model import ModelConfig
    from pipelines.data.snapshot import Snapshot
    from pipelines.decision.promote import Approval, PromotionResult
    from pipelines.decision.verdict import Decision
    from pipelines.jobs.monitor import DriftCheck
    from pipelines.model.train import TrainResult
    from pipelines.performance.batch_score import ScoreResult
    from pipelines.performance.decay import DecayCheck
    from pipelines.quality.report import QualityReport
    from pipelines.registry.lineage import Lineage

HELD = "held: the config requires approval and no answer was given (CLI: --approve; Airflow: the approve task)"


def ingest(cfg: ModelConfig, as_of: date, source_url: str, training_days: int | None = None) -> Snapshot:
    """Read the window before ``as_of`` into an immutable snapshot: from the source, only the days the pipeline's
    day ledger does not hold already with the same server-side fingerprint.
    """
    from pipelines.data.day_ledger import DayLedger
    from pipelines.data.ingest import ingest as read_window
    from pipelines.registry import db

    snapshot = read_window(cfg, as_of, source_url, training_days, ledger=DayLedger(db.engine()))
    release_freed_memory(snapshot.rows * len(cfg.columns.all))
    stop_point("ingested")
    return snapshot


def validate(cfg: ModelConfig, snapshot: Snapshot, lineage: Lineage, dry_run: bool = False) -> QualityReport:
    """Run the quality gate; a failed gate is recorded in the ledger (unless a dry run) and raised."""
    from pipelines.decision.promote import record_quality_block
    from pipelines.quality.day_stats_store import DayStatsStore
    from pipelines.quality.gate import validate as run_suite
    from pipelines.quality.report import QualityGateFailed
    from pipelines.registry import db

    report = run_suite(cfg, snapshot, day_stats=DayStatsStore(db.engine()))
    release_freed_memory(snapshot.rows * len(cfg.columns.all))  # the window the gate held, before training's own
    if not report.success:
        if not dry_run:
            failures = [str(check) for check in report.critical]
            record_quality_block(cfg.name, snapshot.window_start, snapshot.window_end, failures, lineage)
        raise QualityGateFailed(report)
    stop_point("validated")
    return report


def train(cfg: ModelConfig, snapshot: Snapshot, lineage: Lineage) -> TrainResult:
    """Fit and register a challenger (or reuse the identical one), with its holdout calibration stored."""
    from pipelines.model.train import train as fit

    def calibrate_in_memory(version: int, holdout: pd.DataFrame, model: Any) -> None:
        _save_calibration(cfg, version, holdout, model)

    trained = fit(cfg, snapshot, lineage, on_registered=calibrate_in_memory)
    calibrate(cfg, snapshot, trained.version)
    return trained


def calibrate(cfg: ModelConfig, snapshot: Snapshot, version: int) -> None:
    """Store the version's holdout metrics and CBPE calibration, unless stored already (a reused version);
    only the holdout days' files are read.
    """
    from pipelines.performance import calibration

    if calibration.stored(cfg.name, version):
        return
    from pipelines.model.ordered_split import holdout_rows
    from pipelines.registry import versions as registry

    holdout = holdout_rows(snapshot, cfg)
    _save_calibration(cfg, version, holdout, registry.load_model(cfg.name, version))


def _save_calibration(cfg: ModelConfig, version: int, holdout: pd.DataFrame, model: Any) -> None:
    from pipelines.model.features import labels
    from pipelines.model.scoring import score as scored
    from pipelines.performance import calibration

    scores = scored(model, holdout, cfg).scores
    calibration.save(cfg.name, version, calibration.calibrate(cfg, labels(holdout, cfg), scores))


def evaluate(cfg: ModelConfig, snapshot: Snapshot, version: int) -> Decision:
    """Judge a version against the champion on the snapshot's holdout."""
    from pipelines.decision import evaluate as evaluation

    decision = evaluation.evaluate(cfg, snapshot, version)
    stop_point("evaluated")
    return decision


def model_card(cfg: ModelConfig, snapshot: Snapshot, decision: Decision, dry_run: bool = False) -> str | None:
    """Draw the decision's model card and log it to the version's training run; returns its artifact folder,
    or None when the decision compared nothing. It runs after the decision and never alters it.

    A version without a card tag gets this decision's (its first judgement, unless a dry run), so the Models
    page and an approval request link the card before any promotion tags the version.
    """
    from pipelines.decision import evaluate as evaluation
    from pipelines.registry import versions as registry
    from pipelines.reports.card_analysis import MAX_REFIT_ROWS
    from pipelines.reports.model_card import card_folder, log_model_card

    found = evaluation.evidence(cfg, snapshot, decision, MAX_REFIT_ROWS)
    if found is None:
        return None
    log_model_card(cfg, snapshot, found.rows, found.model, decision, found.slices, found.challenger)
    if not dry_run and registry.CARD_TAG not in registry.version(cfg.name, decision.challenger_version).tags:
        registry.set_tags(cfg.name, decision.challenger_version, {registry.CARD_TAG: decision.decision_id})
    return card_folder(decision.decision_id)


def promote(
    cfg: ModelConfig,
    decision: Decision,
    lineage: Lineage,
    dry_run: bool = False,
    approval: Approval | None = None,
) -> PromotionResult:
    """Apply the decision. When the config requires approval and no answer is given, a promotion the policy
    allows is held: nothing moves (the DAG asks a human first; the CLI needs ``--approve``).
    """
    from pipelines.decision.promote import promote as apply_decision

    approval = approval if cfg.policy.approval.required else None
    held = cfg.policy.approval.required and approval is None and decision.promote
    result = apply_decision(decision, dry_run=dry_run or held, lineage=lineage, approval=approval)
    return replace(result, reasons=[*result.reasons, HELD]) if held else result


def check_drift(cfg: ModelConfig, as_of: date, source_url: str, checked_at: datetime | None = None) -> DriftCheck:
    """Compare the days before ``as_of`` with the champion's training profile and record the check."""
    from pipelines.jobs.monitor import check_drift as compare

    return compare(cfg, as_of, source_url, checked_at=checked_at)


def move_champion(
    cfg: ModelConfig, lineage: Lineage, version: int | None, reason: str, actor: str, readmit: bool = False
) -> PromotionResult:
    """A person moves the champion (rollback, roll-forward, re-admission), recorded in the ledger."""
    from pipelines.decision.manual import move_champion as move

    return move(cfg.name, version, reason, actor, lineage, readmit)


def score(cfg: ModelConfig, as_of: date, source_url: str, run_id: str, target_url: str | None = None) -> ScoreResult:
    """Score the ``scoring.window_days`` before ``as_of`` with the champion into the predictions table."""
    from pipelines.performance.batch_score import score_window

    return score_window(cfg, as_of, source_url, target_url or predictions_url(cfg), run_id)


def measure_performance(
    cfg: ModelConfig, as_of: date, source_url: str, target_url: str | None = None, labels_url: str | None = None
) -> DecayCheck:
    """Realized and estimated performance of the predictions before ``as_of``, and the champion's decay check."""
    from pipelines.jobs.feedback import measure_performance as measure

    return measure(cfg, as_of, source_url, target_url or predictions_url(cfg), labels_url=labels_url)


def predictions_url(cfg: ModelConfig, connection_url: str | None = None) -> str:
    """Where the model's predictions go: the scoring target's env var, connection or default, else the
    pipeline's own database.
    """
    from pipelines.registry import db

    if cfg.scoring is None:
        from pipelines.errors import InputError

        raise InputError(f"{cfg.name}: the config has no scoring section")
    return cfg.scoring.target.resolve_url(connection_url, db.url())
