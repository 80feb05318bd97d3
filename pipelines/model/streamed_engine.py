"""The local engine without the window in memory: the training rows streamed from the snapshot's row groups to
XGBoost through an ``xgboost.DataIter``, quantized into an in-memory ``QuantileDMatrix``, or with
``external=True`` into an ``ExtMemQuantileDMatrix`` whose pages are cached on disk (``extmem_cache``: a folder in
the snapshot's local folder, removed afterwards, failure or not, or by the next such training if a kill left it).

The rows are ``features.split``'s (``split_rule``: counts per day, then the cut day's rows ordered). The
validation rows (early stopping and the validation metrics) are held in memory. In memory, the training rows
are read once and held as model inputs (``model_frame``, every batch's categories coded alike), which XGBoost's
passes and the drift profile's two (``profile_parts``) then take; in external memory every one of those passes
reads them again, and only a page is held at a time. Either way a batch joins row groups up to ``PAGE_ROWS``
rows: what XGBoost and pandas pay per batch is paid a few times, not once per day file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from pipelines.config.model import ModelConfig
from pipelines.config.training_sections import METRICS_BY_TASK
from pipelines.data.profile import Profile
from pipelines.data.profile_parts import merged_profile, part_counts, profile_bins, profile_part
from pipelines.data.row_groups import ROW, RowGroup, RowGroups, read_row_group, row_groups
from pipelines.data.snapshot import Snapshot
from pipelines.faults import stop_point
from pipelines.model.estimators import PROFILE_SCORED_ROWS, estimator, predict
from pipelines.model.extmem_cache import cache_folder
from pipelines.model.features import labels, model_frame
from pipelines.model.fitted import Fitted
from pipelines.model.metrics import compute
from pipelines.model.split_rule import (
    TRAIN,
    VALIDATION,
    SplitRule,
    locate_cut,
    needed_columns,
    training_days,
    training_rows_of_day,
)

Categories = dict[str, list[str]]
PAGE_ROWS = 500_000
"""A batch (in external memory, a cached page) holds row groups of at least this many training rows together.
Each boosting round reads every page and pays per page: at 1M demo rows (35 day files of ~20k training rows)
training took 159 s in pages of one row group, 23 s in pages of 300k rows, 33 s in pages of 500k rows and 29 s in
memory (on a machine shared with other work: each figure +-30%). In memory, a batch per row group cost 1.5 s more
than one batch for a 7k-row window (pandas and XGBoost's work per batch)."""


@dataclass(frozen=True)
class _Source:
    """The snapshot's row groups, the columns read, and the split's rule (its cut known)."""

    found: RowGroups
    names: list[str]
    rule: SplitRule

    def read(self, group: RowGroup, names: list[str] | None = None) -> pd.DataFrame:
        return read_row_group(group, names or self.names, self.found.casts)

    def parts(self, indices: tuple[int, ...], which: int) -> Iterator[pd.DataFrame]:
        """The rows of one split, a row group at a time (groups without any skipped)."""
        for i in indices:
            part = self.read(self.found.groups[i])
            yield part[self.rule.which(part) == which]


def fit(cfg: ModelConfig, snapshot: Snapshot, external: bool) -> Fitted:
    """Fit the config's model on the snapshot's training rows streamed in row groups, early-stopped on its
    validation rows; engine ``local`` (the model the whole window in pandas gives, tree for tree), or
    ``local-external`` with the external-memory matrix.
    """
    found = row_groups(snapshot.files())
    names = needed_columns(cfg, set(found.schema.names))
    unsplit = SplitRule.of(cfg, snapshot.window)
    order = list(unsplit.order[:-1])
    tallies, values = [], []
    for group in found.groups:
        part = read_row_group(group, [*order, *cfg.columns.categorical], found.casts)
        tallies.append(training_days(part, unsplit))
        values.append(_present_values(part[~unsplit.holdout(part)], cfg))
    cut = locate_cut(tallies, cfg, snapshot.window)
    on_day = [
        training_rows_of_day(read_row_group(found.groups[i], order, found.casts), unsplit, cut.day)
        for i in cut.on_day()
    ]
    source = _Source(found, names, cut.rule(unsplit, pd.concat(on_day)))
    partitions = cut.partitions()
    validation, categories = _validation_and_categories(source, partitions[VALIDATION], values, cfg)
    order = list(source.rule.order)

    def batches() -> Iterator[_Batch]:
        return _batched(_pages(source.parts(partitions[TRAIN], TRAIN)), cfg, categories, order)

    held = None if external else list(batches())
    training_batches = batches if held is None else lambda: iter(held)
    valid_features = model_frame(validation, cfg, categories)
    y_valid = labels(validation, cfg)
    model = _train(cfg, snapshot, external, training_batches, valid_features, y_valid)
    metrics = compute(METRICS_BY_TASK[cfg.task], y_valid, predict(model, valid_features, cfg.task))
    step = max(1, math.ceil(cut.train_rows / PROFILE_SCORED_ROWS))
    profile, example = _profile_and_example(cfg, training_batches, model, categories, step, order)
    return Fitted(
        model=model,
        engine="local-external" if external else "local",
        train_rows=cut.train_rows,
        validation_rows=cut.validation_rows,
        holdout_rows=cut.holdout_rows,
        validation_metrics=metrics,
        profile=profile,
        example=example,
    )


def _validation_and_categories(
    source: _Source, indices: tuple[int, ...], values: list[dict[str, set[str]]], cfg: ModelConfig
) -> tuple[pd.DataFrame, Categories]:
    """The validation rows in ``split``'s order, and each categorical feature's values in the training rows
    (sorted, as ``model_frame`` orders a column's categories); the groups holding validation rows are read again
    to tell their training rows' values from their validation rows'.
    """
    kept = [found for i, found in enumerate(values) if i not in indices]
    rows = []
    for i in indices:
        part = source.read(source.found.groups[i])
        which = source.rule.which(part)
        rows.append(part[which == VALIDATION])
        kept.append(_present_values(part[which == TRAIN], cfg))
    validation = pd.concat(rows).sort_values(list(source.rule.order), kind="stable")
    validation = validation.set_index(ROW).rename_axis(None)
    names = cfg.columns.categorical
    return validation, {name: sorted(set[str]().union(*(found[name] for found in kept))) for name in names}


def _train(
    cfg: ModelConfig,
    snapshot: Snapshot,
    external: bool,
    batches: Callable[[], Iterator[_Batch]],
    valid_features: pd.DataFrame,
    y_valid: np.ndarray,
) -> Any:
    """``xgboost.train`` with ``estimators.estimator``'s parameters on the streamed rows, returned as that
    estimator; the external-memory cache lives in an ``extmem_cache.cache_folder`` (stop point ``extmem_cached``
    once its pages are written).
    """
    model = estimator(cfg)
    params = model.get_xgb_params()
    with cache_folder(_cache_parent(snapshot)) if external else nullcontext() as folder:
        fed = _Fed(batches, str(folder / "cache") if folder else None)
        kind = xgb.ExtMemQuantileDMatrix if external else xgb.QuantileDMatrix
        train = kind(fed, max_bin=params.get("max_bin"), enable_categorical=True, nthread=params.get("nthread"))
        if external:
            stop_point("extmem_cached")
        valid = xgb.QuantileDMatrix(valid_features, y_valid, ref=train, enable_categorical=True)
        booster = xgb.train(
            params,
            train,
            num_boost_round=model.get_num_boosting_rounds(),
            evals=[(valid, "validation_0")],
            early_stopping_rounds=model.early_stopping_rounds,
            verbose_eval=False,
        )
        del train, valid
    model.load_model(bytearray(booster.save_raw("ubj")))
    return model


@dataclass(frozen=True)
class _Batch:
    """Training rows as the model takes them: features (``model_frame``), labels, snapshot positions, the
    batch's first five rows in ``split``'s order, and the rows of each row group it joins, in order.
    """

    features: pd.DataFrame
    label: np.ndarray
    rows: np.ndarray
    firsts: pd.DataFrame
    groups: tuple[slice, ...]


def _batched(
    pages: Iterator[list[pd.DataFrame]], cfg: ModelConfig, categories: Categories, order: list[str]
) -> Iterator[_Batch]:
    """Each page's non-empty parts joined as a ``_Batch``, every batch's categories coded alike."""
    for page in pages:
        parts = [part for part in page if len(part)]
        page.clear()  # the page's parts are let go of once joined, not held beside the batch
        if parts:
            joined = pd.concat(parts) if len(parts) > 1 else parts[0]
            ends = np.cumsum([len(part) for part in parts]).tolist()
            del parts
            groups = tuple(slice(start, end) for start, end in zip([0, *ends[:-1]], ends, strict=True))
            firsts = joined.sort_values(order, kind="stable").head(5)
            batch = _Batch(
                model_frame(joined, cfg, categories), labels(joined, cfg), joined[ROW].to_numpy(), firsts, groups
            )
            del joined
            yield batch


class _Fed(xgb.DataIter):
    """The training batches for XGBoost, one at a time, from the start again at each of its passes."""

    def __init__(self, batches: Callable[[], Iterator[_Batch]], cache: str | None) -> None:
        self._start = batches
        self._batches = batches()
        super().__init__(cache_prefix=cache, release_data=True)

    def next(self, input_data: Callable[..., None]) -> bool:
        batch = next(self._batches, None)
        if batch is None:
            return False
        input_data(data=batch.features, label=batch.label)
        return True

    def reset(self) -> None:
        self._batches = self._start()


def _pages(parts: Iterator[pd.DataFrame]) -> Iterator[list[pd.DataFrame]]:
    """``parts`` in runs of at least ``PAGE_ROWS`` rows (the last one may hold fewer)."""
    held: list[pd.DataFrame] = []
    for part in parts:
        held.append(part)
        if sum(len(frame) for frame in held) >= PAGE_ROWS:
            yield held
            held = []
    if held:
        yield held


def _cache_parent(snapshot: Snapshot) -> str | None:
    """The snapshot's local folder when it exists (a cache beside the data it is made from), else the system's
    temporary folder.
    """
    folder = snapshot.local_folder()
    return str(folder) if folder.is_dir() else None


def _profile_and_example(
    cfg: ModelConfig,
    batches: Callable[[], Iterator[_Batch]],
    model: Any,
    categories: Categories,
    step: int,
    order: list[str],
) -> tuple[Profile, pd.DataFrame]:
    """The training rows' drift profile in two passes (``profile_parts``), scores from every ``step``-th row of
    the snapshot as the Dask engine samples them; and the first five training rows in ``split``'s order, as
    ``model_frame`` gives them (indexed by position). Pass 1 takes a row group at a time, as the Dask engine
    takes a partition, so both sketch the same parts; pass 2's counts add up alike in any parts.
    """
    numeric, categorical = cfg.columns.numeric, cfg.columns.categorical
    found, scores, firsts = [], [], []
    for batch in batches():
        kept = np.flatnonzero(batch.rows % step == 0)
        scores.append(predict(model, batch.features.iloc[kept], cfg.task) if len(kept) else np.empty(0))
        for rows in batch.groups:
            scored = slice(*np.searchsorted(kept, [rows.start, rows.stop]))
            found.append(profile_part(batch.features.iloc[rows], numeric, categorical, scores[-1][scored]))
        firsts.append(batch.firsts)
    bins = profile_bins(found, cfg.drift.bins, cfg.drift.max_categories)
    counts = [part_counts(batch.features, sampled, bins) for batch, sampled in zip(batches(), scores, strict=True)]
    first = pd.concat(firsts).sort_values(order, kind="stable").head(5)
    return merged_profile(found, bins, counts), model_frame(first.set_index(ROW).rename_axis(None), cfg, categories)


def _present_values(part: pd.DataFrame, cfg: ModelConfig) -> dict[str, set[str]]:
    return {name: set(part[name].astype("string").dropna().unique()) for name in cfg.columns.categorical}
