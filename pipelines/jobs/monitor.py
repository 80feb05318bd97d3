"""Drift monitoring of a champion: the most recent production window against the reference profile
stored with the champion at training time, judged by the config's policy, logged to MLflow.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import window_frame
from pipelines.data.profile import Profile
from pipelines.data.windows import Window
from pipelines.drift.confirmation import CheckRecord, confirm
from pipelines.drift.history import CheckHistory
from pipelines.drift.stats import DriftReport, drift_report
from pipelines.errors import NoData
from pipelines.model.features import model_frame
from pipelines.model.scoring import score
from pipelines.model.train import PROFILE_ARTIFACT
from pipelines.registry import versions as registry
from pipelines.registry.versions import NoChampion
from pipelines.reports.drift_report import render_html


@dataclass(frozen=True)
class DriftCheck:
    """One monitoring check: the report, whether it confirms drift, and where it was logged.

    ``unseen`` has one line per feature whose values the champion never saw in training (scored as missing).
    """

    model: str
    champion_version: int
    window_start: str
    window_end: str
    checked_at: str
    drift: bool
    confirmed: bool
    reason: str
    drifted: list[str]
    report: dict[str, Any]
    run_id: str | None = None
    unseen: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The check's fields as a plain dict."""
        return asdict(self)

    def event_extra(self) -> dict[str, Any]:
        """What the drift asset event carries to the retrain run: which features moved, by how much, when."""
        moved = {
            name: {k: stats[k] for k in ("psi", "ks", "js", "missing_delta") if stats.get(k) is not None}
            for name, stats in self.report["features"].items()
            if name in self.drifted
        }
        return {
            "model": self.model,
            "champion_version": self.champion_version,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "drifted": self.drifted,
            "statistics": moved,
            "prediction_psi": self.report.get("prediction_psi"),
            "reasons": self.report["reasons"],
            "confirmation": self.reason,
        }


def history(cfg: ModelConfig) -> CheckHistory:
    """The model's drift check records, in the pipeline's database."""
    return CheckHistory(cfg.name)


def load_profile(cfg: ModelConfig, run_id: str | None) -> Profile:
    """The reference profile stored with the champion's training run; NoChampion when there is none."""
    import mlflow
    from mlflow.exceptions import MlflowException

    registry.client()
    missing = f"{cfg.name}: the champion has no reference profile ({PROFILE_ARTIFACT})"
    if run_id is None:
        raise NoChampion(f"{missing}: it has no training run")
    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    except MlflowException as exc:  # an unreachable store is not a missing profile: that propagates
        if not registry.is_absent(exc):
            raise
        raise NoChampion(f"{missing}: {exc}") from exc
    except OSError as exc:
        raise NoChampion(f"{missing}: {exc}") from exc
    return Profile.from_json(text)


def check_drift(
    cfg: ModelConfig, as_of: date, source_url: str, checked_at: datetime | None = None, record: bool = True
) -> DriftCheck:
    """Compare the ``window_days`` before ``as_of`` with the champion's profile; with ``record``, remember
    the check so the consecutive-checks and cooldown rules can see it next time.
    """
    champion = registry.by_alias(cfg.name, registry.CHAMPION)
    if champion is None:
        raise NoChampion(f"{cfg.name}: no champion yet, nothing to monitor")
    profile = load_profile(cfg, champion.run_id)
    window = Window(as_of - timedelta(days=cfg.drift.window_days), as_of, as_of)
    frame = window_frame(cfg, window, source_url)  # binary COPY for PostgreSQL, as ingest
    if frame.empty:
        raise NoData(f"{cfg.name}: no rows in {window.start}..{window.last_day} to check for drift")
    scored = score(registry.load_model(cfg.name, champion.version), frame, cfg)
    report = drift_report(profile, model_frame(frame, cfg), scored.scores, cfg.drift)
    moment = checked_at or datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    log = history(cfg)
    confirmation = confirm(log.records(), report, cfg.drift, moment)
    if record:
        log.append(CheckRecord(moment, report.drift, confirmation.confirmed))
    check = DriftCheck(
        model=cfg.name,
        champion_version=champion.version,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        checked_at=moment.isoformat(),
        drift=report.drift,
        confirmed=confirmation.confirmed,
        reason=confirmation.reason,
        drifted=report.drifted,
        report=report.to_dict(),
        unseen=scored.unseen_lines(),
    )
    return _logged(check, report, profile) if record else check


def _logged(check: DriftCheck, report: DriftReport, profile: Profile) -> DriftCheck:
    """A ``monitor`` run in the model's experiment, tagged with the champion it judged."""
    import mlflow

    with registry.start_run(
        check.model,
        f"drift check {check.window_end}",
        {
            "stage": "monitor",
            "champion_version": str(check.champion_version),
            "drift": str(check.drift),
            "drift_confirmed": str(check.confirmed),
            "drifted": ",".join(check.drifted),
            "window_end": check.window_end,
        },
    ) as run:
        features = check.report["features"]
        mlflow.log_metrics(
            {f"psi.{name}": stats["psi"] for name, stats in features.items() if stats.get("psi") is not None}
            | {f"new_share.{name}": stats["new_share"] for name, stats in features.items() if stats.get("new_share")}
        )
        if report.prediction_psi is not None:
            mlflow.log_metric("prediction_psi", report.prediction_psi)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "drift_report.json").write_text(json.dumps(check.to_dict(), indent=2, default=str))
            (Path(tmp) / "drift_report.html").write_text(
                render_html(
                    report,
                    profile,
                    f"Drift of {check.model} v{check.champion_version}, {check.window_start}..{check.window_end}",
                )
            )
            mlflow.log_artifacts(tmp)
    return DriftCheck(**{**check.to_dict(), "run_id": run.info.run_id})
