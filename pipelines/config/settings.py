"""Where generated state lives and which stores the pipeline talks to.

Everything generated (SQLite files, MLflow store, snapshots, Airflow home) sits under one folder:
``$PIPELINES_HOME`` or ``.local/`` in the project root.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def home() -> Path:
    """The state folder, created on first use."""
    path = Path(os.environ.get("PIPELINES_HOME") or PROJECT_ROOT / ".local").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def configs_dir() -> Path:
    """Folder of model configs (one YAML per model)."""
    return Path(os.environ.get("PIPELINES_CONFIGS_DIR") or PROJECT_ROOT / "configs")


def expectations_dir() -> Path:
    """Folder of GX suites (one JSON per dataset)."""
    return Path(os.environ.get("PIPELINES_EXPECTATIONS_DIR") or PROJECT_ROOT / "expectations")


def snapshots_dir() -> Path:
    """Folder of the parquet snapshots, under the state folder; also where a snapshot's gate results and Data
    Docs are written when the snapshots themselves live at ``snapshot_url()``.
    """
    return home() / "snapshots"


def snapshot_url() -> str | None:
    """``PIPELINES_SNAPSHOT_URL``: an fsspec URL (``s3://bucket/snapshots``, ``file:///srv/snapshots``) where
    snapshots are written instead of ``snapshots_dir()``; None when unset.
    """
    return os.environ.get("PIPELINES_SNAPSHOT_URL", "").strip() or None


def tracking_uri() -> str:
    """MLflow tracking and registry store: ``MLFLOW_TRACKING_URI`` or a SQLite file in the state folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home() / 'mlflow.db'}"


def artifact_root() -> str:
    """Where MLflow stores artifacts of new experiments: ``PIPELINES_ARTIFACT_ROOT`` or the state folder."""
    return os.environ.get("PIPELINES_ARTIFACT_ROOT") or (home() / "mlartifacts").as_uri()


def db_connect_timeout() -> float:
    """Seconds any database connection may take: ``PIPELINES_DB_CONNECT_TIMEOUT``, default 10."""
    return float(os.environ.get("PIPELINES_DB_CONNECT_TIMEOUT") or 10)


def connect_timeout_seconds() -> int:
    """``db_connect_timeout`` as the whole seconds (at least 1) that libpq's ``connect_timeout`` takes."""
    return max(int(db_connect_timeout()), 1)


def connect_args(database_url: str | sa.URL) -> dict[str, Any]:
    """Driver arguments that bound the wait for a connection (PostgreSQL, MySQL) or a lock (SQLite)."""
    import sqlalchemy as sa

    backend = sa.make_url(database_url).get_backend_name()
    if backend in {"postgresql", "mysql"}:
        return {"connect_timeout": connect_timeout_seconds()}
    if backend == "sqlite":
        return {"timeout": 30}
    return {}


@cache
def code_version() -> str:
    """The git commit of the running code (``PIPELINES_CODE_VERSION`` overrides), ``-dirty`` when modified."""
    if os.environ.get("PIPELINES_CODE_VERSION"):
        return os.environ["PIPELINES_CODE_VERSION"]
    try:
        sha = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=10)
    return out.stdout.strip()
