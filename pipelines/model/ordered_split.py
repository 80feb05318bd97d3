"""``features.split`` of a snapshot read file by file, without sorting (or even reading) the whole window.

A day file holds the rows whose timestamp falls on its day (``frame_days``/``arrow_days``: by the timestamp's
day), and the files are listed oldest first, so ``split``'s order — timestamp, then entity key, ties in the
snapshot's order — is each file's rows in that order, file after file. Rows keep ``load``'s index (their
position in the snapshot), so the frames are equal to ``split(load(snapshot), ...)``'s. A snapshot of one file
(written before day files) is that file sorted whole. Evaluate reads the holdout's days only; the model card
(``recent_split``) those and, of the earlier days, only the newest its learning curve refits on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_reader import SnapshotFile, SnapshotLayout, file_frames, layout
from pipelines.data.snapshot_store import open_input
from pipelines.model.features import FeatureError
from pipelines.model.split_rule import SplitRule, validation_rows

POSITION = "__position"


def holdout_rows(snapshot: Snapshot, cfg: ModelConfig) -> pd.DataFrame:
    """``split(load(snapshot), cfg, snapshot.window).holdout``, reading only the holdout days' files."""
    found = layout(snapshot)
    late, _ = _late_and_earlier(found, snapshot, cfg)
    _, holdout = _joined_parts(found, [_split_file(found, file, start, snapshot, cfg) for file, start in late])
    if holdout.empty:
        raise FeatureError(f"no holdout rows on or after {snapshot.window.holdout_start}")
    return holdout


@dataclass(frozen=True)
class RecentSplit:
    """Of ``split``'s frames: the number of training rows, the newest of them (``train.iloc[-len(newest):]``)
    and the holdout.
    """

    train_rows: int
    newest: pd.DataFrame
    holdout: pd.DataFrame


def recent_split(snapshot: Snapshot, cfg: ModelConfig, newest: int) -> RecentSplit:
    """``split``'s training row count, its ``newest`` latest training rows and its holdout, reading the holdout
    days' files and, newest first, only as many earlier day files as those training rows need (an earlier day
    holds training rows only, and the validation rows come between them and the holdout).
    """
    found = layout(snapshot)
    late, earlier = _late_and_earlier(found, snapshot, cfg)
    parts = [_split_file(found, file, start, snapshot, cfg) for file, start in late]
    held = sum(len(holdout) for _, holdout in parts)
    n_training = sum(file.rows for file in found.files) - held
    n_valid = validation_rows(n_training, held, cfg, snapshot.window)
    need = n_valid + min(newest, n_training - n_valid)
    have = sum(len(training) for training, _ in parts)
    while have < need and earlier:
        file, start = earlier.pop()
        parts.insert(0, _split_file(found, file, start, snapshot, cfg))
        have += len(parts[0][0])
    training, holdout = _joined_parts(found, parts)
    return RecentSplit(n_training - n_valid, training.iloc[len(training) - need : len(training) - n_valid], holdout)


Numbered = tuple[SnapshotFile, int]
"""A snapshot file and the position of its first row in the snapshot."""


def _late_and_earlier(
    found: SnapshotLayout, snapshot: Snapshot, cfg: ModelConfig
) -> tuple[list[Numbered], list[Numbered]]:
    """The files that may hold holdout rows (a day on or after the holdout bound's, or a single-file snapshot)
    and the earlier ones, oldest first.
    """
    first = SplitRule.of(cfg, snapshot.window).bound.date()
    late: list[Numbered] = []
    earlier: list[Numbered] = []
    for file, start in zip(found.files, accumulate((file.rows for file in found.files), initial=0), strict=False):
        (late if file.day is None or file.day >= first else earlier).append((file, start))
    return late, earlier


def _split_file(found: SnapshotLayout, file: SnapshotFile, start: int, snapshot: Snapshot, cfg: ModelConfig) -> Any:
    """A file's training rows and holdout rows, each in ``split``'s order: Arrow tables when the window's day
    files share one schema, else pandas frames cast to the window's dtypes.
    """
    rule = SplitRule.of(cfg, snapshot.window)
    order = [name for name in (cfg.columns.timestamp, cfg.columns.entity_key) if name]
    if found.casts:
        frame = _ordered_frame(file, start, found.casts, order)
        is_holdout = rule.holdout(frame)
        return frame[~is_holdout], frame[is_holdout]
    table = _ordered_table(file, start, order)
    bound = pa.scalar(rule.bound.to_pydatetime(), type=table.schema.field(rule.timestamp).type)
    is_holdout = pc.fill_null(pc.greater_equal(table[rule.timestamp], bound), False)
    return table.filter(pc.invert(is_holdout)), table.filter(is_holdout)


def _joined_parts(found: SnapshotLayout, parts: list[Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-file (training, holdout) parts as two frames; Arrow tables are converted once, each column's buffers
    freed as it is (about the rows' size at the peak).
    """
    training, holdout = [part[0] for part in parts], [part[1] for part in parts]
    parts.clear()
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
