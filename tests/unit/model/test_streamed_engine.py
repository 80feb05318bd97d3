"""The local engine streams the training rows to XGBoost: in memory it fits the model the whole window in pandas
gives; in external memory (forced, or chosen by ``auto`` over a budget) a model as good, recorded on the version,
its disk cache removed whether training succeeds or fails.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
import pytest

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest, load
from pipelines.data.snapshot import Snapshot
from pipelines.model import extmem_cache, memory_plan, streamed_engine
from pipelines.model import train as training
from pipelines.model.features import labels, split
from pipelines.model.metrics import roc_auc
from pipelines.model.scoring import score
from pipelines.registry import versions as registry

AS_OF = date(2026, 3, 1)


def with_memory(cfg: ModelConfig, memory: str) -> ModelConfig:
    return cfg.model_copy(update={"training": cfg.training.model_copy(update={"memory": memory})})


def holdout_auc(model: Any, snapshot: Snapshot, cfg: ModelConfig) -> float:
    holdout = split(load(snapshot), cfg, snapshot.window).holdout
    return roc_auc(labels(holdout, cfg), score(model, holdout, cfg).scores)


def cache_folders(snapshot: Snapshot) -> list[Path]:
    return list(snapshot.local_folder().glob(f"{extmem_cache.CACHE_PREFIX}*"))


def test_in_memory_streaming_fits_the_model_the_whole_window_in_pandas_gives(
    home: Path, seeded_source: str, demo_cfg: ModelConfig
) -> None:
    # Given: the demo window
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    splits = split(load(snapshot), demo_cfg, snapshot.window)

    # When: the local engine streams it in memory, and XGBoost fits the whole split held in pandas
    streamed = streamed_engine.fit(demo_cfg, snapshot, external=False)
    whole = training.fit(demo_cfg, splits)

    # Then: the same trees, the same rows in each part, the same example rows
    assert streamed.engine == "local"
    assert streamed.model.get_booster().get_dump() == whole.get_booster().get_dump()
    assert (streamed.train_rows, streamed.validation_rows, streamed.holdout_rows) == (
        len(splits.train),
        len(splits.validation),
        len(splits.holdout),
    )
    pd.testing.assert_frame_equal(streamed.example, training.model_frame(splits.train, demo_cfg).head(5))


def test_forced_external_memory_trains_as_good_a_model_and_the_version_says_so(
    registry_home: Path, seeded_source: str, demo_cfg: ModelConfig
) -> None:
    # Given: the demo window, trained once in memory
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    in_memory = training.train(demo_cfg, snapshot)

    # When: the config forces external memory
    external_cfg = with_memory(demo_cfg, "external")
    external = training.train(external_cfg, snapshot)

    # Then: another version (another model: its hash differs), tagged with the path that ran
    assert not external.reused and external.version != in_memory.version
    tags = {v: registry.version("demo", v).tags for v in (in_memory.version, external.version)}
    assert tags[in_memory.version]["training_engine"] == "local"
    assert tags[external.version]["training_engine"] == "local-external"
    assert tags[external.version]["config_hash"] == training.config_hash(demo_cfg, external=True)
    assert tags[in_memory.version]["config_hash"] == training.config_hash(demo_cfg)
    # and its holdout ROC AUC within 0.01 of the in-memory model's
    aucs = [holdout_auc(registry.load_model("demo", v), snapshot, demo_cfg) for v in tags]
    assert abs(aucs[0] - aucs[1]) <= 0.01, aucs
    # and no cache folder is left
    assert cache_folders(snapshot) == []


def test_auto_switches_to_external_memory_when_the_window_exceeds_the_budget(
    registry_home: Path, seeded_source: str, demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the default config (memory: auto) and a window of about 1.5 MB
    assert demo_cfg.training.memory == "auto"
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    need = memory_plan.plan(demo_cfg, snapshot).need_bytes
    assert 10**5 < need < 10**8

    # When: the budget is set just below what in-memory training needs
    monkeypatch.setenv(memory_plan.MEMORY_ENV, str(need - 1))
    chosen = memory_plan.plan(demo_cfg, snapshot)
    trained = training.train(demo_cfg, snapshot)

    # Then: it trained in external memory, and the version records it
    assert chosen.external and "external memory" in chosen.describe()
    assert registry.version("demo", trained.version).tags["training_engine"] == "local-external"
    # and just enough budget keeps it in memory
    monkeypatch.setenv(memory_plan.MEMORY_ENV, str(need))
    assert not memory_plan.plan(demo_cfg, snapshot).external


def test_the_cache_folder_exists_while_training_and_is_removed_after_success_and_after_failure(
    home: Path, seeded_source: str, demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: XGBoost's training watched: the cache folder and its pages are seen while it trains
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    real_train = streamed_engine.xgb.train
    seen: list[list[Path]] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append([page for folder in cache_folders(snapshot) for page in folder.iterdir()])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(streamed_engine.xgb, "train", watched)

    # When: it trains in external memory
    streamed_engine.fit(demo_cfg, snapshot, external=True)

    # Then: the pages were in the snapshot's folder while it trained, and are gone after
    assert seen and seen[0], "no cache page was written in the snapshot's local folder"
    assert cache_folders(snapshot) == []

    # When: training fails midway
    def failing(*args: Any, **kwargs: Any) -> Any:
        seen.append(cache_folders(snapshot))
        raise RuntimeError("out of disk")

    monkeypatch.setattr(streamed_engine.xgb, "train", failing)
    with pytest.raises(RuntimeError, match="out of disk"):
        streamed_engine.fit(demo_cfg, snapshot, external=True)

    # Then: the folder it had was removed all the same
    assert seen[-1] and cache_folders(snapshot) == []


def test_a_bad_memory_value_or_budget_is_a_clear_error(demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pydantic.ValidationError, match="'auto', 'in_memory' or 'external'"):
        type(demo_cfg).model_validate({**demo_cfg.model_dump(), "training": {"memory": "disk"}})
    monkeypatch.setenv(memory_plan.MEMORY_ENV, "lots")
    with pytest.raises(ValueError, match="PIPELINES_TRAINING_MEMORY_BYTES must be a whole number of bytes"):
        memory_plan.budget_bytes()
