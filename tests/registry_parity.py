"""Checks that ``pipelines.registry.mlflow_tables`` reads and writes MLflow's tables exactly as MLflow does, on any
SQL store (used by the SQLite unit tests and the PostgreSQL integration test)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from mlflow import MlflowClient

from pipelines.registry.mlflow_tables import StoredRun, StoredVersion, Tables


def add_versions(client: MlflowClient, name: str, count: int) -> list[int]:
    """A registered model with ``count`` versions, each with a window tag (no artifacts: the registry only)."""
    client.create_registered_model(name)
    created = [
        client.create_model_version(name, f"file:///nowhere/{i}", tags={"window_end": f"2026-03-0{i}", "n": str(i)})
        for i in range(1, count + 1)
    ]
    return [int(mv.version) for mv in created]


def mlflow_alias(client: MlflowClient, name: str, alias: str) -> StoredVersion | None:
    """What MLflow's client says ``alias`` points at, as the tables would say it."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    return StoredVersion(int(mv.version), mv.run_id, dict(mv.tags))


def mlflow_versions(client: MlflowClient, name: str) -> list[StoredVersion]:
    """Every live version of ``name`` as MLflow's client lists it, by number."""
    found = client.search_model_versions(f"name = '{name}'")
    return sorted((StoredVersion(int(mv.version), mv.run_id, dict(mv.tags)) for mv in found), key=lambda v: v[0])


def check_reads(client: MlflowClient, tables: Tables) -> None:
    """Aliases, versions (one deleted) and a missing model read the same through the tables as through MLflow."""
    v1, v2, v3 = add_versions(client, "reads", 3)
    client.set_registered_model_alias("reads", "champion", str(v2))
    client.set_registered_model_alias("reads", "challenger", str(v3))
    client.set_registered_model_alias("reads", "previous-champion", str(v1))
    client.delete_model_version("reads", str(v3))  # MLflow keeps its row (and tags) and drops its aliases
    for alias in ("champion", "challenger", "previous-champion", "nope"):
        assert tables.by_alias("reads", alias) == mlflow_alias(client, "reads", alias), alias
    assert tables.by_alias("missing-model", "champion") is None
    assert sorted(tables.versions("reads")) == mlflow_versions(client, "reads")
    assert {v.version for v in tables.versions("reads")} == {v1, v2}
    mv = client.get_model_version("reads", str(v1))
    assert tables.version("reads", v1) == StoredVersion(v1, mv.run_id, dict(mv.tags))


def check_writes(client: MlflowClient, tables: Tables, url: str) -> None:
    """The same alias and tag moves, made by MLflow on one model and by the tables on another, leave the same rows."""
    for name in ("by-mlflow", "by-tables"):
        add_versions(client, name, 2)
    client.set_registered_model_alias("by-mlflow", "champion", "1")
    client.set_registered_model_alias("by-mlflow", "champion", "2")
    client.set_registered_model_alias("by-mlflow", "previous-champion", "1")
    client.delete_registered_model_alias("by-mlflow", "previous-champion")
    client.delete_registered_model_alias("by-mlflow", "never-set")
    client.set_model_version_tag("by-mlflow", "1", "rolled_back", "2026-03-02 by bob")
    client.set_model_version_tag("by-mlflow", "1", "n", "changed")
    client.set_model_version_tag("by-mlflow", "2", "holdout.roc_auc", "0.8")
    client.delete_model_version_tag("by-mlflow", "2", "window_end")

    tables.set_alias("by-tables", "champion", 1)
    tables.set_alias("by-tables", "champion", 2)
    tables.set_alias("by-tables", "previous-champion", 1)
    tables.delete_alias("by-tables", "previous-champion")
    tables.delete_alias("by-tables", "never-set")
    tables.set_tags("by-tables", 1, {"rolled_back": "2026-03-02 by bob", "n": "changed"})
    tables.set_tags("by-tables", 2, {"holdout.roc_auc": "0.8"})
    tables.delete_tag("by-tables", 2, "window_end")

    assert rows(url, "by-tables") == rows(url, "by-mlflow")
    assert mlflow_alias(client, "by-tables", "champion") == tables.by_alias("by-tables", "champion")
    assert client.get_model_version("by-tables", "1").tags["rolled_back"] == "2026-03-02 by bob"


def rows(url: str, name: str) -> dict[str, list[tuple[Any, ...]]]:
    """The alias and tag rows of model ``name`` as stored, without the name."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            aliases = conn.execute(
                sa.text(
                    "SELECT workspace, alias, version FROM registered_model_aliases WHERE name = :n ORDER BY alias"
                ),
                {"n": name},
            ).all()
            tags = conn.execute(
                sa.text(
                    "SELECT workspace, version, key, value FROM model_version_tags WHERE name = :n ORDER BY version, key"
                ),
                {"n": name},
            ).all()
    finally:
        engine.dispose()
    return {"aliases": [tuple(r) for r in aliases], "tags": [tuple(r) for r in tags]}


def check_latest_run(client: MlflowClient, tables: Tables) -> None:
    """The newest active monitor run of an experiment is the one MLflow's search finds."""
    experiment = client.create_experiment("runs")
    other = client.create_experiment("other")
    older = client.create_run(experiment, start_time=1_000, tags={"stage": "monitor", "drift": "False"})
    client.create_run(experiment, start_time=2_000, tags={"stage": "train"})
    newest = client.create_run(experiment, start_time=3_000, tags={"stage": "monitor", "drift": "True"})
    client.create_run(other, start_time=9_000, tags={"stage": "monitor"})
    deleted = client.create_run(experiment, start_time=4_000, tags={"stage": "monitor"})
    client.delete_run(deleted.info.run_id)

    found = client.search_runs(
        [experiment], "tags.stage = 'monitor'", order_by=["attributes.start_time DESC"], max_results=1
    )[0]
    expected = StoredRun(found.info.run_id, found.info.start_time, dict(found.data.tags))
    assert expected.run_id == newest.info.run_id != older.info.run_id
    assert tables.latest_run("runs", "stage", "monitor") == expected
    assert tables.latest_run("runs", "stage", "score") is None
    assert tables.latest_run("no-such-experiment", "stage", "monitor") is None
