"""The per-day checks of a snapshot of day files, aggregating only the days not aggregated before.

Each day file's aggregates (``day_stats``) are looked up by the file's content digest in the store
(``day_stats_store``); only the files without stored aggregates are read, one at a time and only their checked
columns, and their aggregates are stored. The result is ``day_checks`` of the loaded window, exactly: a day's
aggregates depend only on its rows (see ``day_stats``).
"""

from __future__ import annotations

import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_reader import file_frames, layout, load
from pipelines.quality.day_checks import checks_from_stats, day_checks
from pipelines.quality.day_stats import DayStats, checked_columns, day_stats, numeric_columns
from pipelines.quality.day_stats_store import DayStatsStore, config_key, stats_of


def snapshot_day_checks(cfg: ModelConfig, snapshot: Snapshot, store: DayStatsStore | None = None) -> pd.DataFrame:
    """``day_checks(cfg, load(snapshot), snapshot.window)``, from stored aggregates of unchanged days (``store``)
    and the files of the others; without a store every day file is aggregated, one at a time.
    """
    found = layout(snapshot)
    window = snapshot.window
    if found.schema is None:  # a snapshot of one parquet file, as written before day files
        return day_checks(cfg, load(snapshot), window)
    dtypes = found.schema.empty_table().to_pandas().dtypes
    for name, kind in found.casts.items():
        dtypes[name] = kind
    columns = checked_columns(cfg, list(dtypes.index))
    numeric = numeric_columns(dtypes, columns)
    days = [f for f in found.files if f.day is not None and window.start <= f.day < window.end]
    key = config_key(columns, numeric)
    stored = store.stored(cfg.name, key, [f.digest for f in days]) if store is not None else {}
    stats: list[DayStats] = []
    new: dict[str, DayStats] = {}
    for file in days:
        assert file.day is not None
        if file.digest in stored:
            stats.append(stats_of(stored[file.digest], file.day))
            continue
        frames = list(file_frames(file.path, found.casts, columns))
        rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        stats.append(new.setdefault(file.digest, day_stats(file.day, rows, columns, numeric)))
    if store is not None:
        store.add(cfg.name, key, new)
    return checks_from_stats(cfg, stats, window, columns, numeric)
