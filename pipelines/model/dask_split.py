"""The snapshot as a Dask dataframe in partitions, and the same training, validation and holdout rows as
``features.split`` gives in memory (how: ``split_rule``), the cut day's rows ordered on the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.row_groups import read_row_group, row_groups
from pipelines.data.snapshot import Snapshot
from pipelines.data.windows import Window
from pipelines.model.dask_cluster import each_partition
from pipelines.model.split_rule import (
    HOLDOUT,
    TRAIN,
    VALIDATION,
    SplitRule,
    locate_cut,
    needed_columns,
    rows_in,
    training_days,
    training_rows_of_day,
)

__all__ = ["HOLDOUT", "TRAIN", "VALIDATION", "SplitPlan", "SplitRule", "plan_split", "read_snapshot", "rows_of"]


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
    names = needed_columns(cfg, set(found.schema.names))
    return dd.from_map(
        read_row_group, found.groups, names=names, casts=found.casts, meta=found.empty(names), enforce_metadata=False
    )


def plan_split(client: Any, frame: Any, cfg: ModelConfig, window: Window) -> SplitPlan:
    """The split of ``frame`` that ``features.split`` makes of the same rows; its FeatureErrors alike."""
    unsplit = SplitRule.of(cfg, window)
    cut = locate_cut(each_partition(client, frame, training_days, unsplit), cfg, window)
    on_day = frame.partitions[cut.on_day()]
    rule = cut.rule(unsplit, pd.concat(each_partition(client, on_day, training_rows_of_day, unsplit, cut.day)))
    return SplitPlan(rule, cut.train_rows, cut.validation_rows, cut.holdout_rows, cut.partitions())


def rows_of(frame: Any, rule: SplitRule, which: int) -> Any:
    """The rows of ``frame`` in one split (``TRAIN``, ``VALIDATION`` or ``HOLDOUT``, which needs no cut),
    partitions kept.
    """
    return frame.map_partitions(rows_in, rule, which, meta=frame._meta)
