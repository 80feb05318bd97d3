"""``features.split`` of a snapshot read file by file, without sorting (or even reading) the whole window.

A day file holds the rows whose timestamp falls on its day (``frame_days``/``arrow_days``: by the timestamp's
day), and the files are listed oldest first, so ``split``'s order — timestamp, then entity key, ties in the
snapshot's order — is each file's rows in that order, file after file. Rows keep ``load``'s index (their
position in the snapshot), so the frames are equal to ``split(load(snapshot), ...)``'s. A snapshot of one file
(written before day files) is that file sorted whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate

import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_reader import SnapshotFile, file_frames, layout
from pipelines.model.features import FeatureError, Splits
from pipelines.model.split_rule import SplitRule, validation_rows


def holdout_rows(snapshot: Snapshot, cfg: ModelConfig) -> pd.DataFrame:
    """``split(load(snapshot), cfg, snapshot.window).holdout``, reading only the holdout days' files."""
    rule = SplitRule.of(cfg, snapshot.window)
    first = rule.bound.date()
    parts = [part[rule.holdout(part)] for part in _ordered(snapshot, cfg, lambda f: f.day is None or f.day >= first)]
    holdout = _joined(parts)
    if holdout.empty:
        raise FeatureError(f"no holdout rows on or after {snapshot.window.holdout_start}")
    return holdout


def split_snapshot(snapshot: Snapshot, cfg: ModelConfig) -> Splits:
    """``split(load(snapshot), cfg, snapshot.window)``, one file in memory twice at a time (not the window)."""
    rule = SplitRule.of(cfg, snapshot.window)
    training, holdout = [], []
    for part in _ordered(snapshot, cfg, lambda _: True):
        is_holdout = rule.holdout(part)
        training.append(part[~is_holdout])
        holdout.append(part[is_holdout])
    train, held = _joined(training), _joined(holdout)
    n_valid = validation_rows(len(train), len(held), cfg, snapshot.window)
    return Splits(train.iloc[:-n_valid], train.iloc[-n_valid:], held)


def _ordered(snapshot: Snapshot, cfg: ModelConfig, wanted: Callable[[SnapshotFile], bool]) -> Iterator[pd.DataFrame]:
    """Each wanted file's rows in ``split``'s order, indexed by their position in the snapshot."""
    found = layout(snapshot)
    starts = [0, *accumulate(file.rows for file in found.files)]
    order = [name for name in (cfg.columns.timestamp, cfg.columns.entity_key) if name]
    for file, start in zip(found.files, starts, strict=False):
        if not wanted(file):
            continue
        frame = _joined(list(file_frames(file.path, found.casts)))
        frame.index = pd.RangeIndex(start, start + len(frame))
        missing = [name for name in order if name not in frame.columns]
        if missing:
            raise FeatureError(f"snapshot lacks the ordering column {missing[0]!r}")
        yield frame.sort_values(order, kind="stable")


def _joined(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts) if len(parts) > 1 else parts[0] if parts else pd.DataFrame()
