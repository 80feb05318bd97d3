"""Performance from predictions: realized where labels have arrived, estimated (CBPE) where they have not.

Pure functions on frames. Predictions carry ``row_id``, ``event_ts``, ``score`` and ``model_version``; labels
are joined to them by ``row_id`` (``predictions.row_ids`` of the labelled rows: timestamp and entity key, or
timestamp and features for a model without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.config.training_sections import METRICS_BY_TASK
from pipelines.model.metrics import METRICS, compute
from pipelines.performance.calibration import VersionCalibration
from pipelines.performance.cbpe import estimate
from pipelines.performance.predictions import row_ids

ALL_ROWS = ""
"""The ``slice`` of a measurement over all of a day's rows."""
LABEL, SLICE = "__label", "__slice_"
"""Where ``join_labels`` puts the label and each slice column (names no predictions column can take)."""


@dataclass(frozen=True)
class Measurement:
    """One metric of one version on one day (and slice): a row of ``db.PERFORMANCE``."""

    day: str
    model_version: int
    kind: str
    slice: str
    metric: str
    value: float
    rows: int

    def to_dict(self) -> dict[str, Any]:
        """The measurement as a plain dict (NaN kept)."""
        return asdict(self)


def join_labels(cfg: ModelConfig, predictions: pd.DataFrame, labelled: pd.DataFrame) -> pd.DataFrame:
    """Predictions with the label (and slice columns) of their input, for the rows whose label has arrived."""
    label = cfg.columns.label
    if label not in labelled.columns:
        from pipelines.model.features import FeatureError

        raise FeatureError(f"the labels' rows lack the label column {label!r}")
    slices = [c for c in cfg.policy.slices.columns if c in labelled.columns]
    found = pd.DataFrame(
        {
            "row_id": row_ids(labelled, cfg),
            LABEL: pd.to_numeric(labelled[label], errors="coerce").astype("float64").to_numpy(),
            **{SLICE + c: labelled[c].to_numpy() for c in slices},
        }
    )
    found = found[found[LABEL].notna()].drop_duplicates("row_id")
    return predictions.merge(found, on="row_id", how="inner")


def realized(cfg: ModelConfig, joined: pd.DataFrame) -> list[Measurement]:
    """Every metric of the task per day and version, and the primary metric per slice value."""
    label, primary = LABEL, cfg.policy.primary_metric
    found: list[Measurement] = []
    for (day, version), group in _by_day_and_version(joined):
        y, scores = group[label].to_numpy(), group["score"].to_numpy()
        for metric, value in compute(METRICS_BY_TASK[cfg.task], y, scores).items():
            found.append(Measurement(day, version, "realized", ALL_ROWS, metric, value, len(group)))
        for column in cfg.policy.slices.columns:
            if SLICE + column not in group.columns:
                continue
            for value, part in group.groupby(group[SLICE + column].astype("string"), dropna=False, sort=True):
                name = f"{column}={'(missing)' if pd.isna(value) else value}"
                metric_value = METRICS[primary](part[label].to_numpy(), part["score"].to_numpy())
                found.append(Measurement(day, version, "realized", name, primary, metric_value, len(part)))
    return found


def estimated(
    cfg: ModelConfig, predictions: pd.DataFrame, calibrations: Mapping[int, VersionCalibration | None]
) -> list[Measurement]:
    """CBPE's expected metrics per day and version, for binary models whose version has a calibration."""
    if cfg.task != "binary":
        return []
    found: list[Measurement] = []
    for (day, version), group in _by_day_and_version(predictions):
        stored = calibrations.get(version)
        if stored is None or stored.calibration is None:
            continue
        values = estimate(stored.calibration, group["score"].to_numpy(), METRICS_BY_TASK[cfg.task])
        found += [Measurement(day, version, "estimated", ALL_ROWS, m, v, len(group)) for m, v in values.items()]
    return found


def pooled(cfg: ModelConfig, joined: pd.DataFrame) -> float:
    """The primary metric over all of ``joined``'s rows at once (one decay check pools several days)."""
    if joined.empty:
        return float("nan")
    return METRICS[cfg.policy.primary_metric](joined[LABEL].to_numpy(), joined["score"].to_numpy())


def pooled_estimate(cfg: ModelConfig, predictions: pd.DataFrame, stored: VersionCalibration | None) -> float:
    """CBPE's expected primary metric over all of ``predictions``' rows; NaN when it cannot be estimated."""
    if predictions.empty or stored is None or stored.calibration is None:
        return float("nan")
    metric = cfg.policy.primary_metric
    return estimate(stored.calibration, predictions["score"].to_numpy(), (metric,)).get(metric, float("nan"))


def _by_day_and_version(frame: pd.DataFrame) -> Any:
    days = pd.to_datetime(frame["event_ts"]).dt.strftime("%Y-%m-%d")
    for (day, version), group in frame.groupby([days, frame["model_version"]], sort=True):
        yield (str(day), int(version)), group
