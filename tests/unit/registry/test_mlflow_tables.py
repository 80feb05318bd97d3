"""MLflow's tables read and written directly (``mlflow_tables``), checked against MLflow's own client on a SQLite
store; whatever they cannot answer goes to MLflow, which answers or fails as it always did."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipelines.registry import mlflow_tables
from pipelines.registry import versions as registry
from pipelines.registry.mlflow_tables import StoreUnreachable, Tables, Unanswered
from tests.registry_parity import add_versions, check_latest_run, check_reads, check_writes


@pytest.fixture
def store(registry_home: Path) -> tuple[MlflowClient, Tables, str]:
    """MLflow's client and the tables, on this test's own migrated SQLite store."""
    url = f"sqlite:///{registry_home / 'mlflow.db'}"
    tables = mlflow_tables.for_uri(url)
    assert tables is not None
    return MlflowClient(tracking_uri=url, registry_uri=url), tables, url


def test_reads_match_mlflow(store: tuple[MlflowClient, Tables, str]) -> None:
    client, tables, _ = store
    check_reads(client, tables)


def test_writes_leave_the_rows_mlflow_leaves(store: tuple[MlflowClient, Tables, str]) -> None:
    client, tables, url = store
    check_writes(client, tables, url)


def test_the_latest_run_is_the_one_mlflow_finds(store: tuple[MlflowClient, Tables, str]) -> None:
    client, tables, _ = store
    check_latest_run(client, tables)


def test_what_the_tables_cannot_answer_goes_to_mlflow_and_fails_as_before(
    store: tuple[MlflowClient, Tables, str],
) -> None:
    client, tables, _ = store
    add_versions(client, "demo", 2)
    client.delete_model_version("demo", "2")
    # a version that is missing or deleted: MLflow words the error
    for number in (2, 9):
        with pytest.raises(Unanswered):
            tables.version("demo", number)
        with pytest.raises(Unanswered):
            tables.set_alias("demo", "champion", number)
        with pytest.raises(MlflowException) as missing:
            registry.version("demo", number)
        assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        with pytest.raises(MlflowException) as refused:
            registry.set_alias("demo", registry.CHAMPION, number)
        assert refused.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(Unanswered):
        tables.delete_alias("missing-model", "champion")
    # a name MLflow refuses is never written behind its back
    for key in ("a/../b", "bad key!", "/abs", ".hidden"):
        with pytest.raises(Unanswered):
            tables.set_tags("demo", 1, {key: "x"})
    with pytest.raises(MlflowException, match="Invalid value"):
        registry.set_tags("demo", 1, {"bad key!": "x"})
    for alias in ("latest", "v3", "Champion"):
        with pytest.raises(Unanswered):
            tables.set_alias("demo", alias, 1)
    assert client.get_model_version("demo", "1").tags == {"window_end": "2026-03-01", "n": "1"}
    assert registry.all_versions("demo")[0].version == 1


def test_tables_mlflow_has_not_laid_out_are_unanswered(tmp_path: Path) -> None:
    empty = mlflow_tables.for_uri(f"sqlite:///{tmp_path / 'empty.db'}")
    assert empty is not None
    with pytest.raises(Unanswered):
        empty.by_alias("demo", "champion")
    with pytest.raises(Unanswered):
        empty.set_tags("demo", 1, {"decision": "x"})


def test_only_sqlite_and_postgresql_stores_without_workspaces_are_used_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for uri in ("http://127.0.0.1:5000", "file:///tmp/mlruns", "mysql://u@h/db", "databricks"):
        assert mlflow_tables.for_uri(uri) is None, uri
    assert mlflow_tables.for_uri("postgresql+psycopg2://u@h/db") is not None
    assert mlflow_tables.for_uri("sqlite:///x.db") is not None
    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    assert mlflow_tables.for_uri("sqlite:///x.db") is None


def test_an_unreachable_postgresql_store_is_one_line_within_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    uri = f"postgresql+psycopg2://postgres:secret@127.0.0.1:{closed}/mlflow"
    tables = mlflow_tables.for_uri(uri)
    assert tables is not None
    start = time.monotonic()
    with pytest.raises(StoreUnreachable) as info:
        tables.by_alias("demo", "champion")
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert message.startswith("the MLflow store postgresql+psycopg2://postgres:***@127.0.0.1:")
    assert "\n" not in message and "secret" not in message
