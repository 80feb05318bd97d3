"""MLflow tracking and model registry: experiments, aliases, lineage tags and the promotion lock."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pipelines import settings

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version and the lineage and decision tags the pipeline put on it."""

    version: int
    run_id: str | None
    tags: dict[str, str]

    @property
    def window_end(self) -> str | None:
        return self.tags.get("window_end")

    @property
    def holdout_metrics(self) -> dict[str, float]:
        return {k.removeprefix("holdout."): float(v) for k, v in self.tags.items() if k.startswith("holdout.")}

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "window_start": self.tags.get("window_start"),
            "window_end": self.window_end,
            "snapshot_hash": self.tags.get("snapshot_hash"),
            "trigger": self.tags.get("trigger"),
            "metrics": self.holdout_metrics,
            "decision": self.tags.get("decision"),
        }


def client() -> Any:
    """An MLflow client on the configured tracking and registry store."""
    import mlflow
    from mlflow import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(settings.tracking_uri())
    mlflow.set_registry_uri(settings.tracking_uri())
    return MlflowClient(tracking_uri=settings.tracking_uri(), registry_uri=settings.tracking_uri())


def experiment_id(model: str) -> str:
    """The model's experiment, created with an artifact location under the configured root."""
    mlflow_client = client()
    existing = mlflow_client.get_experiment_by_name(model)
    if existing is not None:
        return str(existing.experiment_id)
    root = settings.artifact_root().rstrip("/")
    return str(mlflow_client.create_experiment(model, artifact_location=f"{root}/{model}"))


@contextmanager
def start_run(model: str, run_name: str, tags: dict[str, str] | None = None) -> Iterator[Any]:
    """An MLflow run in the model's experiment (train, evaluate and monitor runs all live there)."""
    import mlflow

    client()
    with mlflow.start_run(experiment_id=experiment_id(model), run_name=run_name, tags=tags) as run:
        yield run


def load_model(model: str, number: int) -> Any:
    """A registered version as the XGBoost estimator it was logged as."""
    import mlflow

    client()
    return mlflow.xgboost.load_model(f"models:/{model}/{number}")


def version(model: str, number: int) -> VersionInfo:
    mv = client().get_model_version(model, str(number))
    return VersionInfo(int(mv.version), mv.run_id, dict(mv.tags))


def by_alias(model: str, alias: str) -> VersionInfo | None:
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client().get_model_version_by_alias(model, alias)
    except MlflowException:
        return None
    return VersionInfo(int(mv.version), mv.run_id, dict(mv.tags))


def all_versions(model: str) -> list[VersionInfo]:
    """Every version of the model, newest first."""
    found = client().search_model_versions(f"name = '{_quoted(model)}'")
    infos = [VersionInfo(int(mv.version), mv.run_id, dict(mv.tags)) for mv in found]
    return sorted(infos, key=lambda v: v.version, reverse=True)


def find_version(model: str, tags: dict[str, str]) -> VersionInfo | None:
    """The newest version whose tags include all of ``tags``."""
    for info in all_versions(model):
        if all(info.tags.get(k) == v for k, v in tags.items()):
            return info
    return None


def set_tags(model: str, number: int, tags: dict[str, Any]) -> None:
    mlflow_client = client()
    for key, value in tags.items():
        text = value if isinstance(value, str) else json.dumps(value)
        mlflow_client.set_model_version_tag(model, str(number), key, text[:5000])


def set_alias(model: str, alias: str, number: int) -> None:
    client().set_registered_model_alias(model, alias, str(number))


@contextmanager
def promotion_lock(model: str) -> Iterator[None]:
    """Serialise alias moves of one model across processes on this machine."""
    path = settings.home() / "locks" / f"{model}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _quoted(value: str) -> str:
    return value.replace("'", "''")
