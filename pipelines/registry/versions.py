"""MLflow tracking and model registry: experiments, versions born with their lineage, aliases.

On a SQLite or PostgreSQL store, reading versions and aliases and moving aliases and tags go straight to
MLflow's tables (``mlflow_tables``), so the verbs that need nothing else never import MLflow; whatever those
tables cannot answer as MLflow would, and every other store, goes through MLflow's client.

Every call has a deadline: an HTTP tracking server gets MLflow's own request timeout and retry settings
(unless the environment sets them), and a SQL store is connected to with a connect timeout: directly, and
once before MLflow's own engine is used, which would otherwise retry for minutes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from pipelines.config import settings
from pipelines.config.settings import connect_args
from pipelines.data.source_errors import first_line, safe_url
from pipelines.errors import PipelinesError
from pipelines.registry import mlflow_tables
from pipelines.registry.mlflow_tables import StoredRun, StoreUnreachable
from pipelines.registry.version_info import LINEAGE_KEYS, VersionInfo

T = TypeVar("T")

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"
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

    def via_client() -> VersionInfo:
        mv = client().get_model_version(model, str(number))
        return VersionInfo(int(mv.version), mv.run_id, dict(mv.tags))

    return _direct(lambda tables: VersionInfo(*tables.version(model, number)), via_client)


def by_alias(model: str, alias: str) -> VersionInfo | None:
    """The version an alias points at, or None when the alias (or the model) does not exist.

    Any other failure (an unreachable store) propagates: "no champion" is never a guess.
    """

    def via_client() -> VersionInfo | None:
        from mlflow.exceptions import MlflowException

        try:
            mv = client().get_model_version_by_alias(model, alias)
        except MlflowException as exc:
            if is_absent(exc):
                return None
            raise
        return VersionInfo(int(mv.version), mv.run_id, dict(mv.tags))

    def from_tables(tables: mlflow_tables.Tables) -> VersionInfo | None:
        found = tables.by_alias(model, alias)
        return VersionInfo(*found) if found else None

    return _direct(from_tables, via_client)


def is_absent(exc: Any) -> bool:
    """Whether an MLflow error says the thing asked for does not exist (not that the store failed)."""
    return exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}


def all_versions(model: str) -> list[VersionInfo]:
    """Every version of the model, newest first."""

    def via_client() -> list[VersionInfo]:
        found = client().search_model_versions(f"name = '{_quoted(model)}'")
        return [VersionInfo(int(mv.version), mv.run_id, dict(mv.tags)) for mv in found]

    infos = _direct(lambda tables: [VersionInfo(*found) for found in tables.versions(model)], via_client)
    return sorted(infos, key=lambda v: v.version, reverse=True)


def latest_run(model: str, stage: str) -> StoredRun | None:
    """The newest active run tagged ``stage`` in the model's experiment, or None (no such run or experiment)."""

    def via_client() -> StoredRun | None:
        mlflow_client = client()
        experiment = mlflow_client.get_experiment_by_name(model)
        if experiment is None:
            return None
        runs = mlflow_client.search_runs(
            [experiment.experiment_id],
            f"tags.stage = '{_quoted(stage)}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return StoredRun(runs[0].info.run_id, runs[0].info.start_time, dict(runs[0].data.tags)) if runs else None

    return _direct(lambda tables: tables.latest_run(model, "stage", stage), via_client)


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
    texts = {key: (value if isinstance(value, str) else json.dumps(value))[:5000] for key, value in tags.items()}

    def via_client() -> None:
        mlflow_client = client()
        for key, text in texts.items():
            mlflow_client.set_model_version_tag(model, str(number), key, text)

    _direct(lambda tables: tables.set_tags(model, number, texts), via_client)


def delete_tag(model: str, number: int, key: str) -> None:
    """Remove a tag from a version; a tag that is not there is fine."""

    def via_client() -> None:
        from mlflow.exceptions import MlflowException

        try:
            client().delete_model_version_tag(model, str(number), key)
        except MlflowException as exc:
            if not is_absent(exc):
                raise

    _direct(lambda tables: tables.delete_tag(model, number, key), via_client)


def set_alias(model: str, alias: str, number: int | None) -> None:
    """Point ``alias`` at version ``number``; ``None`` removes the alias."""
    if number is None:
        _direct(
            lambda tables: tables.delete_alias(model, alias),
            lambda: client().delete_registered_model_alias(model, alias),
        )
    else:
        _direct(
            lambda tables: tables.set_alias(model, alias, number),
            lambda: client().set_registered_model_alias(model, alias, str(number)),
        )


def alias_version(model: str, alias: str) -> int | None:
    """The version number ``alias`` points at, or None."""
    info = by_alias(model, alias)
    return info.version if info else None


def mark_failed(model: str, number: int, stage: str, error: BaseException) -> None:
    """Mark a version whose run failed before judgement; a later judgement of it removes the mark."""
    set_tags(model, number, {FAILED_TAG: f"{stage}: {error}"})


def _direct(on_tables: Callable[[mlflow_tables.Tables], T], via_client: Callable[[], T]) -> T:
    """``on_tables`` on MLflow's tables when the store is SQLite or PostgreSQL and they can answer, else
    ``via_client`` (MLflow's client, which answers or fails as MLflow does).
    """
    tables = mlflow_tables.for_uri(settings.tracking_uri())
    if tables is not None:
        try:
            return on_tables(tables)
        except mlflow_tables.Unanswered:
            pass
    return via_client()


def _quoted(value: str) -> str:
    return value.replace("'", "''")
