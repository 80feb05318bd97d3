"""Reading a snapshot file by file gives ``features.split``'s frames exactly, and the holdout from its own days."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config.model import ModelConfig
from pipelines.data import snapshot_reader
from pipelines.data.ingest import ingest, load
from pipelines.model import ordered_split
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
    real = ordered_split.open_input

    def counted(path: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        read.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ordered_split, "open_input", counted)

    # When: the holdout rows are read
    holdout = holdout_rows(snapshot, demo_cfg)

    # Then: the same frame as the whole window's split, from 7 of the 49 files
    pd.testing.assert_frame_equal(holdout, expected)
    assert len(read) == demo_cfg.windows.holdout_days == 7 and len(snapshot.files()) == 49


def test_day_files_of_differing_types_are_cast_and_split_alike(
    home: Path, seeded_source: str, demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the demo window read as a window whose day files' types differ (a cast to the type it has already)
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    expected = split(load(snapshot), demo_cfg, snapshot.window)
    found = snapshot_reader.layout(snapshot)
    assert not found.casts
    casts = {"age": expected.train["age"].dtype}
    monkeypatch.setattr(ordered_split, "layout", lambda _: replace(found, casts=casts))

    # When: it is split file by file as pandas frames
    cast = split_snapshot(snapshot, demo_cfg)

    # Then: the same frames
    for part in ("train", "validation", "holdout"):
        pd.testing.assert_frame_equal(getattr(cast, part), getattr(expected, part))
