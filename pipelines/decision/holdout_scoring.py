"""How evaluate scores models on the snapshot's holdout: in this process, or on the Dask cluster."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.model.scoring import Scored, score

Scorer = Callable[[Sequence[Any], pd.DataFrame], list[Scored]]
"""Each model's ``Scored`` on some rows of the snapshot's holdout."""


def scorer(cfg: ModelConfig, snapshot: Snapshot, holdout: pd.DataFrame) -> Scorer:
    """How models are scored on rows of ``holdout`` (the snapshot's, ``holdout_rows``): in this process, or for
    engine ``dask`` on the cluster (``dask_scoring.score_holdout``: the same rows in the same order, taken
    apart there; values never seen in training are then counted on the whole holdout).
    """
    if cfg.training.engine != "dask":
        return lambda models, rows: [score(model, rows, cfg) for model in models]

    def on_cluster(models: Sequence[Any], rows: pd.DataFrame) -> list[Scored]:
        from pipelines.model.dask_scoring import score_holdout

        at = holdout.index.get_indexer(rows.index)
        return [Scored(found.scores[at], found.unseen) for found in score_holdout(cfg, snapshot, models).scored]

    return on_cluster
