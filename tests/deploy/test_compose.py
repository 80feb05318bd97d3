"""docker-compose.yml: valid against the Compose Specification and wired the way the DAGs need."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

SHARED_SCHEMA = ROOT.parent / "shared" / "schemas" / "compose-spec.json"
VENDORED_SCHEMA = ROOT / "tests" / "schemas" / "compose-spec.json"
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_validates_against_the_compose_spec(compose):
    schema_path = SHARED_SCHEMA if SHARED_SCHEMA.exists() else VENDORED_SCHEMA
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft7Validator(schema).validate(compose)


def test_vendored_schema_matches_the_shared_one():
    if not SHARED_SCHEMA.exists():
        pytest.skip("../shared is not next to this checkout")
    assert VENDORED_SCHEMA.read_bytes() == SHARED_SCHEMA.read_bytes()


def test_every_service_the_dags_need_is_defined_with_a_health_check(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "mlflow", "airflow-init", *AIRFLOW_SERVICES):
        assert name in services, name
    for name in ("postgres", "redis", "mlflow", *AIRFLOW_SERVICES):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert set(compose["volumes"]) >= {"postgres-data", "mlflow-artifacts", "pipeline-state"}


def test_airflow_services_share_one_database_broker_and_registry(compose):
    envs = [compose["services"][name]["environment"] for name in AIRFLOW_SERVICES]
    for key in (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS",
        "MLFLOW_TRACKING_URI",
        "PIPELINES_SOURCE_URL",
    ):
        assert len({env[key] for env in envs}) == 1, key
    env = envs[0]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == "warm_celery.CELERY_CONFIG"  # plugins/warm_celery.py
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert "postgres:5432/mlflow" in " ".join(compose["services"]["mlflow"]["command"])


def test_no_secret_is_committed_in_the_compose_file():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "hooks.slack.com" not in text
    assert "${POSTGRES_PASSWORD" in text and "${AIRFLOW_JWT_SECRET" in text
    example = (ROOT / ".env.example").read_text()
    assert "SLACK" in example and "POSTGRES_PASSWORD" in example


def _option(command: list[str], name: str) -> str:
    """The value of ``--name value`` or ``--name=value`` in a command list."""
    for i, arg in enumerate(command):
        if arg == name:
            return command[i + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in {command}")


def test_the_dask_services_run_the_project_image_and_report_their_health(compose):
    services = compose["services"]
    scheduler, worker = services["dask-scheduler"], services["dask-worker"]
    for dask in (scheduler, worker):
        # the image the Airflow services run (the pipelines package at the same version), without Airflow's entrypoint
        assert (dask["image"], dask["build"]) == (
            services["airflow-worker"]["image"],
            services["airflow-worker"]["build"],
        )
        assert dask["entrypoint"][-1] == "dask"
    assert scheduler["command"][0] == "scheduler" and worker["command"][0] == "worker"
    # each health check asks the HTTP port its service listens on (served without a dashboard)
    for dask, port in ((scheduler, "8787"), (worker, "8789")):
        assert _option(dask["command"], "--dashboard-address") == f":{port}"
        assert dask["healthcheck"]["test"][-1] == f"http://localhost:{port}/health"


def test_airflow_trains_on_the_dask_scheduler_whose_workers_read_the_shared_snapshots(compose):
    services = compose["services"]
    scheduler, worker = services["dask-scheduler"], services["dask-worker"]
    address = f"tcp://dask-scheduler:{_option(scheduler['command'], '--port')}"
    assert worker["command"][1] == address
    assert worker["depends_on"]["dask-scheduler"]["condition"] == "service_healthy"
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["PIPELINES_DASK_SCHEDULER"] == address, name
        # snapshot paths the train task hands over resolve on the worker: the same volume at the same path
        assert f"pipeline-state:{env['PIPELINES_HOME']}" in services[name]["volumes"]
        assert f"pipeline-state:{env['PIPELINES_HOME']}" in worker["volumes"]
    assert worker["environment"]["PIPELINES_HOME"] == services["airflow-worker"]["environment"]["PIPELINES_HOME"]
