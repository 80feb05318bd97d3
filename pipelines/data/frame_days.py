"""The pandas engine (SQLAlchemy sources, and PostgreSQL with ``PIPELINES_INGEST_ENGINE=sqlalchemy``): each day
read with a statement of its own, sorted, hashed and written as that day's file.

One statement per day, on one read-only connection, and on purpose: ``pandas.read_sql`` infers a column's
dtype from the rows it is given (an integer column with a NULL becomes float64), so a day read alone gets the
dtypes it gets inside any longer read only when every read is of one day. That keeps a day's file, and its
digest, the same whichever run read it (``snapshot_reader`` gives the window one dtype per column). With an
index on the timestamp column (the demo table has one) each statement is a range scan. Rows stamped after the
window (``later``) come in one more statement, split by day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from pipelines.config.model import ModelConfig
from pipelines.data.day_files import DaysRead, WrittenDay
from pipelines.data.snapshot_parts import DayPart, day_file
from pipelines.data.snapshot_store import SnapshotStore
from pipelines.data.sources import read_frames, row_order, spans_statement
from pipelines.data.windows import Window

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of column names, dtypes and values, independent of the parquet writer."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def read_days(
    cfg: ModelConfig,
    source_url: str,
    days: Sequence[date],
    later: datetime | None,
    store: SnapshotStore,
    model_root: str,
    window: Window,
) -> DaysRead:
    """Read ``days`` (and the rows stamped after ``later``, naive UTC) and write a file per day; with neither,
    the whole ``window`` is read once for its columns (it holds no rows then, or only new ones).
    """
    import pyarrow as pa

    ts, zone = cfg.columns.timestamp, cfg.columns.timestamp_timezone
    spans = [Window.span(day, date.fromordinal(day.toordinal() + 1)) for day in days]

    def statements(backend: str) -> list[sa.Executable]:
        if not spans and later is None:
            return [spans_statement(cfg.source, ts, [window], None, zone, backend)]
        found = [spans_statement(cfg.source, ts, [span], None, zone, backend) for span in spans]
        return found + ([spans_statement(cfg.source, ts, [], later, zone, backend)] if later is not None else [])

    frames = read_frames(source_url, cfg.source, ts, statements, zone)
    schema = pa.Schema.from_pandas(frames[0], preserve_index=False)
    by_day: list[tuple[date, pd.DataFrame]] = list(zip(days, frames, strict=False))
    for frame in frames[len(days) :]:  # later rows, or the window read for its columns
        stamps = frame[ts].dt.floor("D")
        by_day += [(stamp.date(), rows) for stamp, rows in frame.groupby(stamps, sort=True)]
    order = row_order(list(frames[0].columns), ts, cfg.columns.entity_key)
    written = []
    for day, frame in by_day:
        if len(frame):
            rows = frame.sort_values(order, kind="stable").reset_index(drop=True)
            written.append(_write(store, model_root, day, rows))
    return DaysRead("frame", tuple(written), schema)


def _write(store: SnapshotStore, model_root: str, day: date, frame: pd.DataFrame) -> WrittenDay:
    """Write a day's rows to its content-addressed file (over a file of that name: the same data)."""
    digest = content_hash(frame)
    relative = day_file(day, digest)
    path = f"{model_root}/{relative}"
    folder = path.rsplit("/", 1)[0]
    store.makedirs(folder)
    temp = store.temp_path(folder)
    try:
        with store.open_output(temp) as handle:
            frame.to_parquet(handle, index=False)
        store.replace(temp, path)
    finally:
        store.remove(temp)
    size = store.size(path)
    assert size is not None
    return WrittenDay(DayPart(day, relative, digest, len(frame)), size)
