"""The training, validation and holdout rows of ``features.split``, told apart in partitions of the snapshot
without sorting the whole window; shared by the engines that read the snapshot in parts (Dask, streamed).

How the rows are guaranteed to be the same: ``split`` sorts the rows by (timestamp, entity key) with a stable
sort, missing values last, so rows that tie keep their order in the snapshot. Every row read in parts carries
its position in the snapshot (``ROW``: the files in ``Snapshot.files()`` order, as ``load`` concatenates them),
so the order (timestamp, key, ROW) is total and is exactly ``split``'s. Holdout rows are those with a timestamp
on or after the window's holdout bound, the same comparison. Of the other (training) rows, the newest
``round(n * validation_fraction)`` in that order validate, found without sorting them all: counts per day
(``training_days`` of each partition) locate the day of the first validation row (``locate_cut``); only that
day's training rows are ordered to find it; a row then validates when it is at or after the cut in the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.row_groups import ROW
from pipelines.data.windows import Window
from pipelines.model.features import FeatureError

TRAIN, VALIDATION, HOLDOUT = 0, 1, 2
Tally = tuple[pd.Series, int]
"""A partition's training rows per day (``training_days``) and its number of holdout rows."""


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
class Cut:
    """Where validation starts: the split's row counts, the rank of the cut's day (``day_ranks``), the first
    validation row's position among that day's training rows in order, and each partition's day ranks.
    """

    train_rows: int
    validation_rows: int
    holdout_rows: int
    day: int
    at: int
    ranks: tuple[np.ndarray, ...]
    holdouts: tuple[int, ...]

    def on_day(self) -> list[int]:
        """The partitions holding training rows of the cut's day."""
        return [i for i, found in enumerate(self.ranks) if (found == self.day).any()]

    def rule(self, unsplit: SplitRule, rows_of_day: pd.DataFrame) -> SplitRule:
        """``unsplit`` with its cut, from the ordering columns of the cut day's training rows (any order)."""
        ordered = rows_of_day.sort_values(list(unsplit.order), kind="stable")
        return replace(unsplit, cut=tuple(ordered[name].iloc[self.at] for name in unsplit.order))

    def partitions(self) -> dict[int, tuple[int, ...]]:
        """The partitions holding any rows of each split (with a file per day, validation is in the last few)."""
        return {
            TRAIN: tuple(i for i, found in enumerate(self.ranks) if (found <= self.day).any()),
            VALIDATION: tuple(i for i, found in enumerate(self.ranks) if (found >= self.day).any()),
            HOLDOUT: tuple(i for i, holdout in enumerate(self.holdouts) if holdout),
        }


def locate_cut(tallies: Sequence[Tally], cfg: ModelConfig, window: Window) -> Cut:
    """The cut from every partition's ``training_days``; ``split``'s FeatureErrors for too few rows."""
    per_day = pd.concat([counts for counts, _ in tallies])
    days = per_day.groupby(level=0, dropna=False).sum().sort_index(na_position="last")
    n_train, n_holdout = int(days.sum()), sum(holdout for _, holdout in tallies)
    n_valid = validation_rows(n_train, n_holdout, cfg, window)
    first_valid = n_train - n_valid
    ends = days.cumsum().to_numpy()
    day = int(np.searchsorted(ends, first_valid, side="right"))
    at = int(first_valid - (ends[day - 1] if day else 0))
    ranks = tuple(day_ranks(counts.index) for counts, _ in tallies)
    holdouts = tuple(holdout for _, holdout in tallies)
    return Cut(n_train - n_valid, n_valid, n_holdout, int(day_ranks(days.index[day : day + 1])[0]), at, ranks, holdouts)


def validation_rows(n_train: int, n_holdout: int, cfg: ModelConfig, window: Window) -> int:
    """How many of the ``n_train`` training rows validate; ``split``'s FeatureErrors for too few rows."""
    n_valid = round(n_train * cfg.windows.validation_fraction)
    if n_train - n_valid < 10 or n_valid < 1:
        raise FeatureError(f"too few training rows in the window ({n_train})")
    if not n_holdout:
        raise FeatureError(f"no holdout rows on or after {window.holdout_start}")
    return n_valid


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


def training_days(part: pd.DataFrame, rule: SplitRule) -> Tally:
    """Training rows per day (missing timestamps under NaT) and the number of holdout rows of a partition."""
    holdout = rule.holdout(part)
    days = part.loc[~holdout, rule.timestamp].dt.floor("D").value_counts(dropna=False)
    return days, int(holdout.sum())


def training_rows_of_day(part: pd.DataFrame, rule: SplitRule, day: int) -> pd.DataFrame:
    """The ordering columns of a partition's training rows on the day of rank ``day`` (see ``day_ranks``)."""
    training = part[~rule.holdout(part)]
    on_day = day_ranks(pd.DatetimeIndex(training[rule.timestamp].dt.floor("D"))) == day
    return training.loc[on_day, list(rule.order)]


def day_ranks(days: pd.Index) -> np.ndarray:
    """Days as integers in their order, a missing day (NaT) after all others, as ``sort_values`` puts it."""
    values = days.to_numpy(dtype="datetime64[ns]")
    return np.where(np.isnat(values), np.iinfo("int64").max, values.astype("int64"))


def rows_in(part: pd.DataFrame, rule: SplitRule, which: int) -> pd.DataFrame:
    """The rows of one partition in one split (``HOLDOUT`` needs no cut)."""
    return part[rule.holdout(part) if which == HOLDOUT else rule.which(part) == which]


def needed_columns(cfg: ModelConfig, present: set[str]) -> list[str]:
    """The columns the model needs (ordering columns first), FeatureError naming any the snapshot lacks."""
    cols = cfg.columns
    missing = [name for name in cols.features if name not in present]
    if missing:
        raise FeatureError(f"snapshot lacks feature columns: {', '.join(missing)}")
    for what, name in (("label", cols.label), ("timestamp", cols.timestamp), ("entity key", cols.entity_key)):
        if name and name not in present:
            raise FeatureError(f"snapshot lacks the {what} column {name!r}")
    order = [cols.timestamp, *([cols.entity_key] if cols.entity_key else [])]
    return list(dict.fromkeys([*order, *cols.features, cols.label]))
