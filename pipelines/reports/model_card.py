"""The model card of a decision: one HTML page and its PNG plots, logged under ``model_card/<decision id>/`` of
the version's own training run, so every evaluation of a version keeps its own card.

The page embeds its plots as base64 PNGs, so it reads the same in MLflow's artifact viewer and served on its
own; the PNG files next to it are the same plots for direct use. It shows lineage (data window, snapshot hash),
the quality suite's result, the decision and its checks, champion vs challenger holdout metrics, metrics per
slice, XGBoost's parameters, feature importance, a SHAP summary from XGBoost's own ``pred_contribs`` and a
learning curve.

The learning curve refits the challenger's parameters with a fixed number of rounds (its best iteration) on
the newest 1/8, 1/4, 1/2 and all of its training rows: the newest rows are kept because they are the most
like the holdout, so a smaller share means "less history". Each refit uses one thread: on a few thousand
rows that is as fast, and it never waits on cores busy with other tasks. When doubling the rows still raises the
holdout metric by more than ``MORE_DATA_HELPS`` (relative), more data would likely help.
"""

from __future__ import annotations

import base64
import html
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.config.schema import ModelConfig
from pipelines.data.ingest import Snapshot
from pipelines.model.features import Splits, labels, model_frame
from pipelines.model.metrics import HIGHER_IS_BETTER, METRICS, gain
from pipelines.model.scoring import aligned_frame, score
from pipelines.model.slices import SliceMetric
from pipelines.model.train import estimator, importance_plot
from pipelines.quality.gate import saved_report
from pipelines.registry import versions as registry
from pipelines.registry.versions import VersionInfo

if TYPE_CHECKING:  # evaluate builds the card, so the card cannot import evaluate at run time
    from pipelines.decision.evaluate import Decision

MODEL_CARD_ARTIFACT = "model_card"
CARD_TAG = "model_card"
"""Version tag naming the decision whose card shows the version: its first judgement, or its promotion."""
CARD_PAGE = "index.html"
PLOTS = ("feature_importance.png", "shap_summary.png", "learning_curve.png", "slices.png")
CURVE_FRACTIONS = (0.125, 0.25, 0.5, 1.0)
MORE_DATA_HELPS = 0.005
SHAP_SAMPLE_ROWS = 500
_BLUE, _GREY, _RED = "#3b75af", "#9aa5b1", "#c53030"


@dataclass(frozen=True)
class LearningCurve:
    """The holdout primary metric of refits on the newest ``rows`` training rows, and what it says."""

    metric: str
    rows: list[int]
    values: list[float]
    more_data_helps: bool
    verdict: str


def learning_curve(cfg: ModelConfig, train: pd.DataFrame, holdout: pd.DataFrame, rounds: int) -> LearningCurve:
    """Refit with ``rounds`` trees on growing shares of the (time-ordered) training rows, newest kept."""
    metric = cfg.policy.primary_metric
    y = labels(holdout, cfg)
    rows, values = [], []
    for fraction in CURVE_FRACTIONS:
        part = train.iloc[-max(int(round(len(train) * fraction)), 1) :]
        target = labels(part, cfg)
        if cfg.task == "binary" and len(np.unique(target)) < 2:
            continue
        model = estimator(cfg, n_estimators=rounds, early_stopping_rounds=None, n_jobs=1, nthread=1)
        model.fit(model_frame(part, cfg), target, verbose=False)
        rows.append(len(part))
        values.append(METRICS[metric](y, score(model, holdout, cfg).scores))
    helps, verdict = curve_verdict(metric, rows, values)
    return LearningCurve(metric, rows, values, helps, verdict)


def curve_verdict(metric: str, rows: Sequence[int], values: Sequence[float]) -> tuple[bool, str]:
    """Whether the last step of the curve still gains more than ``MORE_DATA_HELPS`` of the metric, in words."""
    if len(values) < 2:
        return False, "too few training rows to draw a learning curve"
    step = gain(metric, values[-1], values[-2])
    relative = step / max(abs(values[-1]), 1e-12)
    change = f"going from {rows[-2]} to {rows[-1]} training rows changed {metric} by {step:+.4f} ({relative:+.1%})"
    if relative > MORE_DATA_HELPS:
        return True, f"{change}: the curve still rises, more data would likely help"
    return False, f"{change}: the curve has flattened, more data alone is unlikely to help much"


def log_model_card(
    cfg: ModelConfig,
    snapshot: Snapshot,
    splits: Splits,
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
        write_model_card(Path(tmp), cfg, snapshot, splits, model, decision, slices, info, params)
        mlflow_client.log_artifacts(info.run_id, tmp, card_folder(decision.decision_id))


def card_folder(decision_id: str | None) -> str:
    """Where the card of a decision lives in its version's training run (``model_card/`` before decision ids)."""
    return f"{MODEL_CARD_ARTIFACT}/{decision_id}" if decision_id else MODEL_CARD_ARTIFACT


def write_model_card(
    folder: Path,
    cfg: ModelConfig,
    snapshot: Snapshot,
    splits: Splits,
    model: Any,
    decision: Decision,
    slices: Sequence[SliceMetric],
    info: VersionInfo,
    run_params: dict[str, str],
) -> Path:
    """Write ``index.html`` and the PNG plots into ``folder``; returns the page's path."""
    best = getattr(model, "best_iteration", None)
    rounds = best + 1 if best is not None else model.get_booster().num_boosted_rounds()
    curve = learning_curve(cfg, splits.train, splits.holdout, rounds)
    features, _ = aligned_frame(model, splits.holdout, cfg)
    contributions, sample = _contributions(model, features, rounds, cfg.xgboost.seed)
    failed = {c.name.removeprefix("slice:") for c in decision.checks if c.name.startswith("slice:") and not c.passed}
    champion = (decision.champion_metrics or {}).get(curve.metric)
    importance_plot(model, folder / "feature_importance.png")
    _shap_plot(contributions, sample, folder / "shap_summary.png")
    _curve_plot(curve, champion, decision.champion_version, folder / "learning_curve.png")
    _slices_plot(slices, failed, cfg.policy.primary_metric, folder / "slices.png")
    images = {name: base64.b64encode((folder / name).read_bytes()).decode("ascii") for name in PLOTS}
    page = folder / CARD_PAGE
    page.write_text(
        _page(cfg, snapshot, decision, slices, failed, info, run_params, best, curve, contributions, images)
    )
    return page


def _contributions(model: Any, features: pd.DataFrame, rounds: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SHAP values (XGBoost's ``pred_contribs``) of a seeded sample of holdout rows, one column per feature."""
    import xgboost as xgb

    if len(features) > SHAP_SAMPLE_ROWS:
        picked = np.sort(np.random.default_rng(seed).choice(len(features), SHAP_SAMPLE_ROWS, replace=False))
        features = features.iloc[picked]
    matrix = xgb.DMatrix(features, enable_categorical=True)
    values = model.get_booster().predict(matrix, pred_contribs=True, iteration_range=(0, rounds))
    return pd.DataFrame(values[:, :-1], columns=features.columns, index=features.index), features


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)


def _shap_plot(contributions: pd.DataFrame, sample: pd.DataFrame, path: Path, top: int = 12) -> None:
    """Mean |SHAP| per feature (left) and each sampled row's SHAP value coloured by its feature value (right)."""
    from matplotlib.figure import Figure

    ranked = contributions.abs().mean().sort_values().tail(top)
    fig = Figure(figsize=(10, max(3.2, 0.36 * len(ranked))))
    bars, swarm = fig.subplots(1, 2, sharey=True)
    positions = np.arange(len(ranked))
    bars.barh(positions, ranked.to_numpy(), color=_BLUE)
    bars.set_yticks(positions, list(ranked.index))
    bars.set_xlabel("mean |SHAP value| (model output units)")
    bars.set_title("SHAP summary")
    jitter = np.random.default_rng(0)
    for position, name in zip(positions, ranked.index, strict=True):
        column = sample[name]
        shade = (
            column.cat.codes.replace(-1, np.nan) if isinstance(column.dtype, pd.CategoricalDtype) else column
        ).rank(pct=True)
        spread = jitter.uniform(-0.3, 0.3, len(column))
        points = swarm.scatter(
            contributions[name], position + spread, c=shade, cmap="coolwarm", vmin=0, vmax=1, s=5, alpha=0.6
        )
    swarm.axvline(0, color=_GREY, linewidth=0.8)
    swarm.set_xlabel("SHAP value per row")
    swarm.set_title("per row, coloured by feature value")
    fig.colorbar(points, ax=swarm, ticks=[0, 1], label="feature value (rank)").ax.set_yticklabels(["low", "high"])
    _save(fig, path)


def _curve_plot(curve: LearningCurve, champion: float | None, champion_version: int | None, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    ax.plot(curve.rows, curve.values, marker="o", color=_BLUE, label="challenger's parameters")
    if champion is not None and np.isfinite(champion):
        ax.axhline(champion, color=_GREY, linestyle="--", label=f"champion v{champion_version}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(curve.rows, [str(r) for r in curve.rows])
    ax.minorticks_off()
    ax.set_xlabel("training rows (newest kept)")
    ax.set_ylabel(f"holdout {curve.metric}")
    ax.set_title("Learning curve")
    ax.legend(frameon=False, fontsize=8)
    _save(fig, path)


def _slices_plot(slices: Sequence[SliceMetric], failed: set[str], metric: str, path: Path) -> None:
    """Champion -> challenger per slice; red where the slice got worse beyond the tolerance, faint if not judged."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, max(2.4, 0.32 * len(slices) + 1)))
    ax = fig.subplots()
    if not slices:
        ax.text(0.5, 0.5, "no slice columns in policy.slices", ha="center", va="center")
        ax.set_axis_off()
    for position, piece in enumerate(slices):
        alpha = 1.0 if piece.judged else 0.35
        colour = _RED if piece.name in failed else _BLUE
        if piece.champion is not None:
            ax.plot([piece.champion, piece.challenger], [position, position], color=_GREY, alpha=alpha)
            ax.scatter([piece.champion], [position], color=_GREY, alpha=alpha, zorder=3)
        ax.scatter([piece.challenger], [position], color=colour, alpha=alpha, zorder=3)
    ax.set_yticks(range(len(slices)), [f"{p.name} ({p.rows})" for p in slices])
    ax.invert_yaxis()
    ax.set_xlabel(f"holdout {metric} ({'higher' if HIGHER_IS_BETTER[metric] else 'lower'} is better)")
    ax.set_title("Slices: champion (grey) -> challenger (blue, red if worse beyond tolerance)", fontsize=9)
    _save(fig, path)


def _fmt(value: float | None) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.4f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; header and cell values are escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(images: dict[str, str], name: str) -> str:
    return f'<img alt="{name}" title="{name}" src="data:image/png;base64,{images[name]}">'


def _lineage(snapshot: Snapshot, decision: Decision, info: VersionInfo) -> str:
    tags = info.tags
    start, end = tags.get("window_start", snapshot.window_start), tags.get("window_end", snapshot.window_end)
    return _table(
        ("lineage", ""),
        [
            ("data window", f"{start} .. {end}"),
            ("holdout from", tags.get("holdout_start", snapshot.holdout_start)),
            ("snapshot hash", tags.get("snapshot_hash", snapshot.content_hash)),
            ("training run", info.run_id or ""),
            ("trigger", tags.get("trigger", "")),
            ("code version", tags.get("code_version", "")),
            ("config hash", tags.get("config_hash", "")),
            ("evaluated on", f"{decision.holdout_rows} holdout rows of snapshot {decision.snapshot_hash}"),
            ("evaluation run", decision.evaluation_run_id or ""),
        ],
    )


def _quality_section(cfg: ModelConfig, snapshot: Snapshot) -> str:
    report = saved_report(cfg, snapshot)
    if report is None:
        return f"<p>Suite <b>{html.escape(cfg.quality.suite)}</b>: no validation result next to the snapshot.</p>"
    outcome = '<span class="ok">passed</span>' if report.success else '<span class="fail">FAILED</span>'
    failures = "".join(f"<li>{html.escape(f'{c.severity}: {c}')}</li>" for c in [*report.critical, *report.warnings])
    return (
        f"<p>Suite <b>{html.escape(report.suite)}</b>: {outcome}, {report.evaluated} expectations, "
        f"{len(report.critical)} critical and {len(report.warnings)} warning failures.</p>"
        + (f"<ul>{failures}</ul>" if failures else "")
    )


def _decision_section(decision: Decision) -> str:
    items = []
    for check in decision.checks:
        blocking = " (blocking)" if check.blocking and not check.passed else ""
        items.append(
            f'<li class="{"ok" if check.passed else "fail"}">{"ok" if check.passed else "FAIL"} '
            f"<b>{html.escape(check.name)}</b>{blocking}: {html.escape(check.detail)}</li>"
        )
    return f"<ul>{''.join(items)}</ul>"


def _metrics_section(cfg: ModelConfig, decision: Decision, version: str, champion: str) -> str:
    theirs = decision.champion_metrics or {}
    rows = [
        (
            name + (" (primary)" if name == cfg.policy.primary_metric else ""),
            _fmt(theirs.get(name)),
            _fmt(ours),
            _fmt(gain(name, ours, theirs[name])) if name in theirs else "",
        )
        for name, ours in decision.challenger_metrics.items()
    ]
    return _table(("metric", f"champion {champion}", f"challenger {version}", "gain"), rows)


def _slices_section(
    cfg: ModelConfig, slices: Sequence[SliceMetric], failed: set[str], version: str, champion: str
) -> str:
    limits, metric = cfg.policy.slices, cfg.policy.primary_metric
    if not limits.columns:
        return "<p>No slice columns in policy.slices.</p>"

    def verdict(piece: SliceMetric) -> str:
        if piece.name in failed:
            return "WORSE beyond tolerance: blocks promotion"
        if not piece.judged:
            return "not judged"
        return "ok" if piece.champion is not None else "no champion to compare"

    rows = [
        (
            p.column,
            p.value,
            p.rows,
            _fmt(p.champion),
            _fmt(p.challenger),
            _fmt(gain(metric, p.challenger, p.champion)) if p.champion is not None else "",
            verdict(p),
        )
        for p in slices
    ]
    intro = (
        f"{metric} per value of {', '.join(limits.columns)}. A slice of at least {limits.min_rows} rows (both "
        f"classes for a binary task) that gets worse than the champion's by more than {limits.tolerance:g} "
        "blocks promotion."
    )
    headers = ("column", "value", "rows", f"champion {champion}", f"challenger {version}", "gain", "")
    return f"<p>{html.escape(intro)}</p>" + _table(headers, rows)


def _params_section(run_params: dict[str, str], best: int | None) -> str:
    xgb = sorted((k.removeprefix("xgb."), v) for k, v in run_params.items() if k.startswith("xgb."))
    rows = [("best iteration", "" if best is None else best), *xgb]
    rows += [(k, run_params[k]) for k in ("train_rows", "validation_rows", "holdout_rows") if k in run_params]
    return _table(("parameter", "value"), rows)


def _page(
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
    version = f"v{decision.challenger_version}"
    champion = f"v{decision.champion_version}" if decision.champion_version is not None else "none"
    verdict = "promote" if decision.promote else "blocked" if decision.blocked else "keep the champion"
    shap_top = contributions.abs().mean().sort_values(ascending=False).head(10)
    curve_rows = [(r, _fmt(v)) for r, v in zip(curve.rows, curve.values, strict=True)]
    return _PAGE.format(
        title=html.escape(f"Model card: {cfg.name} {version}"),
        verdict_class="ok" if decision.promote else "fail",
        verdict=verdict,
        description=html.escape(cfg.description),
        lineage=_lineage(snapshot, decision, info),
        quality=_quality_section(cfg, snapshot),
        decision=_decision_section(decision),
        metrics=_metrics_section(cfg, decision, version, champion),
        slices=_slices_section(cfg, slices, failed, version, champion) + _img(images, "slices.png"),
        params=_params_section(run_params, best),
        importance=_img(images, "feature_importance.png"),
        shap=_img(images, "shap_summary.png")
        + _table(("feature", "mean |SHAP value|"), [(k, f"{v:.4f}") for k, v in shap_top.items()]),
        curve_verdict=html.escape(curve.verdict),
        curve=_img(images, "learning_curve.png") + _table(("training rows", f"holdout {curve.metric}"), curve_rows),
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1f2933; max-width: 72rem; }}
table {{ border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; }}
th, td {{ border-bottom: 1px solid #e4e7eb; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}
th {{ background: #f5f7fa; }}
img {{ max-width: 100%; display: block; margin: 0.5rem 0; }}
li {{ margin: 0.2rem 0; }}
.ok {{ color: #2f8132; }} .fail {{ color: #c53030; font-weight: 600; }}
</style></head><body>
<h1>{title}: <span class="{verdict_class}">{verdict}</span></h1>
<p>{description}</p>
<h2>Lineage</h2>{lineage}
<h2>Data quality</h2>{quality}
<h2>Decision</h2>{decision}
<h2>Holdout metrics</h2>{metrics}
<h2>Slices</h2>{slices}
<h2>Parameters</h2>{params}
<h2>Feature importance (gain)</h2>{importance}
<h2>SHAP summary</h2>{shap}
<h2>Learning curve</h2><p>{curve_verdict}</p>{curve}
</body></html>
"""
