"""Reading a snapshot file by file gives ``features.split``'s frames exactly, and the holdout from its own days."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config.model import ModelConfig
from pipelines.data import snapshot_reader
from pipelines.data.ingest import ingest, load
from pipelines.model.features import split
from pipelines.model.ordered_split import holdout_rows, split_snapshot

AS_OF = date(2026, 3, 1)


def test_file_by_file_split_equals_the_whole_window_split(
    home: Path, seeded_source: str, demo_cfg: ModelConfig
) -> None:
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    expected = split(load(snapshot), demo_cfg, snapshot.window)

    found = split_snapshot(snapshot, demo_cfg)

    for part in ("train", "validation", "holdout"):
        pd.testing.assert_frame_equal(getattr(found, part), getattr(expected, part))


def test_the_holdout_is_read_from_the_holdout_days_only(
    home: Path, seeded_source: str, demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the demo window (49 day files, the last 7 the holdout's), file reads counted
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    expected = split(load(snapshot), demo_cfg, snapshot.window).holdout
    read: list[str] = []
    real = snapshot_reader.file_frames

    def counted(path: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        read.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr("pipelines.model.ordered_split.file_frames", counted)

    # When: the holdout rows are read
    holdout = holdout_rows(snapshot, demo_cfg)

    # Then: the same frame as the whole window's split, from 7 of the 49 files
    pd.testing.assert_frame_equal(holdout, expected)
    assert len(read) == demo_cfg.windows.holdout_days == 7 and len(snapshot.files()) == 49
