"""The model card's PNG plots: feature importance, SHAP summary, learning curve and slices (matplotlib, no global state)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.model.metrics import HIGHER_IS_BETTER
from pipelines.model.slices import SliceMetric
from pipelines.reports.card_analysis import LearningCurve

_BLUE, _GREY, _RED = "#3b75af", "#9aa5b1", "#c53030"


def importance_plot(model: Any, path: Path) -> None:
    """Bar chart of the 20 features with the most total gain, as PNG."""
    from matplotlib.figure import Figure

    gains = model.get_booster().get_score(importance_type="total_gain")
    ranked = sorted(gains.items(), key=lambda kv: kv[1])[-20:]
    fig = Figure(figsize=(7, max(3, 0.32 * len(ranked))))
    ax = fig.subplots()
    ax.barh([k for k, _ in ranked], [v for _, v in ranked], color="#3b75af")
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance")
    _save(fig, path)


def shap_plot(contributions: pd.DataFrame, sample: pd.DataFrame, path: Path, top: int = 12) -> None:
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


def curve_plot(curve: LearningCurve, champion: float | None, champion_version: int | None, path: Path) -> None:
    """The learning curve, with the champion's holdout metric as a dashed line when there is one."""
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


def slices_plot(slices: Sequence[SliceMetric], failed: set[str], metric: str, path: Path) -> None:
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


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
