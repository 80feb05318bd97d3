"""The snapshot as a Dask dataframe in partitions, and the same training, validation and holdout rows as
``features.split`` gives in memory.

How the rows are guaranteed to be the same: ``split`` sorts the rows by (timestamp, entity key) with a stable
sort, missing values last, so rows that tie keep their order in the snapshot. Every row read here carries its
position in the snapshot (``ROW``: the files in ``Snapshot.files()`` order, as ``load`` concatenates them), so
the order (timestamp, key, ROW) is total and is exactly ``split``'s. Holdout rows are those with a timestamp on
or after the window's holdout bound, the same comparison. Of the other (training) rows, the newest
``round(n * validation_fraction)`` in that order validate, found without sorting them all: counts per day
locate the day of the first validation row (the cut); only that day's training rows are ordered, on the
client, to find it; a row then validates when it is at or after the cut in the order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.row_groups import ROW, read_row_group, row_groups
from pipelines.data.snapshot import Snapshot
from pipelines.data.windows import Window
from pipelines.model.dask_cluster import each_partition
from pipelines.model.features import FeatureError

TRAIN, VALIDATION, HOLDOUT = 0, 1, 2


@dataclass(frozen=True)
class SplitRule:
    """Which split a row belongs to: holdout from ``bound`` on; validation at or after ``cut`` in ``order``."""

    timestamp: str
    order: tuple[str, ...]
    bound: pd.Timestamp
    cut: tuple[Any, ...] = ()

    @classmethod
    def of(cls, cfg: ModelConfig, window: Window) -> SplitRule:
        """The window's rule, its cut not yet known (enough to tell holdout rows)."""
        ts, key = cfg.columns.timestamp, cfg.columns.entity_key
        return cls(ts, (ts, key, ROW) if key else (ts, ROW), pd.Timestamp(window.holdout_bound()))

    def holdout(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows on or after the holdout bound (a missing timestamp is a training row, as in ``split``)."""
        return (frame[self.timestamp] >= self.bound).to_numpy(dtype=bool, na_value=False)

    def which(self, frame: pd.DataFrame) -> np.ndarray:
        """``TRAIN``, ``VALIDATION`` or ``HOLDOUT`` for each row."""
        holdout = self.holdout(frame)
        validation = ~holdout & at_or_after(frame, self.order, self.cut)
        return np.where(holdout, HOLDOUT, np.where(validation, VALIDATION, TRAIN))


@dataclass(frozen=True)
class SplitPlan:
    """The rule of a snapshot's split, the rows in each part, and the partitions that hold any of them."""

    rule: SplitRule
    train_rows: int
    validation_rows: int
    holdout_rows: int
    partitions: dict[int, tuple[int, ...]]

    def rows(self, frame: Any, which: int) -> Any:
        """The rows of ``frame`` in one split (``TRAIN``, ``VALIDATION`` or ``HOLDOUT``), from the partitions that
        hold any (with a file per day, the validation rows are in the last few).
        """
        return rows_of(frame.partitions[list(self.partitions[which])], self.rule, which)


def read_snapshot(snapshot: Snapshot, cfg: ModelConfig) -> Any:
    """The snapshot's rows of the columns the model needs, and ``ROW``: a Dask dataframe, one partition per
    parquet row group of ``snapshot.files()`` (a file per day, or the one file of an older snapshot).
    """
    import dask.dataframe as dd

    found = row_groups(snapshot.files())
    names = _needed_columns(cfg, set(found.schema.names))
    return dd.from_map(
        read_row_group, found.groups, names=names, casts=found.casts, meta=found.empty(names), enforce_metadata=False
    )


def plan_split(client: Any, frame: Any, cfg: ModelConfig, window: Window) -> SplitPlan:
    """The split of ``frame`` that ``features.split`` makes of the same rows; its FeatureErrors alike."""
    unsplit = SplitRule.of(cfg, window)
    tallies = each_partition(client, frame, _training_days, unsplit)
    per_day = pd.concat([counts for counts, _ in tallies])
    days = per_day.groupby(level=0, dropna=False).sum().sort_index(na_position="last")
    n_train, n_holdout = int(days.sum()), sum(holdout for _, holdout in tallies)
    n_valid = round(n_train * cfg.windows.validation_fraction)
    if n_train - n_valid < 10 or n_valid < 1:
        raise FeatureError(f"too few training rows in the window ({n_train})")
    if not n_holdout:
        raise FeatureError(f"no holdout rows on or after {window.holdout_start}")
    first_valid = n_train - n_valid
    ends = days.cumsum().to_numpy()
    day = int(np.searchsorted(ends, first_valid, side="right"))
    cut_day, ranks = _day_ranks(days.index[day : day + 1])[0], [_day_ranks(counts.index) for counts, _ in tallies]
    on_cut_day = [i for i, found in enumerate(ranks) if (found == cut_day).any()]
    rows = pd.concat(each_partition(client, frame.partitions[on_cut_day], _training_rows_of_day, unsplit, cut_day))
    rows = rows.sort_values(list(unsplit.order), kind="stable")
    at = first_valid - (ends[day - 1] if day else 0)
    rule = replace(unsplit, cut=tuple(rows[name].iloc[at] for name in unsplit.order))
    partitions = {
        TRAIN: tuple(i for i, found in enumerate(ranks) if (found <= cut_day).any()),
        VALIDATION: tuple(i for i, found in enumerate(ranks) if (found >= cut_day).any()),
        HOLDOUT: tuple(i for i, (_, holdout) in enumerate(tallies) if holdout),
    }
    return SplitPlan(rule, n_train - n_valid, n_valid, n_holdout, partitions)


def rows_of(frame: Any, rule: SplitRule, which: int) -> Any:
    """The rows of ``frame`` in one split (``TRAIN``, ``VALIDATION`` or ``HOLDOUT``, which needs no cut),
    partitions kept.
    """
    return frame.map_partitions(_select, rule, which, meta=frame._meta)


def at_or_after(frame: pd.DataFrame, order: tuple[str, ...], cut: tuple[Any, ...]) -> np.ndarray:
    """Rows at or after ``cut`` in the order of the columns ``order``, each ascending with missing values last
    (``sort_values``' order).
    """
    after = np.zeros(len(frame), dtype=bool)
    tied = np.ones(len(frame), dtype=bool)
    for name, value in zip(order, cut, strict=True):
        column = frame[name]
        missing = column.isna().to_numpy(dtype=bool)
        if pd.isna(value):
            greater, equal = np.zeros(len(frame), dtype=bool), missing
        else:
            greater = missing | (column > value).to_numpy(dtype=bool, na_value=False)
            equal = (column == value).to_numpy(dtype=bool, na_value=False)
        after |= tied & greater
        tied &= equal
    return after | tied


def _needed_columns(cfg: ModelConfig, present: set[str]) -> list[str]:
    cols = cfg.columns
    missing = [name for name in cols.features if name not in present]
    if missing:
        raise FeatureError(f"snapshot lacks feature columns: {', '.join(missing)}")
    for what, name in (("label", cols.label), ("timestamp", cols.timestamp), ("entity key", cols.entity_key)):
        if name and name not in present:
            raise FeatureError(f"snapshot lacks the {what} column {name!r}")
    order = [cols.timestamp, *([cols.entity_key] if cols.entity_key else [])]
    return list(dict.fromkeys([*order, *cols.features, cols.label]))


def _training_days(part: pd.DataFrame, rule: SplitRule) -> tuple[pd.Series, int]:
    """Training rows per day (missing timestamps under NaT) and the number of holdout rows of a partition."""
    holdout = rule.holdout(part)
    days = part.loc[~holdout, rule.timestamp].dt.floor("D").value_counts(dropna=False)
    return days, int(holdout.sum())


def _training_rows_of_day(part: pd.DataFrame, rule: SplitRule, day: int) -> pd.DataFrame:
    """The ordering columns of a partition's training rows on the day of rank ``day`` (see ``_day_ranks``)."""
    training = part[~rule.holdout(part)]
    on_day = _day_ranks(pd.DatetimeIndex(training[rule.timestamp].dt.floor("D"))) == day
    return training.loc[on_day, list(rule.order)]


def _day_ranks(days: pd.Index) -> np.ndarray:
    """Days as integers in their order, a missing day (NaT) after all others, as ``sort_values`` puts it."""
    values = days.to_numpy(dtype="datetime64[ns]")
    return np.where(np.isnat(values), np.iinfo("int64").max, values.astype("int64"))


def _select(part: pd.DataFrame, rule: SplitRule, which: int) -> pd.DataFrame:
    return part[rule.holdout(part) if which == HOLDOUT else rule.which(part) == which]
