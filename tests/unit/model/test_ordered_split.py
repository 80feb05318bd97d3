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
from pipelines.model.ordered_split import holdout_rows, recent_split

AS_OF = date(2026, 3, 1)


def test_file_by_file_split_equals_the_whole_window_split(
    home: Path, seeded_source: str, demo_cfg: ModelConfig
) -> None:
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    expected = split(load(snapshot), demo_cfg, snapshot.window)

    found = recent_split(snapshot, demo_cfg, newest=len(load(snapshot)))

    assert found.train_rows == len(expected.train)
    pd.testing.assert_frame_equal(found.newest, expected.train)
    pd.testing.assert_frame_equal(found.holdout, expected.holdout)


def test_the_newest_training_rows_are_read_from_the_days_they_need(
    home: Path, seeded_source: str, demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the demo window (49 day files, the last 7 the holdout's), file reads counted
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    expected = split(load(snapshot), demo_cfg, snapshot.window)
    read = _counted_reads(monkeypatch)

    # When: the newest 300 training rows are read (fewer than one day holds)
    found = recent_split(snapshot, demo_cfg, newest=300)

    # Then: the same rows as the whole window's split, and of the earlier days only the ones before validation's
    assert found.train_rows == len(expected.train)
    pd.testing.assert_frame_equal(found.newest, expected.train.iloc[-300:])
    pd.testing.assert_frame_equal(found.holdout, expected.holdout)
    validation_days = expected.validation[demo_cfg.columns.timestamp].dt.date.nunique()
    newest_days = expected.train.iloc[-300:][demo_cfg.columns.timestamp].dt.date.nunique()
    assert len(read) <= 7 + validation_days + newest_days < 49


def test_the_holdout_is_read_from_the_holdout_days_only(
    home: Path, seeded_source: str, demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the demo window (49 day files, the last 7 the holdout's), file reads counted
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    expected = split(load(snapshot), demo_cfg, snapshot.window).holdout
    read = _counted_reads(monkeypatch)

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
    cast = recent_split(snapshot, demo_cfg, newest=500)

    # Then: the same frames
    assert cast.train_rows == len(expected.train)
    pd.testing.assert_frame_equal(cast.newest, expected.train.iloc[-500:])
    pd.testing.assert_frame_equal(cast.holdout, expected.holdout)
    pd.testing.assert_frame_equal(holdout_rows(snapshot, demo_cfg), expected.holdout)


def test_a_single_file_snapshot_of_an_older_release_is_split_whole(
    home: Path, seeded_source: str, demo_cfg: ModelConfig, tmp_path: Path
) -> None:
    # Given: the demo window written as one parquet file, as snapshots were before day files, its rows shuffled
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    single = tmp_path / "0123456789abcdef.parquet"
    load(snapshot).sample(frac=1.0, random_state=3).to_parquet(single, index=False)
    older = type(snapshot)(**{**snapshot.to_dict(), "path": str(single)})
    assert older.files() == (str(single),)
    expected = split(load(older), demo_cfg, older.window)

    # When: its newest 500 training rows and its holdout are read
    found = recent_split(older, demo_cfg, newest=500)

    # Then: the one file is sorted whole: the same frames as the whole window's split
    assert found.train_rows == len(expected.train)
    pd.testing.assert_frame_equal(found.newest, expected.train.iloc[-500:])
    pd.testing.assert_frame_equal(found.holdout, expected.holdout)
    pd.testing.assert_frame_equal(holdout_rows(older, demo_cfg), expected.holdout)


def _counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the files ``ordered_split`` opens from now on."""
    read: list[str] = []
    real = ordered_split.open_input

    def counted(path: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        read.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ordered_split, "open_input", counted)
    return read
