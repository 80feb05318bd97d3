"""The drift report page (``templates/drift_report.html``): verdict, a sortable table of features and one
reference-vs-current plot per feature and for the model's scores, self-contained.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipelines.data.profile import Profile
from pipelines.drift.stats import DriftReport, listed_new_values, shares
from pipelines.reports.html import percent, render

_SEVERITY = {"act": 0, "warn": 1, "ok": 2}


def render_html(report: DriftReport, profile: Profile, title: str = "Drift report") -> str:
    """The page of one check, features ranked by status and then PSI."""
    ranked = sorted(report.features.items(), key=lambda kv: (_SEVERITY[kv[1]["status"]], -(kv[1]["psi"] or 0.0)))
    scores = None
    if report.prediction_counts is not None:
        edges = _bin_labels(profile.predictions.edges)
        scores = _bar_plot("scores", edges, profile.predictions.counts, report.prediction_counts)
    return render(
        "drift_report.html",
        title=title,
        report=report,
        scores=scores,
        features=[_feature(name, stats, profile) for name, stats in ranked],
    )


def _feature(name: str, stats: dict[str, Any], profile: Profile) -> dict[str, Any]:
    if name in profile.numeric:
        numeric = profile.numeric[name]
        plot = _bar_plot(name, _bin_labels(numeric.edges), numeric.counts, stats["counts"])
    else:
        categorical = profile.categorical[name]
        plot = _bar_plot(name, categorical.labels, categorical.counts, stats["counts"])
    new = f"{percent(stats['new_share'])} ({listed_new_values(stats)})" if stats.get("new_share") else ""
    return {"name": name, "stats": stats, "new": new, "over": "; ".join(stats["over"]), "plot": plot}


def _bin_labels(edges: Sequence[float]) -> list[str]:
    return [f"[{low:.3g}, {high:.3g})" for low, high in itertools.pairwise(edges)]


def _bar_plot(name: str, labels: Sequence[str], ref_counts: Sequence[int], cur_counts: Sequence[int]) -> str:
    """A small reference-vs-current bar chart of shares, as base64 PNG."""
    from matplotlib.figure import Figure

    positions = np.arange(len(labels))
    ref = shares(ref_counts) if sum(ref_counts) else np.zeros(len(labels))
    cur = shares(cur_counts) if sum(cur_counts) else np.zeros(len(labels))
    fig = Figure(figsize=(3.6, 1.9), dpi=100)
    ax = fig.subplots()
    ax.bar(positions - 0.2, ref, width=0.4, label="reference", color="#9aa5b1")
    ax.bar(positions + 0.2, cur, width=0.4, label="current", color="#3b75af")
    ax.set_xticks(positions, labels, rotation=45, ha="right", fontsize=6)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_title(name, fontsize=8)
    ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
