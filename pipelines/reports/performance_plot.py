"""The performance plot: the primary metric per day, realized and estimated, against the floor and the
champion's holdout value (matplotlib, no global state).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

_GREY, _RED = "#9aa5b1", "#c53030"
_VERSION_COLOURS = ("#3b75af", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3")


def performance_plot(
    series: pd.DataFrame, metric: str, floor: float, reference: float | None, title: str, path: Path
) -> Path:
    """Daily ``metric`` of every version (``store.series`` rows over all rows), a colour per version: realized
    as solid lines with dots, estimated dashed with crosses; the floor in red and the holdout reference in grey.
    """
    from matplotlib.figure import Figure

    rows = series[(series["metric"] == metric) & (series["slice"] == "")]
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots()
    versions = sorted(rows["model_version"].unique())
    for (version, kind), part in rows.groupby(["model_version", "kind"], sort=True):
        days = pd.to_datetime(part["day"])
        marker, line = ("o", "-") if kind == "realized" else ("x", "--")
        colour = _VERSION_COLOURS[versions.index(version) % len(_VERSION_COLOURS)]
        axes.plot(
            days, part["value"], color=colour, marker=marker, linestyle=line, markersize=4, label=f"v{version} {kind}"
        )
    axes.axhline(floor, color=_RED, linewidth=1, label=f"floor {floor:.3f}")
    if reference is not None:
        axes.axhline(reference, color=_GREY, linewidth=1, linestyle=":", label=f"champion holdout {reference:.3f}")
    axes.set_ylabel(metric)
    axes.set_title(title)
    axes.legend(loc="lower left", fontsize=8, ncols=3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
