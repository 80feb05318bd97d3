"""Engine dask on a LocalCluster of two worker processes: the rows, splits, profile and decisions of the local
engine, a model as good within XGBoost's distributed approximation, and one-line errors without a cluster."""

from __future__ import annotations

import re
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config.loading import load_model
from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest
from pipelines.data.profile import build_profile
from pipelines.data.row_groups import ROW
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_reader import load
from pipelines.errors import PipelinesError
from pipelines.jobs.retrain import retrain
from pipelines.model import dask_engine, streamed_engine
from pipelines.model.dask_cluster import SCHEDULER_ENV, TIMEOUT_ENV, DaskEngineError, connected
from pipelines.model.dask_scoring import score_holdout
from pipelines.model.dask_split import HOLDOUT, TRAIN, VALIDATION, plan_split, read_snapshot
from pipelines.model.estimators import predict
from pipelines.model.features import labels, model_frame, split
from pipelines.model.metrics import roc_auc
from pipelines.model.scoring import score, trained_categories
from pipelines.registry import versions as registry
from tests.webhook_server import WebhookServer

pytestmark = [pytest.mark.slow]

AS_OF = date(2026, 3, 1)
UNREAD = Snapshot("demo", "/nowhere/snapshot.json", 0, "0" * 64, "2026-01-11", "2026-02-22", "2026-03-01")
"""A snapshot that is not there: the errors before any reading must come first."""


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A scheduler and two single-threaded worker processes on this machine; its address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as local:
        yield local.scheduler_address


@pytest.fixture(autouse=True)
def _no_scheduler_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)


def with_engine(cfg: ModelConfig, engine: str, scheduler: str | None = None) -> ModelConfig:
    training = cfg.training.model_copy(update={"engine": engine, "scheduler": scheduler})
    return cfg.model_copy(update={"training": training})


@dataclass(frozen=True)
class RewrittenSnapshot(Snapshot):
    """A snapshot's rows rewritten into other files (same rows, same order): ``files()`` lists them."""

    rewritten: tuple[str, ...] = ()

    def files(self) -> tuple[str, ...]:
        return self.rewritten


def rewritten(snapshot: Snapshot, frame: pd.DataFrame, folder: Path, files: int, row_group_size: int) -> Snapshot:
    """``frame`` as ``files`` parquet files of consecutive rows with small row groups (many partitions), listed
    as ``file://`` URLs (any fsspec URL reads alike).
    """
    folder.mkdir()
    paths = []
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), files)):
        path = folder / f"part-{i:02d}.parquet"
        frame.iloc[rows].to_parquet(path, index=False, row_group_size=row_group_size)
        paths.append(path.as_uri())
    return RewrittenSnapshot(**snapshot.to_dict(), rewritten=tuple(paths))


def test_the_dask_engine_fits_on_the_same_rows_a_model_as_good_as_the_local_one(
    home: Path, seeded_source: str, cluster: str
) -> None:
    # Given: the demo window as ingest writes it (a file per day: 49 partitions over two workers)
    cfg = with_engine(load_model("demo"), "dask", cluster)
    snapshot = ingest(cfg, AS_OF, seeded_source)
    assert len(snapshot.files()) == 49
    splits = split(load(snapshot), cfg, snapshot.window)

    # When: it is fitted on the cluster, and in this process
    fitted = dask_engine.fit(cfg, snapshot)
    local = streamed_engine.fit(cfg, snapshot, external=False)

    # Then: the same rows in each part, a model of the same kind with the same categories, the same example
    assert fitted.engine == "dask" and type(fitted.model) is type(local.model)
    counts = (fitted.train_rows, fitted.validation_rows, fitted.holdout_rows)
    assert counts == (local.train_rows, local.validation_rows, local.holdout_rows) == (5040, 1260, 1050)
    assert trained_categories(fitted.model) == trained_categories(local.model)
    pd.testing.assert_frame_equal(fitted.example, local.example)
    # and a model as good on the holdout: ROC AUC within 0.01 of the local engine's
    y = labels(splits.holdout, cfg)
    auc = {f.engine: roc_auc(y, score(f.model, splits.holdout, cfg).scores) for f in (fitted, local)}
    assert abs(auc["dask"] - auc["local"]) <= 0.01, auc
    assert abs(fitted.validation_metrics["roc_auc"] - local.validation_metrics["roc_auc"]) <= 0.01
    # and the drift profile the in-memory build gives for that model, to the bit (a day has < 2048 rows)
    features = model_frame(splits.train, cfg)
    expected = build_profile(
        features,
        cfg.columns.numeric,
        cfg.columns.categorical,
        predict(fitted.model, features, cfg.task),
        bins=cfg.drift.bins,
        max_categories=cfg.drift.max_categories,
    )
    assert fitted.profile == expected
    assert (fitted.profile.numeric, fitted.profile.categorical) == (local.profile.numeric, local.profile.categorical)

    # When: both models score the holdout in partitions on the cluster
    scored = score_holdout(cfg, snapshot, [fitted.model, local.model])
    # Then: the labels and scores of the in-memory holdout, row for row
    np.testing.assert_array_equal(scored.labels, y)
    for got, model in zip(scored.scored, (fitted.model, local.model), strict=True):
        np.testing.assert_array_equal(got.scores, score(model, splits.holdout, cfg).scores)
        assert got.unseen == {}


def test_the_split_is_features_split_row_for_row_through_ties_and_missing_values(
    home: Path, seeded_source: str, cluster: str, tmp_path: Path
) -> None:
    # Given: the demo rows shuffled, stamped to the 6 hours and keyed by 5 ids (rows tie on both), a missing
    # key and two missing timestamps, in 5 files of 250-row groups (partitions cut through the ties), read by URL
    cfg = with_engine(load_model("demo"), "dask", cluster)
    snapshot = ingest(cfg, AS_OF, seeded_source)
    rng = np.random.default_rng(5)
    frame = load(snapshot).sample(frac=1.0, random_state=5).reset_index(drop=True)
    frame["event_ts"] = frame["event_ts"].dt.floor("6h")
    frame["customer_id"] = rng.integers(0, 5, len(frame)).astype("float64")
    frame.loc[[3, 40], "customer_id"] = np.nan
    frame.loc[[7, 900], "event_ts"] = pd.NaT
    shuffled = rewritten(snapshot, frame, tmp_path / "shuffled", files=5, row_group_size=250)

    with connected(cluster) as client:
        rows = client.persist(read_snapshot(shuffled, cfg))
        tied_cuts = 0
        for fraction in (0.2, 0.3333, 0.05):
            fractioned = cfg.model_copy(
                update={"windows": cfg.windows.model_copy(update={"validation_fraction": fraction})}
            )
            expected = split(frame, fractioned, snapshot.window)
            # When: the cluster plans the split of the same rows
            plan = plan_split(client, rows, fractioned, snapshot.window)
            # Then: every part has exactly the rows split gives (ROW is the row's position in the frame)
            got = client.gather(client.compute([plan.rows(rows, which)[ROW] for which in (TRAIN, VALIDATION, HOLDOUT)]))
            for part, found in zip((expected.train, expected.validation, expected.holdout), got, strict=True):
                assert sorted(found) == sorted(part.index), fraction
            last, first = expected.train.iloc[-1], expected.validation.iloc[0]
            tied_cuts += (last["event_ts"], last["customer_id"]) == (first["event_ts"], first["customer_id"])
    assert tied_cuts >= 2  # the cut fell inside a tie, where only the snapshot's order decides


def test_without_a_scheduler_the_engine_stops_in_one_line_before_reading_anything(demo_cfg: ModelConfig) -> None:
    with pytest.raises(DaskEngineError, match=f"no scheduler is set: give training.scheduler .* or {SCHEDULER_ENV}"):
        dask_engine.fit(with_engine(demo_cfg, "dask"), UNREAD)


def test_a_scheduler_that_does_not_answer_stops_the_engine_in_one_line_within_the_timeout(
    demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "2")
    closed, silent = socket.socket(), socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections and never says a word
    with closed, silent, WebhookServer() as web:  # and an HTTP server, speaking another protocol
        addresses = [f"tcp://127.0.0.1:{s.getsockname()[1]}" for s in (closed, silent)]
        addresses.append(f"tcp://127.0.0.1:{web.url.split(':')[2].split('/')[0]}")
        for address in addresses:
            # PIPELINES_DASK_SCHEDULER wins over the config's address
            monkeypatch.setenv(SCHEDULER_ENV, address)
            started = time.monotonic()
            with pytest.raises(DaskEngineError) as caught:
                dask_engine.fit(with_engine(demo_cfg, "dask", "tcp://elsewhere:8786"), UNREAD)
            assert time.monotonic() - started < 6, address
            message = str(caught.value)
            assert address in message and "\n" not in message, message
            assert "Dask scheduler" in message
    monkeypatch.setenv(TIMEOUT_ENV, "soon")
    with pytest.raises(DaskEngineError, match=f"{TIMEOUT_ENV} must be a positive number of seconds, got 'soon'"):
        dask_engine.fit(with_engine(demo_cfg, "dask", "tcp://elsewhere:8786"), UNREAD)


def test_a_scheduler_without_workers_stops_the_engine_in_one_line_within_the_timeout(
    demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import LocalCluster

    monkeypatch.setenv(TIMEOUT_ENV, "1")
    with LocalCluster(n_workers=0, dashboard_address=":0") as empty:
        started = time.monotonic()
        with pytest.raises(DaskEngineError, match=r"^the Dask scheduler at tcp://\S+ has no workers \(waited 1 s\)$"):
            dask_engine.fit(with_engine(demo_cfg, "dask", empty.scheduler_address), UNREAD)
        assert time.monotonic() - started < 5


def test_bad_snapshots_stop_the_engine_in_one_line_that_names_the_fault(
    home: Path, seeded_source: str, cluster: str, tmp_path: Path
) -> None:
    cfg = with_engine(load_model("demo"), "dask", cluster)
    snapshot = ingest(cfg, AS_OF, seeded_source)
    frame = load(snapshot)
    unlabelled = frame.assign(churned=frame["churned"].where(frame.index != 10))
    cases = {
        "snapshot lacks feature columns: tenure_months": rewritten(
            snapshot, frame.drop(columns="tenure_months"), tmp_path / "no-feature", files=2, row_group_size=5000
        ),
        "label 'churned' has 1 missing or non-numeric values": rewritten(
            snapshot, unlabelled, tmp_path / "no-label", files=2, row_group_size=5000
        ),
        f"a snapshot file is missing: {tmp_path / 'gone.parquet'}": RewrittenSnapshot(
            **snapshot.to_dict(), rewritten=(str(tmp_path / "gone.parquet"),)
        ),
    }
    for message, bad in cases.items():
        with pytest.raises(PipelinesError, match=re.escape(message)) as caught:
            dask_engine.fit(cfg, bad)
        assert "\n" not in str(caught.value)


def test_retrain_decides_alike_on_either_engine_and_the_version_names_its_engine(
    tmp_path: Path, seeded_db: Path, mlflow_template: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes, tags = {}, {}
    for engine in ("local", "dask"):
        # Given: a home, registry and source of its own for each engine, the same seeded rows
        home = tmp_path / engine
        home.mkdir()
        shutil.copyfile(mlflow_template, home / "mlflow.db")
        shutil.copyfile(seeded_db, home / "source.db")
        monkeypatch.setenv("PIPELINES_HOME", str(home))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{home / 'mlflow.db'}")
        cfg = with_engine(load_model("demo"), engine, cluster if engine == "dask" else None)
        # When: the whole chain runs
        outcome = retrain(cfg, AS_OF, f"sqlite:///{home / 'source.db'}")
        assert outcome.status != "failed", outcome.reasons
        outcomes[engine], tags[engine] = outcome, registry.version("demo", outcome.version).tags

    # Then: the same decision, the same checks passed and failed, a holdout metric within 0.01
    local, dask = outcomes["local"], outcomes["dask"]
    assert dask.status == local.status
    assert [r.split(":")[0] for r in dask.reasons] == [r.split(":")[0] for r in local.reasons]
    assert abs(dask.metrics["challenger"]["roc_auc"] - local.metrics["challenger"]["roc_auc"]) <= 0.01
    # and each version names the engine that trained it
    assert (tags["local"]["training_engine"], tags["dask"]["training_engine"]) == ("local", "dask")
    assert tags["dask"]["training_rows"] == tags["local"]["training_rows"] == "5040"


def test_evaluate_on_engine_dask_scores_the_holdout_on_the_cluster_and_decides_as_in_process(
    registry_home: Path, seeded_source: str, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from pipelines.decision import evaluate as evaluation
    from pipelines.jobs import steps
    from pipelines.model import dask_scoring
    from pipelines.registry.lineage import Lineage

    # Given: a champion trained a day earlier and a challenger, both in this process
    local_cfg = load_model("demo")
    retrain(local_cfg, AS_OF - timedelta(days=1), seeded_source)
    snapshot = ingest(local_cfg, AS_OF, seeded_source)
    challenger = steps.train(local_cfg, snapshot, Lineage()).version
    calls: list[int] = []
    real = dask_scoring.score_holdout

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dask_scoring, "score_holdout", counted)

    # When: the challenger is evaluated in process, and with engine dask
    in_process = evaluation.evaluate(local_cfg, snapshot, challenger)
    on_cluster = evaluation.evaluate(with_engine(local_cfg, "dask", cluster), snapshot, challenger)

    # Then: the cluster scored the holdout, and the decision is the same, metric for metric
    assert calls and on_cluster.champion_version == in_process.champion_version is not None
    assert on_cluster.promote == in_process.promote
    assert [(c.name, c.passed) for c in on_cluster.checks] == [(c.name, c.passed) for c in in_process.checks]
    assert on_cluster.challenger_metrics == pytest.approx(in_process.challenger_metrics, abs=1e-9)
    assert on_cluster.champion_metrics == pytest.approx(in_process.champion_metrics, abs=1e-9)
    assert on_cluster.holdout_rows == in_process.holdout_rows
