"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def retrain_unpaused() -> Iterator[Callable[[], None]]:
    """Asset events only queue runs of unpaused DAGs, as in a live deployment; afterwards the DAG is paused
    again and the runs the asset created are deleted, so later tests see the session's DB as before."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete, update

    def paused(value: bool) -> None:
        with create_session() as session:
            session.execute(update(DagModel).where(DagModel.dag_id == "retrain_demo").values(is_paused=value))

    yield lambda: paused(False)
    paused(True)
    with create_session() as session:
        session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == "retrain_demo"))
        session.execute(delete(DagRun).where(DagRun.dag_id == "retrain_demo", DagRun.run_type == "asset_triggered"))
