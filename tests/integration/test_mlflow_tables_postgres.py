"""MLflow's tables read and written directly (``mlflow_tables``) on a PostgreSQL MLflow store, checked against
MLflow's own client there."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from pipelines.registry import mlflow_tables
from tests.registry_parity import check_latest_run, check_reads, check_writes


@pytest.mark.postgres
def test_reads_and_writes_match_mlflow_on_postgresql(postgres_db: str) -> None:
    client = MlflowClient(tracking_uri=postgres_db, registry_uri=postgres_db)
    client.search_registered_models()  # MLflow lays out its tables
    tables = mlflow_tables.for_uri(postgres_db)
    assert tables is not None
    check_reads(client, tables)
    check_writes(client, tables, postgres_db)
    check_latest_run(client, tables)
