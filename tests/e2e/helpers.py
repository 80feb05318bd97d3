"""Running a DAG for one date with ``dag.test()`` and reading back what happened."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def run_once(dag: Any, day: date, conf: dict[str, Any] | None = None) -> Any:
    """Run ``dag`` for logical date ``day`` with ``dag.test()``; returns the DagRun.

    Every declared param is passed, at its default unless ``conf`` sets it: a run's params otherwise carry
    over to the next ``dag.test()`` of the same DAG in this process (a ``dry_run`` would stick).
    """
    run_conf = {name: dag.params[name] for name in dag.params} | (conf or {})
    return dag.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=UTC), run_conf=run_conf)


def run_dag(dag: Any, day: date, conf: dict[str, Any] | None = None) -> tuple[str, dict[str, str]]:
    """Run ``dag`` for logical date ``day``; returns the run state and each task's state."""
    run = run_once(dag, day, conf)
    return str(run.state), {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
