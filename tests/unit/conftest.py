"""Fixtures for unit tests that need an MLflow registry or a trained model.

Three costs dominate on this machine: creating an MLflow SQLite store (every Alembic migration, ~5 s),
training + logging a model (several seconds, far more under load) and seeding the demo source (~1 s).
Each is paid once per session:

- ``seeded_source`` (overrides the top-level fixture of the same name and contract): the test's own
  ``source.db``, a copy of the demo table seeded once per session with the same arguments;
- ``mlflow_template``: an empty, migrated store, copied into each test's own ``PIPELINES_HOME`` by
  ``registry_home``, so every test still gets a fresh, private registry (no experiments, no models);
- ``trained_model``: the folder of one model trained by ``pipelines.train`` on the seeded demo data as of
  2026-03-01, in a throw-away home of its own. Tests register it (read-only) as versions of their own
  registry with ``register_trained``. Tests about training itself call ``train`` in their own home.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

SEED_ARGS = {"start": date(2026, 1, 1), "days": 90, "rows_per_day": 150, "seed": 3}  # as tests/conftest.py
TRAINED_AS_OF = date(2026, 3, 1)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo table 2026-01-01 .. 2026-03-31, 150 rows a day, in a SQLite file (never used directly)."""
    from pipelines.seed import seed

    path = tmp_path_factory.mktemp("seeded-source") / "source.db"
    seed(f"sqlite:///{path}", **SEED_ARGS)
    return path


@pytest.fixture
def seeded_source(home: Path, seeded_db: Path) -> str:
    """A SQLite source of this test's own holding the demo table: 2026-01-01 .. 2026-03-31, 150 rows a day."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seeded_db, home / "source.db")
    return f"sqlite:///{home / 'source.db'}"


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
    # mlflow.set_tracking_uri()/set_registry_uri() export these; pin both so no store leaks into the next test.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{home / 'mlflow.db'}")
    return home


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path, seeded_db: Path) -> Path:
    """A demo model trained once by ``pipelines.train``, exported as a plain MLflow model folder."""
    import mlflow

    from pipelines.config import load_model
    from pipelines.ingest import ingest
    from pipelines.train import train

    root = tmp_path_factory.mktemp("trained-model")
    home = root / "home"
    home.mkdir()
    shutil.copyfile(mlflow_template, home / "mlflow.db")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PIPELINES_HOME", str(home))
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        env.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{home / 'mlflow.db'}")
        cfg = load_model("demo")
        result = train(cfg, ingest(cfg, TRAINED_AS_OF, f"sqlite:///{seeded_db}"))
        folder = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{cfg.name}/{result.version}", dst_path=str(root / "model")
        )
    return Path(folder)


@pytest.fixture
def register_trained(registry_home: Path, trained_model: Path) -> Callable[..., int]:
    """Register the session's trained model as a new version of ``demo`` in this test's registry.

    Each call adds a version (no training) born with the whole lineage of the model's training window,
    unless keyword ``tags`` override some of it; it returns the version number.
    """
    from pipelines import registry

    def register(**tags: str) -> int:
        client = registry.client()
        if not client.search_registered_models(filter_string="name = 'demo'"):
            client.create_registered_model("demo")
        lineage = {key: "" for key in registry.LINEAGE_KEYS} | {
            "window_start": "2026-01-11",
            "holdout_start": "2026-02-22",
            "window_end": "2026-03-01",
            "trigger": "manual",
        }
        created = client.create_model_version("demo", trained_model.as_uri(), tags={**lineage, **tags})
        return int(created.version)

    return register
