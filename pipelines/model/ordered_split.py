"""``features.split`` of a snapshot read file by file, without sorting (or even reading) the whole window.

A day file holds the rows whose timestamp falls on its day (``frame_days``/``arrow_days``: by the timestamp's
day), and the files are listed oldest first, so ``split``'s order — timestamp, then entity key, ties in the
snapshot's order — is each file's rows in that order, file after file. Rows keep ``load``'s index (their
position in the snapshot), so the frames are equal to ``split(load(snapshot), ...)``'s. A snapshot of one file
(written before day files) is that file sorted whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_reader import SnapshotFile, file_frames, layout
from pipelines.data.snapshot_store import open_input
from pipelines.model.features import FeatureError, Splits
from pipelines.model.split_rule import SplitRule, validation_rows

POSITION = "__position"


def holdout_rows(snapshot: Snapshot, cfg: ModelConfig) -> pd.DataFrame:
    """``split(load(snapshot), cfg, snapshot.window).holdout``, reading only the holdout days' files."""
    first = SplitRule.of(cfg, snapshot.window).bound.date()
    _, holdout = _training_and_holdout(snapshot, cfg, lambda f: f.day is None or f.day >= first)
    if holdout.empty:
        raise FeatureError(f"no holdout rows on or after {snapshot.window.holdout_start}")
    return holdout


def split_snapshot(snapshot: Snapshot, cfg: ModelConfig) -> Splits:
    """``split(load(snapshot), cfg, snapshot.window)``, the window held about once (not sorted whole)."""
    train, held = _training_and_holdout(snapshot, cfg, lambda _: True)
    n_valid = validation_rows(len(train), len(held), cfg, snapshot.window)
    return Splits(train.iloc[:-n_valid], train.iloc[-n_valid:], held)


def _training_and_holdout(
    snapshot: Snapshot, cfg: ModelConfig, wanted: Callable[[SnapshotFile], bool]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The wanted files' training rows and holdout rows, each in ``split``'s order. Day files of one schema are
    ordered and split as Arrow tables, then converted once, each column's Arrow buffers freed as it is (about
    the rows' size at the peak); day files whose types differ are cast as pandas frames, a file at a time.
    """
    found = layout(snapshot)
    rule = SplitRule.of(cfg, snapshot.window)
    order = [name for name in (cfg.columns.timestamp, cfg.columns.entity_key) if name]
    starts = [0, *accumulate(file.rows for file in found.files)]
    training: list[Any] = []
    holdout: list[Any] = []
    for file, start in zip(found.files, starts, strict=False):
        if not wanted(file):
            continue
        if found.casts:
            frame = _ordered_frame(file, start, found.casts, order)
            is_holdout = rule.holdout(frame)
            training.append(frame[~is_holdout])
            holdout.append(frame[is_holdout])
        else:
            table = _ordered_table(file, start, order)
            bound = pa.scalar(rule.bound.to_pydatetime(), type=table.schema.field(rule.timestamp).type)
            is_holdout = pc.fill_null(pc.greater_equal(table[rule.timestamp], bound), False)
            training.append(table.filter(pc.invert(is_holdout)))
            holdout.append(table.filter(is_holdout))
    if found.casts:
        return _joined(training), _joined(holdout)
    return _converted(training), _converted(holdout)


def _ordered_table(file: SnapshotFile, start: int, order: list[str]) -> pa.Table:
    """A day file's rows sorted by ``order`` (stable, missing values last), their positions as ``POSITION``."""
    with open_input(file.path) as handle:
        table = pq.read_table(handle)
    _require(order, table.column_names)
    table = table.append_column(POSITION, pa.array(np.arange(start, start + table.num_rows, dtype="int64")))
    keys = [(name, "ascending", "at_end") for name in order]
    return table.take(pc.sort_indices(table, sort_keys=keys))


def _converted(tables: list[pa.Table]) -> pd.DataFrame:
    """The tables as one frame indexed by ``POSITION``; the list is emptied so each buffer is freed once converted."""
    if not tables:
        return pd.DataFrame()
    table = pa.concat_tables(tables)
    tables.clear()
    positions = table[POSITION].to_numpy()
    table = table.drop_columns([POSITION])
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    frame.index = pd.Index(positions)
    return frame


def _ordered_frame(file: SnapshotFile, start: int, casts: dict[str, Any], order: list[str]) -> pd.DataFrame:
    """A day file's rows cast to the window's dtypes, indexed by position and sorted by ``order``."""
    frame = _joined(list(file_frames(file.path, casts)))
    frame.index = pd.RangeIndex(start, start + len(frame))
    _require(order, list(frame.columns))
    return frame.sort_values(order, kind="stable")


def _require(order: list[str], present: list[str]) -> None:
    missing = [name for name in order if name not in present]
    if missing:
        raise FeatureError(f"snapshot lacks the ordering column {missing[0]!r}")


def _joined(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts) if len(parts) > 1 else parts[0] if parts else pd.DataFrame()
