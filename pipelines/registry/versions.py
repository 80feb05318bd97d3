"""MLflow tracking and model registry: experiments, versions born with their lineage, aliases.

Every call has a deadline: an HTTP tracking server gets MLflow's own request timeout and retry settings
(unless the environment sets them), and a SQL store is probed once with a connect timeout before MLflow's
own engine, which would otherwise retry for minutes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from pipelines.config import settings
from pipelines.config.settings import connect_args
from pipelines.data.source_errors import first_line, safe_url
from pipelines.errors import PipelinesError

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"
LINEAGE_KEYS = (
    "window_start",
    "holdout_start",
    "window_end",
    "snapshot_hash",
    "snapshot_path",
    "config_hash",
    "code_version",
    "suite",
    "trigger",
    "trigger_cause",
    "airflow_run_id",
    "training_rows",
)
"""Tags every version is created with, in the call that creates it; a version missing one is never used."""
FAILED_TAG = "failed"
ROLLED_BACK_TAG = "rolled_back"
CARD_TAG = "model_card"
"""Version tag naming the decision whose card shows the version: its first judgement, or its promotion."""
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


class NoChampion(PipelinesError, RuntimeError):
    """There is no champion (or it lacks what a step needs), so there is nothing to monitor or score with."""


class StoreUnreachable(PipelinesError, RuntimeError):
    """The MLflow tracking or registry store did not answer in time."""


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version and the lineage and decision tags the pipeline put on it."""

    version: int
    run_id: str | None
    tags: dict[str, str]

    @property
    def window_end(self) -> str | None:
        """The end of the data window the version was trained on, from its tags."""
        return self.tags.get("window_end")

    @property
    def missing_lineage(self) -> list[str]:
        """Lineage tags this version lacks: any at all means it is never reused or promoted."""
        return [key for key in LINEAGE_KEYS if key not in self.tags]

    @property
    def holdout_metrics(self) -> dict[str, float]:
        """The holdout metrics the pipeline tagged the version with, by metric name."""
        return {k.removeprefix("holdout."): float(v) for k, v in self.tags.items() if k.startswith("holdout.")}

    def summary(self) -> dict[str, Any]:
        """The version's window, snapshot, trigger, holdout metrics and decision, for ``status``."""
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
    for name, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    uri = settings.tracking_uri()
    _probe(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@cache
def _probe(uri: str) -> None:
    """Connect once to a SQL store with a deadline; raise ``StoreUnreachable`` in one line when it fails."""
    import sqlalchemy as sa

    if uri.split(":", 1)[0].split("+", 1)[0] not in {"postgresql", "mysql", "mssql"}:
        return
    url = sa.make_url(uri)
    engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args=connect_args(url))
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        detail = first_line(exc.orig or exc)
        raise StoreUnreachable(f"the MLflow store {safe_url(uri)} is unreachable: {detail}") from None
    finally:
        engine.dispose()


def ping() -> None:
    """One cheap call to the registry, so a run fails in seconds, not after its data work, when it is down."""
    client().search_registered_models(max_results=1)


def experiment_id(model: str) -> str:
    """The model's experiment, created with an artifact location under the configured root."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    existing = mlflow_client.get_experiment_by_name(model)
    if existing is not None:
        return str(existing.experiment_id)
    root = settings.artifact_root().rstrip("/")
    try:
        return str(mlflow_client.create_experiment(model, artifact_location=f"{root}/{model}"))
    except MlflowException:  # another process created it first
        created = mlflow_client.get_experiment_by_name(model)
        if created is None:
            raise
        return str(created.experiment_id)


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
    """A registered version of ``model`` with its tags."""
    mv = client().get_model_version(model, str(number))
    return VersionInfo(int(mv.version), mv.run_id, dict(mv.tags))


def by_alias(model: str, alias: str) -> VersionInfo | None:
    """The version an alias points at, or None when the alias (or the model) does not exist.

    Any other failure (an unreachable store) propagates: "no champion" is never a guess.
    """
    from mlflow.exceptions import MlflowException

    try:
        mv = client().get_model_version_by_alias(model, alias)
    except MlflowException as exc:
        if is_absent(exc):
            return None
        raise
    return VersionInfo(int(mv.version), mv.run_id, dict(mv.tags))


def is_absent(exc: Any) -> bool:
    """Whether an MLflow error says the thing asked for does not exist (not that the store failed)."""
    return exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}


def all_versions(model: str) -> list[VersionInfo]:
    """Every version of the model, newest first."""
    found = client().search_model_versions(f"name = '{_quoted(model)}'")
    infos = [VersionInfo(int(mv.version), mv.run_id, dict(mv.tags)) for mv in found]
    return sorted(infos, key=lambda v: v.version, reverse=True)


def find_version(model: str, tags: dict[str, str]) -> VersionInfo | None:
    """The newest version with complete lineage whose tags include all of ``tags``."""
    for info in all_versions(model):
        if not info.missing_lineage and all(info.tags.get(k) == v for k, v in tags.items()):
            return info
    return None


def register(model: str, model_uri: str, lineage: dict[str, str]) -> VersionInfo:
    """A new version of ``model`` created with its whole lineage in the same call (never tagged later)."""
    import mlflow

    missing = [key for key in LINEAGE_KEYS if key not in lineage]
    if missing:
        raise ValueError(f"{model}: a version needs its whole lineage; missing {', '.join(missing)}")
    client()
    created = mlflow.register_model(model_uri, model, tags={k: str(v)[:5000] for k, v in lineage.items()})
    return VersionInfo(int(created.version), created.run_id, dict(created.tags))


def set_tags(model: str, number: int, tags: dict[str, Any]) -> None:
    """Set tags on a version; values that are not strings are stored as JSON (cut at 5000 characters)."""
    mlflow_client = client()
    for key, value in tags.items():
        text = value if isinstance(value, str) else json.dumps(value)
        mlflow_client.set_model_version_tag(model, str(number), key, text[:5000])


def delete_tag(model: str, number: int, key: str) -> None:
    """Remove a tag from a version; a tag that is not there is fine."""
    from mlflow.exceptions import MlflowException

    try:
        client().delete_model_version_tag(model, str(number), key)
    except MlflowException as exc:
        if not is_absent(exc):
            raise


def set_alias(model: str, alias: str, number: int | None) -> None:
    """Point ``alias`` at version ``number``; ``None`` removes the alias."""
    if number is None:
        client().delete_registered_model_alias(model, alias)
    else:
        client().set_registered_model_alias(model, alias, str(number))


def alias_version(model: str, alias: str) -> int | None:
    """The version number ``alias`` points at, or None."""
    info = by_alias(model, alias)
    return info.version if info else None


def mark_failed(model: str, number: int, stage: str, error: BaseException) -> None:
    """Mark a version whose run failed before judgement; a later judgement of it removes the mark."""
    set_tags(model, number, {FAILED_TAG: f"{stage}: {error}"})


def _quoted(value: str) -> str:
    return value.replace("'", "''")
