"""Scoring a snapshot's holdout rows in partitions on the Dask cluster of engine ``dask``, for an evaluation
whose holdout does not fit in one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.model.dask_cluster import connected, each_partition, scheduler_address
from pipelines.model.dask_split import HOLDOUT, SplitRule, read_snapshot, rows_of
from pipelines.model.features import FeatureError, labels
from pipelines.model.scoring import Scored, Unseen, score


@dataclass(frozen=True)
class HoldoutScores:
    """The holdout rows' labels and each model's scores on them, in ``features.split``'s order of the rows."""

    labels: np.ndarray
    scored: tuple[Scored, ...]


def score_holdout(cfg: ModelConfig, snapshot: Snapshot, models: Sequence[Any]) -> HoldoutScores:
    """Each model's scores (``scoring.score``: its own categories, unseen values counted) on the snapshot's
    holdout rows, scored in partitions on the cluster; the rows in the order ``features.split`` gives them.
    """
    rule = SplitRule.of(cfg, snapshot.window)
    with connected(scheduler_address(cfg)) as client:
        holdout = rows_of(read_snapshot(snapshot, cfg), rule, HOLDOUT)
        parts = each_partition(client, holdout, _scored_part, client.scatter(list(models), broadcast=True), cfg, rule)
    keys = pd.concat([part[2] for part in parts], ignore_index=True)
    if keys.empty:
        raise FeatureError(f"no holdout rows on or after {snapshot.window.holdout_start}")
    order = keys.sort_values(list(rule.order), kind="stable").index.to_numpy()
    scored = tuple(
        Scored(
            np.concatenate([part[1][i].scores for part in parts])[order],
            _merged_unseen([part[1][i].unseen for part in parts]),
        )
        for i in range(len(models))
    )
    return HoldoutScores(np.concatenate([part[0] for part in parts])[order], scored)


def _scored_part(
    part: pd.DataFrame, models: Sequence[Any], cfg: ModelConfig, rule: SplitRule
) -> tuple[np.ndarray, list[Scored], pd.DataFrame]:
    """A partition's labels, each model's ``Scored`` and the columns that order its rows."""
    scored = [score(model, part, cfg) if len(part) else Scored(np.empty(0), {}) for model in models]
    return labels(part, cfg), scored, part[list(rule.order)]


def _merged_unseen(parts: Sequence[Unseen]) -> Unseen:
    """Rows per unseen value and feature added up over partitions, most rows first (as ``scoring`` lists them)."""
    total: dict[str, dict[str, int]] = {}
    for unseen in parts:
        for feature, values in unseen.items():
            for value, rows in values.items():
                total.setdefault(feature, {})[value] = total.get(feature, {}).get(value, 0) + rows
    return {
        feature: dict(sorted(values.items(), key=lambda item: (-item[1], item[0]))) for feature, values in total.items()
    }
