"""Per-slice holdout metrics: the primary metric of challenger and champion on each value of a slice column."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.model.metrics import METRICS

MISSING = "(missing)"


@dataclass(frozen=True)
class SliceMetric:
    """One slice (``column=value``) of the holdout; ``judged`` is False when too small to compare fairly.

    ``positives`` counts rows with a positive label (binary tasks; None for regression).
    """

    column: str
    value: str
    rows: int
    challenger: float
    champion: float | None
    judged: bool
    positives: int | None = None

    @property
    def name(self) -> str:
        """The slice as ``column=value``."""
        return f"{self.column}={self.value}"

    def to_dict(self) -> dict[str, Any]:
        """The slice's fields as a plain dict."""
        return asdict(self)


def slice_metrics(
    cfg: ModelConfig,
    features: pd.DataFrame,
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray | None,
) -> list[SliceMetric]:
    """The primary metric per value of each ``policy.slices`` column, in config order, then by value.

    A slice is judged when it has at least ``min_rows`` rows, for a binary task at least ``min_positives``
    positive and as many negative rows, and finite metrics for both models; the rest are still listed, with
    ``judged`` False.
    """
    policy = cfg.policy
    metric = METRICS[policy.primary_metric]
    found = []
    for column in policy.slices.columns:
        values = features[column].astype("string").fillna(MISSING).to_numpy()
        for value in sorted(set(values)):
            rows = values == value
            ys = y[rows]
            ours = metric(ys, challenger[rows])
            theirs = None if champion is None else metric(ys, champion[rows])
            count = int(rows.sum())
            positives = int((ys == 1).sum()) if cfg.task == "binary" else None
            enough = positives is None or min(positives, count - positives) >= max(policy.slices.min_positives, 1)
            judged = (
                count >= policy.slices.min_rows
                and enough
                and bool(np.isfinite(ours))
                and (theirs is None or bool(np.isfinite(theirs)))
            )
            found.append(SliceMetric(column, str(value), count, ours, theirs, judged, positives))
    return found
