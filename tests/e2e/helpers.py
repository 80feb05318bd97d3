"""Running a DAG for one date with ``dag.test()`` and reading back what happened."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, date, datetime
from typing import Any

RUN_SECONDS = 900
"""A ``dag.test()`` still running after this long fails its test instead of hanging the suite: a human-in-the-loop
task whose answer was lost waits until its deadline, a day away."""


def run_once(dag: Any, day: date, conf: dict[str, Any] | None = None) -> Any:
    """Run ``dag`` for logical date ``day`` with ``dag.test()``; returns the DagRun. Raises TimeoutError after
    ``RUN_SECONDS``.

    The bound is a timer thread that sends SIGUSR1 to the main thread, not ``signal.alarm``: every task that
    ``dag.test()`` runs parses its DAG file under Airflow's import timeout, which sets the same timer and then
    clears it, so an alarm set here would never ring.

    Every declared param is passed, at its default unless ``conf`` sets it: a run's params otherwise carry
    over to the next ``dag.test()`` of the same DAG in this process (a ``dry_run`` would stick).
    """
    run_conf = {name: dag.params[name] for name in dag.params} | (conf or {})

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"dag.test() of {dag.dag_id} for {day} did not finish within {RUN_SECONDS} s")

    previous = signal.signal(signal.SIGUSR1, expired)
    timer = threading.Timer(RUN_SECONDS, signal.pthread_kill, (threading.get_ident(), signal.SIGUSR1))
    timer.daemon = True
    timer.start()
    try:
        return dag.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=UTC), run_conf=run_conf)
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGUSR1, previous)


def asset_events(name: str) -> list[dict[str, Any]]:
    """The ``extra`` of every event of the asset ``name`` in the metadata DB, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == name)
            .order_by(AssetEvent.id)
        )
        return [dict(extra) for (extra,) in rows]


def run_dag(dag: Any, day: date, conf: dict[str, Any] | None = None) -> tuple[str, dict[str, str]]:
    """Run ``dag`` for logical date ``day``; returns the run state and each task's state."""
    run = run_once(dag, day, conf)
    return str(run.state), {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def retrain_runs_created_by_the_scheduler() -> list[str]:
    """Let the scheduler's own run-creation step consume the asset queue (no executor involved)."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import prohibit_commit
    from sqlalchemy import select

    runner = SchedulerJobRunner(job=Job())
    with create_session() as session, prohibit_commit(session) as guard:
        runner._create_dagruns_for_dags(guard, session)
    with create_session() as session:
        rows = session.execute(
            select(DagRun.run_type).where(DagRun.dag_id == "retrain_demo", DagRun.run_type == "asset_triggered")
        )
        return [str(getattr(r, "value", r)) for (r,) in rows]
