"""Fixtures for unit tests that need an MLflow registry.

Creating an MLflow SQLite store runs every Alembic migration (~5 s on this machine). An empty,
migrated store is built once per session and copied into each test's own ``PIPELINES_HOME``: every
test still gets a fresh, private registry (no experiments, no models), at a fraction of the cost.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow SQLite store (never used by a test directly)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    # An explicit client: mlflow.set_tracking_uri() would export MLFLOW_TRACKING_URI to the whole session.
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments()
    client.search_registered_models()
    return path


@pytest.fixture
def registry_home(home: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own state folder with its own empty MLflow store."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_template, home / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    return home
