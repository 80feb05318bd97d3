"""Training logs what a version needs and nothing it does not: a signature from the config, pinned requirements,
the drift profile, the engine, and the holdout handed on while it is in memory.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.models import Model, infer_signature

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest, load
from pipelines.data.profile import Profile
from pipelines.model import streamed_engine
from pipelines.model import train as training
from pipelines.model.features import model_frame, split
from pipelines.registry import versions as registry

AS_OF = date(2026, 3, 1)


def test_the_signature_is_what_inference_finds_on_complete_rows(seeded_source: str, demo_cfg: ModelConfig) -> None:
    example = model_frame(load(ingest(demo_cfg, AS_OF, seeded_source)).dropna().head(5), demo_cfg)

    inferred = infer_signature(example, example["age"].to_numpy(dtype="float64"))

    assert training.signature(demo_cfg).to_dict() == inferred.to_dict()


def test_a_version_pins_its_requirements_names_its_engine_and_hands_on_its_holdout(
    registry_home: Path, seeded_source: str, demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a snapshot, and a profile that scores about 100 training rows (every 51st of the snapshot's)
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    splits = split(load(snapshot), demo_cfg, snapshot.window)
    monkeypatch.setattr(streamed_engine, "PROFILE_SCORED_ROWS", 100)
    handed: list[tuple[int, pd.DataFrame, Any]] = []

    # When: it is trained
    trained = training.train(demo_cfg, snapshot, on_registered=lambda *given: handed.append(given))

    # Then: the callback got the new version's holdout rows and the fitted model
    ((version, holdout, model),) = handed
    assert version == trained.version and not trained.reused
    pd.testing.assert_frame_equal(holdout, splits.holdout)
    assert model.best_iteration == trained.best_iteration
    # and the version names its engine, its requirements are pinned, its signature is the config's
    info = registry.version("demo", trained.version)
    assert info.tags["training_engine"] == "local"
    assert info.tags["training_rows"] == str(len(splits.train))
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/demo/{trained.version}"))
    requirements = (folder / "requirements.txt").read_text().split()
    assert "xgboost-cpu==3.2.0" in requirements and any(r.startswith("mlflow==") for r in requirements)
    assert Model.load(folder).signature.to_dict() == training.signature(demo_cfg).to_dict()
    # and the drift profile counts every training row, the scores of every 51st row of the snapshot among them
    text = mlflow.artifacts.load_text(f"runs:/{trained.run_id}/{training.PROFILE_ARTIFACT}")
    profile = Profile.from_json(text)
    assert profile.n_rows == len(splits.train)
    sampled = int((splits.train.index.to_numpy() % 51 == 0).sum())
    assert sum(profile.predictions.counts) + profile.predictions.missing == sampled
    # and the same snapshot again reuses the version without calling back
    assert training.train(demo_cfg, snapshot, on_registered=lambda *given: handed.append(given)).reused
    assert len(handed) == 1
