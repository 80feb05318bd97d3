"""How often to retrain, measured: age points from the model's own past versions (their realized performance in
the pipeline's database), or, when there are too few, from models replayed at earlier dates on the same config
and source; then ``performance.cadence.fit_cadence``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import window_frame
from pipelines.data.windows import Window
from pipelines.errors import NoData
from pipelines.model.features import FeatureError, labels, split
from pipelines.model.metrics import METRICS
from pipelines.model.scoring import score
from pipelines.model.train import fit
from pipelines.performance import store
from pipelines.performance.cadence import AgePoint, Cadence, fit_cadence
from pipelines.performance.measure import ALL_ROWS
from pipelines.registry import versions as registry

WEEK = 7
MIN_VERSIONS = 3
Progress = Callable[[str], None]


def cadence(
    cfg: ModelConfig,
    as_of: date,
    source_url: str,
    weeks: int = 6,
    models: int = 4,
    replay: bool = False,
    progress: Progress | None = None,
) -> tuple[str, Cadence]:
    """The recommended retrain cadence and its basis (``versions`` or ``replay``), stored for ``status``. Past
    versions are used when at least ``MIN_VERSIONS`` have two labelled weeks; else (or with ``replay``)
    ``models`` models are trained a week apart, each judged on the ``weeks`` weeks after it, all before ``as_of``.
    """
    metric, tolerance = cfg.policy.primary_metric, cfg.feedback.decay.tolerance
    basis, found = "versions", None
    if not replay:
        found = fit_cadence(version_points(cfg), metric, tolerance)
    if found is None or found.models < MIN_VERSIONS:
        points = replay_points(cfg, as_of, source_url, weeks, models, progress)
        basis, found = "replay", fit_cadence(points, metric, tolerance)
    store.save_cadence(cfg.name, basis, found.recommended_days, found.to_dict())
    return basis, found


def version_points(cfg: ModelConfig) -> list[AgePoint]:
    """Each past version's realized primary metric per week of age, from the stored measurements."""
    series = store.series(cfg.name)
    mine = series[(series["kind"] == "realized") & (series["slice"] == ALL_ROWS)]
    mine = mine[(mine["metric"] == cfg.policy.primary_metric) & mine["value"].notna()]
    points = []
    for version, rows in mine.groupby("model_version"):
        end = registry.version(cfg.name, int(version)).window_end
        if not end:
            continue
        age = (pd.to_datetime(rows["day"]) - pd.Timestamp(end)).dt.days
        weekly = rows.assign(week=age // WEEK, weight=rows["value"] * rows["rows"]).groupby("week")
        for week, part in weekly:
            value = float(part["weight"].sum() / part["rows"].sum())
            points.append(AgePoint(f"v{version}", week * WEEK + WEEK / 2, value, int(part["rows"].sum())))
    return points


def replay_points(
    cfg: ModelConfig, as_of: date, source_url: str, weeks: int, models: int, progress: Progress | None = None
) -> list[AgePoint]:
    """Models trained ``WEEK`` days apart before ``as_of - weeks`` weeks, each scored on its next ``weeks`` weeks."""
    horizon = as_of - timedelta(days=WEEK * weeks)
    dates = [horizon - timedelta(days=WEEK * i) for i in range(models)]
    first = Window.for_as_of(min(dates), cfg.windows).start
    frame = window_frame(cfg, Window(first, as_of, as_of), source_url)
    if frame.empty:
        raise NoData(f"{cfg.name}: no rows in {first}..{as_of - timedelta(days=1)} to replay")
    stamps = pd.to_datetime(frame[cfg.columns.timestamp])
    metric = METRICS[cfg.policy.primary_metric]
    points = []
    for trained in sorted(dates):
        window = Window.for_as_of(trained, cfg.windows)
        rows = frame[(stamps >= pd.Timestamp(window.start)) & (stamps < pd.Timestamp(trained))]
        try:
            model = fit(cfg, split(rows, cfg, window))
        except FeatureError as exc:
            raise NoData(f"{cfg.name}: cannot replay a model trained as of {trained}: {exc}") from exc
        for week in range(weeks):
            start = pd.Timestamp(trained + timedelta(days=WEEK * week))
            part = frame[(stamps >= start) & (stamps < start + pd.Timedelta(days=WEEK))]
            if len(part):
                value = metric(labels(part, cfg), score(model, part, cfg).scores)
                points.append(AgePoint(f"as of {trained}", week * WEEK + WEEK / 2, value, len(part)))
        if progress is not None:
            progress(f"replay: model as of {trained} judged on {weeks} weeks")
    return points
