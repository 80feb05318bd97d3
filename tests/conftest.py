"""Shared fixtures. Every test gets its own state folder; nothing touches the developer's ``.local/``.

Airflow reads its settings when first imported, so its environment is fixed here, at collection time,
for the whole session: a throw-away AIRFLOW_HOME with a SQLite metadata database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
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
def demo_cfg():  # noqa: ANN201
    from pipelines.config import load_model

    return load_model("demo")


@pytest.fixture
def seeded_source(home: Path) -> str:
    """A SQLite source holding the demo table: 2026-01-01 .. 2026-03-31, 150 rows a day."""
    from pipelines.seed import seed

    url = f"sqlite:///{home / 'source.db'}"
    seed(url, date(2026, 1, 1), days=90, rows_per_day=150, seed=3)
    return url


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
def dagbag(airflow_db: Path):  # noqa: ANN201
    """One DagBag for the whole session."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))
