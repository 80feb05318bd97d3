"""The real stack, started as `make up` starts it (scripts/stack.py): scheduler, dag-processor, api-server
and triggerer against a PostgreSQL metadata DB, MLflow and the source on PostgreSQL too. The api-server and
MLflow listen on 127.0.0.1 only, MLflow refuses writes without its generated admin login, and the DAGs train and
promote through it. Backfills go through the REST API with the CLI; then an older date is backfilled under the
CeleryExecutor with a real worker and Redis. `make down` must leave none of the started processes behind."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import psutil
import pytest
import requests

from pipelines.demo.seed import seed
from pipelines.registry import ledger
from pipelines.registry import versions as registry
from tests.conftest import ROOT

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]

PYTHON = sys.executable
_spec = importlib.util.spec_from_file_location("stack", ROOT / "scripts" / "stack.py")
assert _spec is not None and _spec.loader is not None
stack_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stack_script)
alive = stack_script.alive
members = stack_script.members
free_port = stack_script.free_port


def stack(env: dict[str, str], verb: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, str(ROOT / "scripts" / "stack.py"), verb], env=env, capture_output=True, text=True, timeout=600
    )


def process_groups(home: Path) -> list[int]:
    return [int(p.read_text()) for p in (home / "run").glob("*.pid")]


def pipelines_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "pipelines", *args], env=env, capture_output=True, text=True, timeout=1500)


def test_backfill_and_celery_on_the_real_stack(home, postgres_databases, monkeypatch):
    airflow_db, mlflow_db, source_db = postgres_databases(), postgres_databases(), postgres_databases()
    seed(source_db, date(2026, 1, 1), days=60, rows_per_day=150, seed=3)
    port, mlflow_port = free_port(), free_port()
    env = {
        **os.environ,
        "PIPELINES_HOME": str(home),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW_PORT": str(port),
        "MLFLOW_PORT": str(mlflow_port),
        "MLFLOW_TRACKING_URI": mlflow_db,
        "MLFLOW_REGISTRY_URI": mlflow_db,
        "PIPELINES_SOURCE_URL": source_db,
        "AIRFLOW_API_URL": f"http://localhost:{port}",
        # tasks on a Celery queue of their own: a worker of another stack on the same Redis never takes them
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"live-stack-{uuid.uuid4().hex[:8]}",
    }
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", mlflow_db)
    started: list[int] = []
    try:
        # Given: the stack on PostgreSQL, as `make up` starts it
        up = stack(env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"Airflow UI: http://localhost:{port}  (user admin password" in up.stdout
        mlflow_password = (home / "run" / "mlflow_admin_password").read_text()
        assert f"MLflow UI:  http://localhost:{mlflow_port}  (user admin password {mlflow_password})" in up.stdout
        assert (home / "run" / "mlflow_admin_password").stat().st_mode & 0o777 == 0o600
        started += process_groups(home)
        wait_for_dag(env, "retrain_demo")
        # and by default the LocalExecutor's tasks start with the pipeline's libraries imported
        scheduler_log = (home / "logs" / "airflow-scheduler.log").read_text()
        assert "tasks forked from this executor start warm" in scheduler_log, scheduler_log[-3000:]

        # Then: both servers listen on 127.0.0.1 only; Airflow knows the URL it serves at; MLflow refuses anyone
        # without the admin login, and the Airflow components reach it with that login
        assert listening(port) == listening(mlflow_port) == {"127.0.0.1"}
        mlflow_url = f"http://127.0.0.1:{mlflow_port}/api/2.0/mlflow"
        alias = {"name": "demo", "alias": "champion", "version": "1"}
        assert requests.post(f"{mlflow_url}/registered-models/alias", json=alias, timeout=30).status_code == 401
        search = f"{mlflow_url}/registered-models/search"
        assert requests.get(search, auth=("admin", mlflow_password), timeout=30).status_code == 200
        # and MLflow runs no job runner of its own (GenAI jobs the pipeline never uses)
        mlflow_group = members(int((home / "run" / "mlflow.pid").read_text()))
        assert not [m for m in mlflow_group if "huey" in m or "jobs._job_runner" in m], mlflow_group
        scheduler = process_environment(home, "airflow-scheduler")
        assert scheduler["AIRFLOW__API__BASE_URL"] == f"http://localhost:{port}"
        assert scheduler["MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{mlflow_port}"
        assert (scheduler["MLFLOW_TRACKING_USERNAME"], scheduler["MLFLOW_TRACKING_PASSWORD"]) == (
            "admin",
            mlflow_password,
        )

        # When: a backfill of three dates through the REST API, with the CLI
        result = pipelines_cli(env, "backfill", "--from", "2026-02-25", "--to", "2026-02-27", "--unpause", "--json")

        # Then: one successful run, one snapshot and one version per date; the champion only moves forward
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        runs = json.loads(result.stdout)["runs"]
        assert [(r["day"], r["state"]) for r in runs] == [
            (d, "success") for d in ("2026-02-25", "2026-02-26", "2026-02-27")
        ]
        assert "[3/3]" in result.stderr
        windows = {p.name for p in (home / "snapshots" / "demo").glob("window=*") if any(p.glob("*.json"))}
        backfilled = {"window=2026-01-07_2026-02-25", "window=2026-01-08_2026-02-26", "window=2026-01-09_2026-02-27"}
        assert backfilled <= windows  # unpausing also starts today's scheduled run, which finds no data
        assert sorted(v.window_end for v in registry.all_versions("demo")) == ["2026-02-25", "2026-02-26", "2026-02-27"]
        assert all(v.tags["trigger"] == "backfill" for v in registry.all_versions("demo"))
        champion = registry.by_alias("demo", registry.CHAMPION)
        assert champion is not None

        # When: the same stack restarts under the CeleryExecutor with a worker on the local Redis, and an older
        # date is backfilled there
        down = stack(env, "down")
        assert down.returncode == 0, down.stderr
        celery = {
            **env,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/7",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_db,
        }
        up = stack(celery, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "airflow-celery-worker" in up.stdout
        started += process_groups(home)
        older = pipelines_cli(celery, "backfill", "--from", "2026-02-20", "--to", "2026-02-20", "--json")

        # Then: the run succeeds, executed by the Celery worker
        assert older.returncode == 0, older.stdout + older.stderr[-3000:]
        assert [(r["day"], r["state"]) for r in json.loads(older.stdout)["runs"]] == [("2026-02-20", "success")]
        assert "[1/1] 2026-02-20 success" in older.stderr, older.stderr[-3000:]
        worker_log = (home / "logs" / "airflow-celery-worker.log").read_text()
        assert "retrain_demo" in worker_log
        assert "tasks forked from this worker start warm" in worker_log, worker_log[-3000:]

        # and its model is registered but never replaces the newer champion
        assert registry.by_alias("demo", registry.CHAMPION) == champion
        old = next(v for v in registry.all_versions("demo") if v.window_end == "2026-02-20")
        assert old.tags["decision"] == "blocked" and "older window never replaces" in old.tags["decision_reasons"]
        entries = ledger.entries("demo")
        assert (entries[0].kind, entries[0].version, entries[0].trigger) == ("blocked", old.version, "backfill")
        assert sorted(e.window_end for e in entries if e.kind != "blocked") == [
            "2026-02-25",
            "2026-02-26",
            "2026-02-27",
        ]
    finally:
        down = stack(env, "down")
        started += [pgid for pgid in process_groups(home) if pgid not in started]
        assert {pgid: members(pgid) for pgid in started if alive(pgid)} == {}, "make down left processes behind"
        assert down.returncode == 0, down.stderr


def listening(port: int) -> set[str]:
    """The addresses something listens on at ``port``."""
    return {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port}


def process_environment(home: Path, name: str) -> dict[str, str]:
    """The environment a process group started by stack.py runs with."""
    pgid = int((home / "run" / f"{name}.pid").read_text())
    return dict(psutil.Process(pgid).environ())


def api(env: dict[str, str]) -> tuple[str, dict[str, str]]:
    base = env["AIRFLOW_API_URL"]
    users = json.loads((Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated").read_text())
    token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": users["admin"]}, timeout=30)
    return base, {"Authorization": f"Bearer {token.json()['access_token']}"}


def wait_for_dag(env: dict[str, str], dag_id: str, timeout: float = 300) -> None:
    base, headers = api(env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(f"{base}/api/v2/dags/{dag_id}", headers=headers, timeout=30).status_code == 200:
            return
        time.sleep(3)
    raise AssertionError(f"{dag_id} was not parsed within {timeout} s")
