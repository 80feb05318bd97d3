"""The model card of a decision: one HTML page and its PNG plots, logged under ``model_card/<decision id>/`` of
the version's own training run, so every evaluation of a version keeps its own card.

The page embeds its plots as base64 PNGs, so it reads the same in MLflow's artifact viewer and served on its
own; the PNG files next to it are the same plots for direct use. It shows lineage (data window, snapshot hash),
the quality suite's result, the decision and its checks, champion vs challenger holdout metrics, metrics per
slice, XGBoost's parameters, feature importance, a SHAP summary from XGBoost's own ``pred_contribs``, a
learning curve (``card_analysis``), drawn by ``card_plots`` and laid out by ``card_page``, and, once ``cadence``
has been measured for the model, its decay with model age (``decay_curve.png``).
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.decision.verdict import Decision
from pipelines.model.ordered_split import RecentSplit
from pipelines.model.scoring import aligned_frame
from pipelines.model.slices import SliceMetric
from pipelines.registry import versions as registry
from pipelines.registry.versions import VersionInfo
from pipelines.reports.card_analysis import contributions, learning_curve
from pipelines.reports.card_page import card_html
from pipelines.reports.card_plots import curve_plot, importance_plot, shap_plot, slices_plot

MODEL_CARD_ARTIFACT = "model_card"
CARD_PAGE = "index.html"
PLOTS = ("feature_importance.png", "shap_summary.png", "learning_curve.png", "slices.png")
DECAY_PLOT = "decay_curve.png"


def log_model_card(
    cfg: ModelConfig,
    snapshot: Snapshot,
    rows: RecentSplit,
    model: Any,
    decision: Decision,
    slices: Sequence[SliceMetric],
    info: VersionInfo,
) -> None:
    """Write the card and log it under ``model_card/<decision id>/`` of the version's training run.

    Each decision keeps its own card: a later evaluation (a dry run, a backfill) adds a card, never
    replaces one.
    """
    mlflow_client = registry.client()
    params = mlflow_client.get_run(info.run_id).data.params
    with tempfile.TemporaryDirectory() as tmp:
        write_model_card(Path(tmp), cfg, snapshot, rows, model, decision, slices, info, params)
        mlflow_client.log_artifacts(info.run_id, tmp, card_folder(decision.decision_id))


def card_folder(decision_id: str | None) -> str:
    """Where the card of a decision lives in its version's training run (``model_card/`` before decision ids)."""
    return f"{MODEL_CARD_ARTIFACT}/{decision_id}" if decision_id else MODEL_CARD_ARTIFACT


def write_model_card(
    folder: Path,
    cfg: ModelConfig,
    snapshot: Snapshot,
    rows: RecentSplit,
    model: Any,
    decision: Decision,
    slices: Sequence[SliceMetric],
    info: VersionInfo,
    run_params: dict[str, str],
) -> Path:
    """Write ``index.html`` and the PNG plots into ``folder``; returns the page's path."""
    best = getattr(model, "best_iteration", None)
    rounds = best + 1 if best is not None else model.get_booster().num_boosted_rounds()
    curve = learning_curve(cfg, rows, model, rounds)
    features, _ = aligned_frame(model, rows.holdout, cfg)
    shap_values, sample = contributions(model, features, rounds, cfg.xgboost.seed)
    failed = {c.name.removeprefix("slice:") for c in decision.checks if c.name.startswith("slice:") and not c.passed}
    champion = (decision.champion_metrics or {}).get(curve.metric)
    importance_plot(model, folder / "feature_importance.png")
    shap_plot(shap_values, sample, folder / "shap_summary.png")
    curve_plot(curve, champion, decision.champion_version, folder / "learning_curve.png")
    slices_plot(slices, failed, cfg.policy.primary_metric, folder / "slices.png")
    images = {name: base64.b64encode((folder / name).read_bytes()).decode("ascii") for name in PLOTS}
    decay = _decay_curve(cfg)
    if decay is not None:
        (folder / DECAY_PLOT).write_bytes(base64.b64decode(decay))
        images[DECAY_PLOT] = decay
    page = folder / CARD_PAGE
    page.write_text(
        card_html(cfg, snapshot, decision, slices, failed, info, run_params, best, curve, shap_values, images)
    )
    return page


def _decay_curve(cfg: ModelConfig) -> str | None:
    """The latest ``cadence`` result of the model as a base64 PNG, or None when none was measured."""
    from pipelines.performance import store
    from pipelines.reports.performance_plot import decay_curve_png

    found = store.latest_cadence_result(cfg.name)
    if found is None:
        return None
    return decay_curve_png(found[1], f"{cfg.name}: {cfg.policy.primary_metric} by model age ({found[0]})")
