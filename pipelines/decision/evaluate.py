"""Evaluate: champion vs challenger on the same holdout rows, judged by the config's declarative policy."""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.config.training_sections import METRICS_BY_TASK
from pipelines.data.snapshot import Snapshot
from pipelines.decision.holdout_scoring import Scorer, scorer
from pipelines.decision.judge import judge, window_checks
from pipelines.decision.verdict import Check, Decision, rollback_reason
from pipelines.model.features import labels, model_frame
from pipelines.model.metrics import compute, paired_bootstrap_gain
from pipelines.model.ordered_split import RecentSplit, holdout_rows, recent_split
from pipelines.model.scoring import Scored
from pipelines.model.slices import SliceMetric, slice_metrics
from pipelines.registry import ledger
from pipelines.registry import versions as registry

log = logging.getLogger(__name__)


def admission_checks(model: str, challenger: registry.VersionInfo) -> list[Check]:
    """Blocking checks that come before any metric: complete lineage, and no rollback holding the version."""
    checks = []
    if challenger.missing_lineage:
        checks.append(
            Check(
                "lineage",
                False,
                f"v{challenger.version} lacks lineage ({', '.join(challenger.missing_lineage)}): a version whose "
                "lineage is incomplete is never promoted",
                blocking=True,
            )
        )
    hold = ledger.rollback_hold(model, challenger.version)
    if hold is not None:
        checks.append(Check("rollback", False, rollback_reason(model, challenger.version, hold), blocking=True))
    return checks


def evaluate(cfg: ModelConfig, snapshot: Snapshot, challenger_version: int) -> Decision:
    """Score the challenger and the current champion on the snapshot's holdout and decide.

    Both are scored only on holdout rows neither was trained on, read from the holdout days' files alone
    (``ordered_split.holdout_rows``), and scored on the Dask cluster for engine ``dask``. The decision gets an id of its own and is
    logged as an ``evaluate`` run (its model card is a step of its own: ``jobs.steps.model_card``). A failure
    marks the version failed (``registry.mark_failed``) before it propagates.
    """
    try:
        decision = _evaluate(cfg, snapshot, challenger_version)
    except Exception as exc:
        try:
            registry.mark_failed(cfg.name, challenger_version, "evaluate", exc)
        except Exception:  # the store itself may be what failed; the original error matters more
            log.exception("%s v%s: could not mark the version failed", cfg.name, challenger_version)
        raise
    registry.delete_tag(cfg.name, challenger_version, registry.FAILED_TAG)
    return decision


def _evaluate(cfg: ModelConfig, snapshot: Snapshot, challenger_version: int) -> Decision:
    whole = holdout_rows(snapshot, cfg)
    scored = scorer(cfg, snapshot, whole)
    names = METRICS_BY_TASK[cfg.task]
    challenger = registry.version(cfg.name, challenger_version)
    champion = registry.by_alias(cfg.name, registry.CHAMPION)
    model = registry.load_model(cfg.name, challenger_version)
    decision_id = uuid.uuid4().hex
    if champion is not None and champion.version == challenger_version:
        y = labels(whole, cfg)
        metrics = compute(names, y, scored([model], whole)[0].scores)
        checks = [Check("champion", False, f"version {challenger_version} is the champion already")]
        return _logged(
            Decision(
                cfg.name,
                False,
                challenger_version,
                champion.version,
                checks,
                metrics,
                metrics,
                None,
                len(y),
                snapshot.content_hash,
                decision_id,
            )
        )
    admission = admission_checks(cfg.name, challenger)
    holdout, comparison = _unseen_by(champion, whole, cfg)
    if comparison is not None and not comparison.passed:
        assert champion is not None
        # nothing to compare on: the challenger's own numbers, on its whole holdout
        alone = _Compared.of(cfg, whole, model, None, scored)
        challenger_metrics = compute(names, alone.y, alone.challenger.scores)
        checks = [*admission, *window_checks(challenger.window_end, champion.window_end), comparison]
        return _logged(
            Decision(
                cfg.name,
                False,
                challenger_version,
                champion.version if champion else None,
                checks,
                challenger_metrics,
                None,
                None,
                len(alone.y),
                snapshot.content_hash,
                decision_id,
            )
        )
    both = _Compared.of(cfg, holdout, model, champion, scored)
    y = both.y
    challenger_metrics = compute(names, y, both.challenger.scores)
    champion_metrics = interval = None
    unseen = [f"v{challenger_version} (challenger): {line}" for line in both.challenger.unseen_lines()]
    if champion is not None and both.champion is not None:
        unseen.extend(f"v{champion.version} (champion): {line}" for line in both.champion.unseen_lines())
        champion_metrics = compute(names, y, both.champion.scores)
        boot = cfg.policy.bootstrap
        interval = paired_bootstrap_gain(
            cfg.policy.primary_metric,
            y,
            both.challenger.scores,
            both.champion.scores,
            boot.samples,
            boot.confidence,
            cfg.xgboost.seed,
        )
    slices = both.slices(cfg)
    checks = [
        *admission,
        *judge(
            cfg,
            challenger_metrics,
            champion_metrics,
            interval,
            challenger.window_end,
            champion.window_end if champion else None,
            slices,
        ),
        *([comparison] if comparison is not None else []),
        *([Check("unseen_categories", True, "; ".join(unseen))] if unseen else []),
    ]
    decision = _logged(
        Decision(
            model=cfg.name,
            promote=all(c.passed for c in checks),
            challenger_version=challenger_version,
            champion_version=champion.version if champion else None,
            checks=checks,
            challenger_metrics=challenger_metrics,
            champion_metrics=champion_metrics,
            gain_interval=interval,
            holdout_rows=len(y),
            snapshot_hash=snapshot.content_hash,
            decision_id=decision_id,
        )
    )
    return decision


@dataclass(frozen=True)
class _Compared:
    """The holdout rows two versions are compared on, their labels and both versions' scores on them."""

    holdout: pd.DataFrame
    y: np.ndarray
    challenger: Scored
    champion: Scored | None

    @classmethod
    def of(
        cls,
        cfg: ModelConfig,
        holdout: pd.DataFrame,
        model: Any,
        champion: registry.VersionInfo | None,
        scored: Scorer,
    ) -> _Compared:
        models = [model] if champion is None else [model, registry.load_model(cfg.name, champion.version)]
        found = scored(models, holdout)
        return cls(holdout, labels(holdout, cfg), found[0], found[1] if champion is not None else None)

    def slices(self, cfg: ModelConfig) -> list[SliceMetric]:
        """Both versions' metrics per slice of ``policy.slices``."""
        champion_scores = self.champion.scores if self.champion is not None else None
        return slice_metrics(cfg, model_frame(self.holdout, cfg), self.y, self.challenger.scores, champion_scores)


@dataclass(frozen=True)
class Evidence:
    """What a decision was made on, for its model card: the holdout and the newest training rows, the challenger
    and the slice metrics.
    """

    rows: RecentSplit
    model: Any
    challenger: registry.VersionInfo
    slices: list[SliceMetric]


def evidence(cfg: ModelConfig, snapshot: Snapshot, decision: Decision, newest: int) -> Evidence | None:
    """Recompute what ``evaluate`` compared (the same rows, scores and slices: ``_Compared``), from the
    decision's own versions (not the aliases of now), with the ``newest`` latest training rows
    (``recent_split``: the window is never held whole).

    None when the decision compared nothing (the challenger was the champion already, or no holdout row was
    comparable) or the version has no training run to hold a card.
    """
    nothing_compared = any(c.name == "comparison" and not c.passed for c in decision.checks)
    if decision.champion_version == decision.challenger_version or nothing_compared:
        return None
    challenger = registry.version(cfg.name, decision.challenger_version)
    if challenger.run_id is None:
        return None
    champion = registry.version(cfg.name, decision.champion_version) if decision.champion_version else None
    rows = recent_split(snapshot, cfg, newest)
    model = registry.load_model(cfg.name, decision.challenger_version)
    holdout, _ = _unseen_by(champion, rows.holdout, cfg)
    compared = _Compared.of(cfg, holdout, model, champion, scorer(cfg, snapshot, rows.holdout))
    return Evidence(rows, model, challenger, compared.slices(cfg))


def _unseen_by(
    champion: registry.VersionInfo | None, holdout: pd.DataFrame, cfg: ModelConfig
) -> tuple[pd.DataFrame, Check | None]:
    """The holdout rows the champion was not trained on, and a check saying what was left out and why.

    The champion trained on ``[window_start, holdout_start)`` of its own window; for a backfill of an older
    date those days can fall in this holdout, where the champion would score its own training rows. When no
    comparable rows remain (or one class only), the check fails: the two cannot be compared fairly.
    """
    if champion is None:
        return holdout, None
    start, end = champion.tags.get("window_start"), champion.tags.get("holdout_start")
    if not start or not end:
        detail = f"v{champion.version}'s training window is unknown (incomplete lineage): compared on every holdout row"
        return holdout, Check("comparison", True, detail)
    stamps = pd.to_datetime(holdout[cfg.columns.timestamp])
    trained_on = (stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))
    if not trained_on.any():
        return holdout, None
    kept = holdout[~trained_on]
    span = f"{start}..{end}"
    one_class = cfg.task == "binary" and len(np.unique(labels(kept, cfg))) < 2
    if kept.empty or one_class:
        detail = (
            f"cannot compare with v{champion.version}: it was trained on {int(trained_on.sum())} of the "
            f"{len(holdout)} holdout rows ({span}), and the rest " + ("are none" if kept.empty else "hold one class")
        )
        return kept, Check("comparison", False, detail, blocking=True)
    detail = (
        f"compared on {len(kept)} of {len(holdout)} holdout rows: the other {int(trained_on.sum())} fall in "
        f"v{champion.version}'s training data ({span})"
    )
    return kept, Check("comparison", True, detail)


def _logged(decision: Decision) -> Decision:
    """Log the decision as an MLflow run of the model's experiment and return it with the run id."""
    import mlflow

    with registry.start_run(
        decision.model,
        f"evaluate v{decision.challenger_version}",
        {
            "stage": "evaluate",
            "decision_id": decision.decision_id,
            "challenger_version": str(decision.challenger_version),
            "champion_version": str(decision.champion_version),
            "promote": str(decision.promote),
        },
    ) as run:
        finite = {f"challenger_{k}": v for k, v in decision.challenger_metrics.items() if np.isfinite(v)}
        finite.update({f"champion_{k}": v for k, v in (decision.champion_metrics or {}).items() if np.isfinite(v)})
        mlflow.log_metrics(finite)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "decision.json"
            path.write_text(json.dumps(decision.to_dict(), indent=2))
            mlflow.log_artifact(str(path))
    return replace(decision, evaluation_run_id=run.info.run_id)
