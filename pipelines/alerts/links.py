"""Links in alerts: pages of Airflow's UI (a task's log, its approval request), MLflow artifacts and Data Docs."""

from __future__ import annotations

import os
from urllib.parse import quote

from pipelines.config import settings

DEFAULT_AIRFLOW_PORT = 8080


def airflow_ui_url(base_url: str | None = None, port: object = None) -> str:
    """Airflow's UI root for links: ``[api] base_url`` when set (path kept), else ``http://localhost:<port>``
    with ``[api] port`` (the README's 8080 when nothing is configured).
    """
    base = (base_url or "").strip().rstrip("/")
    return base or f"http://localhost:{str(port or '').strip() or DEFAULT_AIRFLOW_PORT}"


def task_log_url(root: str, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 0) -> str:
    """A task instance's page (its log) in Airflow's UI under ``root``."""
    mapped = f"/mapped/{map_index}" if map_index >= 0 else ""
    tried = f"?try_number={try_number}" if try_number > 0 else ""
    return f"{_task_path(root, dag_id, run_id, task_id)}{mapped}{tried}"


def required_actions_url(root: str, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """Where a human answers a task's approval request in Airflow's UI under ``root``."""
    return f"{_task_path(root, dag_id, run_id, task_id)}/required_actions?map_index={map_index}"


def _task_path(root: str, dag_id: str, run_id: str, task_id: str) -> str:
    parts = ("dags", dag_id, "runs", run_id, "tasks", task_id)
    return root.rstrip("/") + "/" + "/".join(quote(str(part), safe="") for part in parts)


def docs_link(path: str | None) -> str | None:
    """A Data Docs page as a link: on the Models page when Airflow's base URL is known (``AIRFLOW__API__BASE_URL``),
    else under ``PIPELINES_DOCS_BASE_URL`` when the state folder is served, else the ``file://`` path.
    """
    from pipelines.reports.models_page import docs_url

    if not path:
        return None
    airflow = os.environ.get("AIRFLOW__API__BASE_URL", "").strip()
    page = docs_url(f"{airflow_ui_url(airflow)}/models", path) if airflow else None
    if page:
        return page
    base = os.environ.get("PIPELINES_DOCS_BASE_URL", "").rstrip("/")
    local_root = settings.home().as_uri()
    return f"{base}{path.removeprefix(local_root)}" if base and path.startswith(local_root) else path


def mlflow_artifact_url(experiment_id: str, run_id: str, artifact: str) -> str:
    """An artifact's page in MLflow's UI (``MLFLOW_UI_URL``, default ``http://localhost:5000``)."""
    root = os.environ.get("MLFLOW_UI_URL", "http://localhost:5000").rstrip("/")
    parts = "/".join(quote(str(part), safe="") for part in (experiment_id, "runs", run_id, "artifacts"))
    return f"{root}/#/experiments/{parts}/{quote(artifact)}"
