"""The feedback loop of a champion: measure its predictions against labels that have arrived (realized), estimate
the rest (CBPE), store both, and judge decay by the config's policy, logged to MLflow as a ``performance`` run.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from pipelines.alerts.links import mlflow_artifact_url
from pipelines.config.model import ModelConfig
from pipelines.data.ingest import window_frame
from pipelines.data.sources import make_engine
from pipelines.data.windows import Window
from pipelines.drift.confirmation import CheckRecord, confirm_streak
from pipelines.drift.history import CheckHistory
from pipelines.errors import InputError, NoData
from pipelines.model.metrics import finite_or_none
from pipelines.performance import calibration, store
from pipelines.performance.decay import Basis, DecayCheck, findings
from pipelines.performance.measure import estimated, join_labels, pooled, pooled_estimate, realized
from pipelines.performance.predictions import read_predictions
from pipelines.registry import db
from pipelines.registry import versions as registry
from pipelines.registry.versions import NoChampion
from pipelines.reports.performance_plot import performance_plot

PLOT_ARTIFACT = "performance.png"


def history(cfg: ModelConfig) -> CheckHistory:
    """The model's decay check records, in the pipeline's database."""
    return CheckHistory(cfg.name, table=db.PERFORMANCE_CHECKS)


def measure_performance(
    cfg: ModelConfig,
    as_of: date,
    source_url: str,
    target_url: str,
    record: bool = True,
    labels_url: str | None = None,
) -> DecayCheck:
    """Measure the predictions of the days before ``as_of``: realized up to ``label_delay_days`` before it,
    estimated after; store the measurements and judge the champion's decay (recorded with ``record``).

    A check belongs to its data day (midnight UTC of ``as_of``): a second run for the same day replaces the
    record instead of counting as another check in a row. Labels come from ``feedback.labels`` at ``labels_url``
    (default: its own ``resolve_url()``), else from the scored rows' source at ``source_url``.

    Raises ``NoChampion`` without a champion, ``InputError`` without a ``scoring`` section and ``NoData`` when
    there was nothing to measure.
    """
    if cfg.scoring is None:
        raise InputError(f"{cfg.name}: the config has no scoring section, so there are no predictions to measure")
    feedback = cfg.feedback
    champion = registry.by_alias(cfg.name, registry.CHAMPION)
    if champion is None:
        raise NoChampion(f"{cfg.name}: no champion yet, nothing to measure")
    labelled_end = as_of - timedelta(days=feedback.label_delay_days)
    first = labelled_end - timedelta(days=feedback.lookback_days)
    predictions = _predictions(cfg, target_url, first, as_of)
    labelled_end_ts = pd.Timestamp(labelled_end)
    is_labelled = predictions["event_ts"] < labelled_end_ts
    labels_window = Window(first, labelled_end, labelled_end)
    labels_source = feedback.labels or cfg.scored_source
    if feedback.labels is not None:
        labels_url = labels_url or feedback.labels.resolve_url()
    joined = (
        join_labels(
            cfg, predictions[is_labelled], window_frame(cfg, labels_window, labels_url or source_url, labels_source)
        )
        if is_labelled.any()
        else predictions.iloc[:0]
    )
    versions = sorted({int(v) for v in predictions["model_version"]} | {champion.version})
    calibrations = {v: calibration.load(cfg.name, v) for v in versions}
    measurements = realized(cfg, joined) + estimated(cfg, predictions[~is_labelled], calibrations)
    if not measurements:
        raise NoData(
            f"{cfg.name}: nothing to measure as of {as_of}: no labelled predictions in {first}..{labelled_end} "
            f"and no estimate for {labelled_end}..{as_of} (binary models with a stored calibration only)"
        )
    store.save(cfg.name, measurements)
    check = _judge(cfg, as_of, champion.version, joined, predictions[~is_labelled], calibrations)
    unlabelled = int(is_labelled.sum()) - len(joined)
    if unlabelled:
        note = f"{unlabelled} of {int(is_labelled.sum())} predictions of {first}..{labelled_end} found no label"
        check = replace(check, notes=[*check.notes, note])
    return _logged(cfg, check, first) if record else check


def _predictions(cfg: ModelConfig, target_url: str, first: date, end: date) -> pd.DataFrame:
    assert cfg.scoring is not None  # checked by measure_performance
    engine = make_engine(target_url)
    try:
        start, stop = Window(first, end, end).bounds()
        found = read_predictions(engine, cfg.scoring.target.table, cfg.name, start, stop)
    finally:
        engine.dispose()
    if found.empty:
        raise NoData(f"{cfg.name}: no predictions in {first}..{end - timedelta(days=1)}: run score first")
    return found


def _judge(
    cfg: ModelConfig,
    as_of: date,
    version: int,
    joined: pd.DataFrame,
    unlabelled: pd.DataFrame,
    calibrations: dict[int, calibration.VersionCalibration | None],
) -> DecayCheck:
    """The champion's decay check: its newest ``check_days`` of realized (and estimated) metric, judged."""
    feedback, metric = cfg.feedback, cfg.policy.primary_metric
    labelled_end = as_of - timedelta(days=feedback.label_delay_days)
    measured = [
        _basis(
            cfg,
            "realized",
            joined,
            version,
            labelled_end,
            pooled(cfg, _newest(joined, version, labelled_end, feedback.check_days)),
        ),
    ]
    stored = calibrations.get(version)
    recent = _newest(unlabelled, version, as_of, feedback.check_days)
    if cfg.task == "binary":
        measured.append(_basis(cfg, "estimated", unlabelled, version, as_of, pooled_estimate(cfg, recent, stored)))
    reference = stored.holdout.get(metric) if stored else None
    notes = (
        []
        if stored
        else [f"v{version} has no stored holdout value (trained before they were stored): only the floor applies"]
    )
    judged = [b for b in measured if b.kind == "realized" or feedback.decay.use_estimate]
    found = [
        line
        for b in judged
        for line in findings(b, metric, cfg.policy.floor, reference, feedback.decay.tolerance, version)
    ]
    if all(b.value is None for b in judged):
        notes.append(
            "no decay check: " + ", ".join(f"no {b.kind} value for {b.first_day}..{b.last_day}" for b in judged)
        )
    moment = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    log = history(cfg)
    decision = confirm_streak(
        log.records(), bool(found), feedback.decay.consecutive_checks, feedback.decay.cooldown_hours, moment, "decay"
    )
    return DecayCheck(
        model=cfg.name,
        champion_version=version,
        checked_at=moment.isoformat(),
        metric=metric,
        floor=cfg.policy.floor,
        reference=finite_or_none(reference) if reference is not None else None,
        tolerance=feedback.decay.tolerance,
        measured=measured,
        findings=found,
        decay=bool(found),
        confirmed=decision.confirmed,
        reason=decision.reason,
        notes=notes,
    )


def _newest(frame: pd.DataFrame, version: int, end: date, days: int) -> pd.DataFrame:
    """``version``'s rows of the ``days`` before ``end``."""
    since = pd.Timestamp(end - timedelta(days=days))
    return frame[(frame["model_version"] == version) & (frame["event_ts"] >= since)]


def _basis(cfg: ModelConfig, kind: str, frame: pd.DataFrame, version: int, end: date, value: float) -> Basis:
    """What one judged value covers: its rows and the first and last day they really fall on."""
    days = cfg.feedback.check_days
    rows = _newest(frame, version, end, days)
    if rows.empty:
        return Basis(kind, None, 0, str(end - timedelta(days=days)), str(end - timedelta(days=1)))
    stamps = pd.to_datetime(rows["event_ts"])
    return Basis(kind, finite_or_none(value), len(rows), str(stamps.min().date()), str(stamps.max().date()))


def _logged(cfg: ModelConfig, check: DecayCheck, first: date) -> DecayCheck:
    """Log a ``performance`` run with its plot, then record the check for the streak and cooldown rules (last, so a
    failure before it leaves no record of a trigger that was never announced).
    """
    import mlflow

    with registry.start_run(
        cfg.name,
        f"performance check {check.checked_at[:10]}",
        {
            "stage": "performance",
            "champion_version": str(check.champion_version),
            "decay": str(check.decay),
            "decay_confirmed": str(check.confirmed),
        },
    ) as run:
        mlflow.log_metrics({f"{b.kind}.{check.metric}": b.value for b in check.measured if b.value is not None})
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "performance_check.json").write_text(json.dumps(check.to_dict(), indent=2, default=str))
            performance_plot(
                store.series(cfg.name, since=first.isoformat()),
                check.metric,
                check.floor,
                check.reference,
                f"{cfg.name}: {check.metric} per day (v{check.champion_version} champion)",
                Path(tmp) / PLOT_ARTIFACT,
            )
            mlflow.log_artifacts(tmp)
    plot = mlflow_artifact_url(run.info.experiment_id, run.info.run_id, PLOT_ARTIFACT)
    history(cfg).append(CheckRecord(datetime.fromisoformat(check.checked_at), check.decay, check.confirmed))
    return replace(check, run_id=run.info.run_id, plot=plot)
