"""Shared fixtures. Every test gets its own state folder; nothing touches the developer's ``.local/``.

Airflow reads its settings when first imported, so its environment is fixed here, at collection time,
for the whole session: a throw-away AIRFLOW_HOME with a SQLite metadata database.

Three costs dominate on this machine: creating an MLflow SQLite store (every Alembic migration, ~5 s),
training + logging a model (several seconds, far more under load) and seeding the demo source (~1 s).
Each is paid once per session:

- ``seeded_source``: the test's own ``source.db``, a copy of the demo table seeded once per session;
- ``mlflow_template``: an empty, migrated store, copied into each test's own ``PIPELINES_HOME`` by
  ``registry_home``, so every test still gets a fresh, private registry (no experiments, no models);
- ``trained_model``: the folder of one model trained by ``pipelines.model.train`` on the seeded demo data as of
  2026-03-01, in a throw-away home of its own. Tests register it (read-only) as versions of their own
  registry with ``register_trained``. Tests about training itself call ``train`` in their own home.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from tests.webhook_server import WebhookServer

ROOT = Path(__file__).resolve().parent.parent
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="pipelines-tests-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(_SESSION_DIR / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PIPELINES_HOME": str(_SESSION_DIR / "home"),
        "GX_ANALYTICS_ENABLED": "False",
        "PIPELINES_CODE_VERSION": "test",
    }
)
# Airflow's dag-processor and task runner put the DAG bundle's folder on sys.path (dags/_common.py is imported
# by name); a plain DagBag in this process does not, so the tests do it once. Airflow appends the plugins folder
# when first imported; appending it here too keeps it there even when that import happens inside a test whose
# monkeypatch later restores sys.path (which made DAG parsing fail on `import approval_gate`, by test order).
sys.path.extend([str(ROOT / "dags"), str(ROOT / "plugins")])
for _name in (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "SLACK_WEBHOOK_URL",
    "AIRFLOW_CONN_SLACK_DEFAULT",
    "PIPELINES_DOCS_BASE_URL",
    "PIPELINES_SOURCE_URL",
    "PIPELINES_ARTIFACT_ROOT",
    "PIPELINES_CONFIGS_DIR",
    "PIPELINES_EXPECTATIONS_DIR",
):
    os.environ.pop(_name, None)

POSTGRES_ADMIN_URL = os.environ.get("PIPELINES_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state folder (snapshots, MLflow store, GX context) for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("PIPELINES_HOME", str(path))
    # mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI; pin it per test so no store leaks into the next.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{path / 'mlflow.db'}")
    return path


@pytest.fixture
def demo_cfg():
    from pipelines.config.loading import load_model

    return load_model("demo")


SEED_ARGS = {"start": date(2026, 1, 1), "days": 90, "rows_per_day": 150, "seed": 3}
TRAINED_AS_OF = date(2026, 3, 1)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo table 2026-01-01 .. 2026-03-31, 150 rows a day, in a SQLite file (never used directly)."""
    from pipelines.demo.seed import seed

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
def registry_home(home: Path, mlflow_template: Path) -> Iterator[Path]:
    """The test's own state folder with its own empty MLflow store (a copy: creating one runs MLflow's ~100
    migrations, seconds per test)."""
    with in_home(home, mlflow_template):
        yield home


@contextmanager
def in_home(home: Path, mlflow_template: Path) -> Iterator[None]:
    """While the block runs, ``home`` (made, with a copy of the empty MLflow store) is the state folder and its
    store the tracking and registry store (pinned both: mlflow.set_tracking_uri() and set_registry_uri() export
    them, so no store leaks into the next test)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_template, home / "mlflow.db")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PIPELINES_HOME", str(home))
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        env.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{home / 'mlflow.db'}")
        yield


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path, seeded_db: Path) -> Path:
    """A demo model trained once by ``pipelines.train``, exported as a plain MLflow model folder."""
    import mlflow

    from pipelines.config.loading import load_model
    from pipelines.data.ingest import ingest
    from pipelines.model.train import train

    root = tmp_path_factory.mktemp("trained-model")
    with in_home(root / "home", mlflow_template):
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
    from pipelines.registry import versions as registry

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


@pytest.fixture
def postgres_databases() -> Iterator[Callable[[], str]]:
    """Makes databases of their own on the local PostgreSQL server; all are dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def create() -> str:
        name = f"pipelines_test_{uuid.uuid4().hex[:10]}"
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as exc:
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is needed for this test: {exc}")
        created.append(name)
        return sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    try:
        yield create
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_db(postgres_databases: Callable[[], str]) -> str:
    """One database of its own on the local PostgreSQL server, dropped afterwards."""
    return postgres_databases()


@pytest.fixture
def slack() -> Iterator[WebhookServer]:
    """A webhook server on 127.0.0.1 for this test."""
    with WebhookServer() as server:
        yield server


@pytest.fixture
def slack_connection(slack: WebhookServer, monkeypatch: pytest.MonkeyPatch) -> WebhookServer:
    """The Airflow connection ``slack_default`` and ``SLACK_WEBHOOK_URL`` both pointing at the test server."""
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps({"conn_type": "http", "password": slack.url}))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    return slack


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database for the session."""
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    result = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home


@pytest.fixture(scope="session")
def dagbag(airflow_db: Path):
    """One DagBag for the whole session."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


_LEVELS = {"unit": "unit", "integration": "integration", "e2e": "e2e", "dags": "e2e", "deploy": "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its level (unit, integration, e2e) from the folder it is in: ``-m unit`` and so on.

    End-to-end tests are not measured for coverage (``no_cover``): they spend their time in Airflow, whose every
    call coverage's tracer would slow, and the 85% floor holds on the unit and integration tests alone.
    """
    for item in items:
        level = _LEVELS.get(item.path.relative_to(ROOT / "tests").parts[0])
        if level is not None:
            item.add_marker(level)
        if level == "e2e":
            item.add_marker(pytest.mark.no_cover)
