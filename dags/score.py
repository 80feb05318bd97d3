"""``score_<model>`` for every config with a ``scoring`` section: score_window >> measure_performance >>
trigger_retrain.

``score_window`` writes the champion's predictions for the days before the run's date into the predictions table
(re-running a date replaces exactly its rows). ``measure_performance`` measures the predictions whose labels
have arrived (realized) and estimates the newer ones (CBPE), stores both and checks the champion for decay.
``trigger_retrain`` emits the model's performance asset event, which schedules ``retrain_<model>``, only when
the config's policy confirms decay (consecutive checks, cooldown); otherwise it is skipped.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _common import announce, as_of, predictions_url, source_url, start_date
from airflow.sdk import DAG, Asset, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable
from slack_alerts import SlackAlertNotifier

from pipelines.config.loading import load_all
from pipelines.config.model import ModelConfig
from pipelines.jobs import steps


def build_score_dag(cfg: ModelConfig) -> DAG:
    """One scoring and performance DAG for one model config with a ``scoring`` section."""
    assert cfg.scoring is not None
    asset = Asset(name=cfg.performance_asset)
    feedback = cfg.feedback

    @dag(
        dag_id=f"score_{cfg.name}",
        description=f"Score {cfg.name} with its champion, measure how it performs, retrain on decay",
        schedule=CronTriggerTimetable(cfg.scoring.cron, timezone="UTC") if cfg.scoring.cron else None,
        start_date=start_date(cfg),
        catchup=False,
        max_active_runs=1,
        tags=["score", cfg.name],
        default_args={
            "start_date": start_date(cfg),
            "owner": cfg.owner,
            "retries": 2,
            "retry_delay": timedelta(minutes=2),
            "on_failure_callback": SlackAlertNotifier(top_n=cfg.quality.alert_top_n),
        },
        doc_md=f"""
### Scoring and performance of `{cfg.name}`
Runs `{cfg.scoring.cron or "by hand only"}` (UTC). `score` writes the champion's scores of the
{cfg.scoring.window_days} day(s) before the run's date into `{cfg.scoring.target.table}`, in batches of
{cfg.scoring.batch_rows} rows; re-running a date replaces exactly its rows.

`measure_performance` computes the realized metrics of the days whose labels are in (older than
{feedback.label_delay_days} days) and CBPE estimates for the newer ones, per day, version and slice. Decay: the
champion's {cfg.policy.primary_metric} over the newest {feedback.check_days} labelled days below the floor
({cfg.policy.floor}) or more than {feedback.decay.tolerance} below its own holdout value, in
{feedback.decay.consecutive_checks} checks in a row, at most once per {feedback.decay.cooldown_hours} h; then
the asset `{cfg.performance_asset}` gets an event and `retrain_{cfg.name}` runs. Each check is logged to MLflow
as a `performance` run with its plot.
""",
    )
    def score() -> None:
        @task
        def score_window() -> dict[str, Any]:
            context = get_current_context()
            scored = steps.score(
                cfg, as_of(context), source_url(cfg, cfg.scored_source), context["run_id"], predictions_url(cfg)
            )
            return scored.to_dict()

        @task
        def measure_performance(scored: dict[str, Any]) -> dict[str, Any]:
            labels = source_url(cfg, feedback.labels) if feedback.labels else None
            source, day = source_url(cfg, cfg.scored_source), as_of(get_current_context())
            check = steps.measure_performance(cfg, day, source, predictions_url(cfg), labels)
            return {**check.to_dict(), "event_extra": check.event_extra()}

        @task(outlets=[asset])
        def trigger_retrain(check: dict[str, Any]) -> None:
            announce(cfg, asset, check, get_current_context())

        trigger_retrain(measure_performance(score_window()))

    return score()


for _cfg in load_all():
    if _cfg.scoring is not None:
        globals()[f"score_{_cfg.name}"] = build_score_dag(_cfg)
