"""The same DAG path with PostgreSQL as the source warehouse and as the MLflow backend store."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from pipelines.demo.seed import seed
from pipelines.registry import versions as registry
from pipelines.reports.status import status
from tests.e2e.helpers import run_dag

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]


def test_retrain_dag_on_postgres_source_and_registry(dagbag, home, postgres_databases, monkeypatch):
    # Given: demo rows in a PostgreSQL source and an MLflow registry in another PostgreSQL database
    source_url, mlflow_url = postgres_databases(), postgres_databases()
    seed(source_url, date(2026, 1, 1), days=90, rows_per_day=150, seed=3)
    monkeypatch.setenv("PIPELINES_SOURCE_URL", source_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_url)
    dag = dagbag.get_dag("retrain_demo")

    # When: the DAG runs for two consecutive weeks
    first_state, first_tasks = run_dag(dag, date(2026, 3, 20))
    second_state, second_tasks = run_dag(dag, date(2026, 3, 27))

    # Then: both runs succeed and the registry lives in PostgreSQL, with lineage and decisions
    assert first_state == "success", first_tasks
    assert second_state == "success", second_tasks
    versions = registry.all_versions("demo")
    assert [v.window_end for v in versions] == ["2026-03-27", "2026-03-20"]
    engine = sa.create_engine(mlflow_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM model_versions WHERE name = :name"), {"name": "demo"})
        assert stored.scalar_one() == 2
        ledger_rows = conn.execute(sa.text("SELECT count(*) FROM pipelines_promotion_ledger WHERE model = 'demo'"))
        assert ledger_rows.scalar_one() == 2  # the ledger lives in the MLflow backend database
    engine.dispose()
    report = status("demo")
    assert report.champion is not None
    assert report.champion.metrics["roc_auc"] >= 0.70
    assert {e.version for e in report.ledger} == {v.version for v in versions}
    assert not list(home.glob("mlflow.db")), "the embedded MLflow store must not be used"
