"""Performance plots (matplotlib, no global state): the primary metric per day, realized and estimated, against
the floor and the champion's holdout value; the Models page's timeline, which adds the promotions and rollbacks
(at the end of their data window, with the holdout metric they were promoted on) and the drift checks on the
same axis of data days; and the decay curve of a ``cadence`` result.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.model.metrics import HIGHER_IS_BETTER

_GREY, _RED = "#9aa5b1", "#c53030"
_VERSION_COLOURS = ("#3b75af", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3")
MOVES = ("promoted", "rolled_back", "rolled_forward", "readmitted", "found")


def performance_plot(
    series: pd.DataFrame, metric: str, floor: float, reference: float | None, title: str, path: Path
) -> Path:
    """Daily ``metric`` of every version (``store.series`` rows over all rows), a colour per version: realized
    as solid lines with dots, estimated dashed with crosses; the floor in red and the holdout reference in grey.
    """
    fig, axes = _daily(series, metric, floor, title)
    if reference is not None:
        axes.axhline(reference, color=_GREY, linewidth=1, linestyle=":", label=f"champion holdout {reference:.3f}")
    _finish(fig, axes)
    fig.savefig(path, dpi=110)
    return path


def timeline_png(
    series: pd.DataFrame,
    ledger: Sequence[Any],
    drift_checks: Sequence[tuple[datetime, bool]],
    metric: str,
    floor: float,
    title: str,
) -> str | None:
    """The Models page's timeline as a base64 PNG, or None when there is nothing to draw. ``ledger`` holds
    ``registry.ledger.Entry`` rows; ``drift_checks`` (when, drift seen) pairs.
    """
    moves = [e for e in ledger if e.kind in MOVES and e.window_end]
    if series.empty and not moves and not drift_checks:
        return None
    fig, axes = _daily(series, metric, floor, title)
    for entry in moves:
        day = pd.Timestamp(entry.window_end)
        axes.axvline(day, color=_GREY, linewidth=0.8, linestyle="-.")
        holdout = (entry.metrics.get("challenger") or {}).get(metric)
        if holdout is not None:
            axes.plot([day], [holdout], marker="*", markersize=10, color="#2f855a", linestyle="none")
        axes.annotate(
            f"v{entry.version} {entry.kind.replace('_', ' ')}",
            (day, 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color="#4a5568",
        )
    for moment, drift in drift_checks:
        axes.plot(
            [pd.Timestamp(moment.date())],
            [0.02],
            marker="|",
            markersize=9,
            transform=axes.get_xaxis_transform(),
            color=_RED if drift else _GREY,
            linestyle="none",
        )
    axes.plot([], [], marker="*", color="#2f855a", linestyle="none", label="holdout at promotion")
    axes.plot([], [], marker="|", color=_RED, linestyle="none", label="drift check (red: drift)")
    _finish(fig, axes)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decay_curve_png(result: dict[str, Any], title: str) -> str | None:
    """A ``cadence`` result (``Cadence.to_dict()``) as a base64 PNG: each model's metric by age in days, the
    fitted slope drawn from the models' mean level, and the tolerance below it; None without points.
    """
    from matplotlib.figure import Figure

    points = pd.DataFrame(result.get("points") or [])
    if points.empty:
        return None
    fig = Figure(figsize=(9, 3.2))
    axes = fig.subplots()
    for index, (model_id, part) in enumerate(points.groupby("model_id", sort=True)):
        colour = _VERSION_COLOURS[index % len(_VERSION_COLOURS)]
        axes.plot(part["age_days"], part["value"], marker="o", markersize=4, color=colour, label=str(model_id))
    slope, recommended = result.get("slope_per_day"), result.get("recommended_days")
    if slope is not None:
        sign = 1.0 if HIGHER_IS_BETTER[result["metric"]] else -1.0
        start, ages = points["value"].mean(), points["age_days"].sort_values()
        axes.plot(
            ages, start + sign * slope * (ages - ages.iloc[0]), color="#1a202c", linewidth=2, label="fitted decay"
        )
        axes.axhline(start - sign * result["tolerance"], color=_RED, linewidth=1, linestyle=":", label="tolerance")
    if recommended is not None:
        axes.axvline(recommended, color=_GREY, linestyle="-.", label=f"retrain every {recommended:.0f} days")
    axes.set_xlabel("model age (days after its training data)")
    axes.set_ylabel(result["metric"])
    axes.set_title(title)
    _finish(fig, axes, dates=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _daily(series: pd.DataFrame, metric: str, floor: float, title: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    rows = series[(series["metric"] == metric) & (series["slice"] == "")] if not series.empty else series
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots()
    versions = sorted(rows["model_version"].unique()) if not rows.empty else []
    for (version, kind), part in rows.groupby(["model_version", "kind"], sort=True) if versions else ():
        marker, line = ("o", "-") if kind == "realized" else ("x", "--")
        colour = _VERSION_COLOURS[versions.index(version) % len(_VERSION_COLOURS)]
        axes.plot(
            pd.to_datetime(part["day"]),
            part["value"],
            color=colour,
            marker=marker,
            linestyle=line,
            markersize=4,
            label=f"v{version} {kind}",
        )
    axes.axhline(floor, color=_RED, linewidth=1, label=f"floor {floor:.3f}")
    axes.set_ylabel(metric)
    axes.set_title(title)
    return fig, axes


def _finish(fig: Any, axes: Any, dates: bool = True) -> None:
    axes.legend(loc="lower left", fontsize=8, ncols=3)
    if dates:
        fig.autofmt_xdate()
    fig.tight_layout()
