"""The per-day checks of a snapshot of day files, aggregating only the days not aggregated before.

Each day file's aggregates (``day_stats``) are looked up by the file's content digest in the store
(``day_stats_store``); only the days without stored aggregates are aggregated (from the loaded window when the
caller has it, else from their files, one at a time and only their checked columns), and stored. The result is ``day_checks`` of the loaded window, exactly: a day's
aggregates depend only on its rows (see ``day_stats``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_reader import file_frames, layout, load
from pipelines.quality.day_checks import checks_from_stats, day_checks
from pipelines.quality.day_stats import DayStats, checked_columns, day_rows, day_stats, numeric_columns
from pipelines.quality.day_stats_store import DayStatsStore, config_key, stats_of


def snapshot_day_checks(
    cfg: ModelConfig, snapshot: Snapshot, store: DayStatsStore | None = None, frame: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``day_checks(cfg, load(snapshot), snapshot.window)``, from stored aggregates of unchanged days (``store``)
    and the files of the others; without a store every day is aggregated. ``frame``, the snapshot's rows when
    the caller has loaded them anyway (``load``), stands in for reading day files.
    """
    found = layout(snapshot)
    window = snapshot.window
    if found.schema is None:  # a snapshot of one parquet file, as written before day files
        return day_checks(cfg, load(snapshot) if frame is None else frame, window)
    dtypes = found.schema.empty_table().to_pandas().dtypes
    for name, kind in found.casts.items():
        dtypes[name] = kind
    columns = checked_columns(cfg, list(dtypes.index))
    numeric = numeric_columns(dtypes, columns)
    days = [f for f in found.files if f.day is not None and window.start <= f.day < window.end]
    key = config_key(columns, numeric)
    stored = store.stored(cfg.name, key, [f.digest for f in days]) if store is not None else {}
    loaded = dict(day_rows(frame, cfg.columns.timestamp, window) or []) if frame is not None else {}
    stats: list[DayStats] = []
    new: dict[str, DayStats] = {}
    for file in days:
        assert file.day is not None
        if file.digest in stored:
            stats.append(stats_of(stored[file.digest], file.day))
            continue
        rows = (
            loaded[file.day]
            if file.day in loaded
            else _read(file.path, found.casts, list(dict.fromkeys([*columns, cfg.columns.timestamp])))
        )
        stats.append(new.setdefault(file.digest, day_stats(file.day, rows, columns, numeric)))
    if store is not None:
        store.add(cfg.name, key, new)
    return checks_from_stats(cfg, stats, window, columns, numeric)


def _read(path: str, casts: dict[str, Any], columns: list[str]) -> pd.DataFrame:
    """A day file's ``columns``, with the window's dtypes."""
    frames = list(file_frames(path, casts, columns))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
