"""The model card's HTML page (``templates/model_card.html``): the decision's facts as rows the template shows."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.decision.verdict import Decision
from pipelines.model.metrics import gain
from pipelines.model.slices import SliceMetric
from pipelines.quality.gate import saved_report
from pipelines.registry.versions import VersionInfo
from pipelines.reports.card_analysis import LearningCurve
from pipelines.reports.html import number, render

Row = tuple[object, ...]


def card_html(
    cfg: ModelConfig,
    snapshot: Snapshot,
    decision: Decision,
    slices: Sequence[SliceMetric],
    failed: set[str],
    info: VersionInfo,
    run_params: dict[str, str],
    best: int | None,
    curve: LearningCurve,
    contributions: pd.DataFrame,
    images: dict[str, str],
) -> str:
    """The page: lineage, quality, decision, metrics, slices, parameters and the plots (``images``: base64 PNGs)."""
    version = f"v{decision.challenger_version}"
    champion = f"v{decision.champion_version}" if decision.champion_version is not None else "none"
    limits, metric = cfg.policy.slices, cfg.policy.primary_metric
    shap_top = contributions.abs().mean().sort_values(ascending=False).head(10)
    return render(
        "model_card.html",
        title=f"Model card: {cfg.name} {version}",
        promote=decision.promote,
        verdict="promote" if decision.promote else "blocked" if decision.blocked else "keep the champion",
        description=cfg.description,
        lineage=_lineage(snapshot, decision, info),
        suite=cfg.quality.suite,
        quality=saved_report(cfg, snapshot),
        checks=decision.checks,
        metric_headers=("metric", f"champion {champion}", f"challenger {version}", "gain"),
        metrics=_metrics(cfg, decision),
        slice_columns=limits.columns,
        slices_intro=(
            f"{metric} per value of {', '.join(limits.columns)}. A slice of at least {limits.min_rows} rows (both "
            f"classes for a binary task) that gets worse than the champion's by more than {limits.tolerance:g} "
            "blocks promotion."
        ),
        slice_headers=("column", "value", "rows", f"champion {champion}", f"challenger {version}", "gain", ""),
        slices=[_slice_row(piece, failed, metric) for piece in slices],
        params=_params(run_params, best),
        shap=[(name, number(value)) for name, value in shap_top.items()],
        curve=curve,
        curve_rows=[(rows, number(value)) for rows, value in zip(curve.rows, curve.values, strict=True)],
        images=images,
    )


def _lineage(snapshot: Snapshot, decision: Decision, info: VersionInfo) -> list[Row]:
    tags = info.tags
    start, end = tags.get("window_start", snapshot.window_start), tags.get("window_end", snapshot.window_end)
    return [
        ("data window", f"{start} .. {end}"),
        ("holdout from", tags.get("holdout_start", snapshot.holdout_start)),
        ("snapshot hash", tags.get("snapshot_hash", snapshot.content_hash)),
        ("training run", info.run_id or ""),
        ("trigger", tags.get("trigger", "")),
        ("code version", tags.get("code_version", "")),
        ("config hash", tags.get("config_hash", "")),
        ("evaluated on", f"{decision.holdout_rows} holdout rows of snapshot {decision.snapshot_hash}"),
        ("evaluation run", decision.evaluation_run_id or ""),
    ]


def _metrics(cfg: ModelConfig, decision: Decision) -> list[Row]:
    theirs = decision.champion_metrics or {}
    return [
        (
            name + (" (primary)" if name == cfg.policy.primary_metric else ""),
            number(theirs.get(name)),
            number(ours),
            number(gain(name, ours, theirs[name])) if name in theirs else "",
        )
        for name, ours in decision.challenger_metrics.items()
    ]


def _slice_row(piece: SliceMetric, failed: set[str], metric: str) -> Row:
    if piece.name in failed:
        verdict = "WORSE beyond tolerance: blocks promotion"
    elif not piece.judged:
        verdict = "not judged"
    else:
        verdict = "ok" if piece.champion is not None else "no champion to compare"
    change = number(gain(metric, piece.challenger, piece.champion)) if piece.champion is not None else ""
    return (piece.column, piece.value, piece.rows, number(piece.champion), number(piece.challenger), change, verdict)


def _params(run_params: dict[str, str], best: int | None) -> list[Row]:
    xgb = sorted((k.removeprefix("xgb."), v) for k, v in run_params.items() if k.startswith("xgb."))
    rows: list[Row] = [("best iteration", "" if best is None else best), *xgb]
    rows += [(k, run_params[k]) for k in ("train_rows", "validation_rows", "holdout_rows") if k in run_params]
    return rows
