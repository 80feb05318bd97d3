"""Reading a snapshot: the whole window as one DataFrame (``load``, assembled a day file at a time:
``window_frame``), or day by day in bounded frames (``iter_frames``) for consumers that must not hold the window.

Files are opened one by one by their exact path (local or fsspec URL), never discovered as a dataset, so no
reader invents hive partition columns from folder names such as ``window=...``.

Day files of the Arrow engine share one schema. Those of the pandas engine carry each day's own dtypes, as
``pandas.read_sql`` inferred them from that day's rows: an integer column with a NULL on one day is float64
there, a column that is NULL all day is empty (object). The window's dtype of such a column is the one a read
of the whole window would infer: float64 for integers mixed with floats or empty days, object for booleans
with empty days or for mixed kinds, else the one type the days agree on; every frame is cast to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_parts import SnapshotMissing, is_manifest, part_path, read_manifest
from pipelines.data.snapshot_store import open_input

if TYPE_CHECKING:
    import pandas as pd

BATCH_ROWS = 131_072
"""Rows per frame of ``iter_frames`` at most (a day's file of fewer rows is one frame)."""


@dataclass(frozen=True)
class SnapshotFile:
    """One file of a snapshot: its day (None for a single-file snapshot), path or URL, digest and rows."""

    day: date | None
    path: str
    digest: str
    rows: int


@dataclass(frozen=True)
class SnapshotLayout:
    """A snapshot's files oldest first, its schema, and the dtype each file's frames are cast to."""

    files: tuple[SnapshotFile, ...]
    schema: pa.Schema | None
    casts: dict[str, Any]


def layout(snapshot: Snapshot) -> SnapshotLayout:
    """How the snapshot is stored (see the module docstring); ``SnapshotMissing`` when it is not there."""
    if not is_manifest(snapshot.path):
        return SnapshotLayout((SnapshotFile(None, snapshot.path, snapshot.content_hash, snapshot.rows),), None, {})
    manifest = read_manifest(snapshot.path)
    files = tuple(SnapshotFile(p.day, part_path(snapshot.path, p), p.digest, p.rows) for p in manifest.parts)
    casts = {} if manifest.engine == "arrow" else window_casts([_schema(f.path) for f in files])
    return SnapshotLayout(files, manifest.schema, casts)


def load(snapshot: Snapshot, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The snapshot's rows (``columns`` of them, default all) as one DataFrame, oldest first, each column in a
    block of its own (no consolidating copy).
    """
    import pandas as pd

    found = layout(snapshot)
    if not found.files:
        assert found.schema is not None
        empty = found.schema.empty_table()
        return (empty.select(list(columns)) if columns is not None else empty).to_pandas()
    if not found.casts:
        from pipelines.data.window_frame import assembled

        tables = (_read(f.path, columns) for f in found.files)
        return assembled(tables, sum(f.rows for f in found.files))
    frames = [_cast(_read(f.path, columns).to_pandas(), found.casts) for f in found.files]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def iter_frames(
    snapshot: Snapshot, columns: Sequence[str] | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[pd.DataFrame]:
    """The snapshot's rows as DataFrames of at most ``batch_rows`` rows, oldest first, each with the window's
    dtypes (``columns`` of them, default all); nothing for an empty window.
    """
    found = layout(snapshot)
    for file in found.files:
        yield from file_frames(file.path, found.casts, columns, batch_rows)


def file_frames(
    path: str, casts: dict[str, Any], columns: Sequence[str] | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[pd.DataFrame]:
    """One snapshot file's rows as DataFrames of at most ``batch_rows`` rows, cast to the window's dtypes."""
    try:
        with open_input(path) as handle:
            reader = pq.ParquetFile(handle)
            for batch in reader.iter_batches(batch_size=batch_rows, columns=columns):
                yield _cast(batch.to_pandas(), casts)
    except FileNotFoundError:
        raise SnapshotMissing(f"a snapshot file is missing: {path}") from None


def window_casts(schemas: Sequence[pa.Schema]) -> dict[str, Any]:
    """The dtype each column of a pandas-engine window is cast to, where its days' types differ."""
    casts: dict[str, Any] = {}
    if not schemas:
        return casts
    for name in schemas[0].names:
        fields = {s.field(name).type: s for s in schemas}
        kinds = set(fields) - {pa.null()}
        if len(fields) == 1 or not kinds:
            continue
        empty_days = pa.null() in fields
        if kinds <= {pa.int64(), pa.float64()} and (len(kinds) == 2 or (pa.int64() in kinds and empty_days)):
            casts[name] = "float64"
        elif len(kinds) > 1 or kinds == {pa.bool_()}:
            casts[name] = object
        else:  # one kind, and days without values: those take the kind's dtype
            (kind,) = kinds
            casts[name] = pa.schema([fields[kind].field(name)]).empty_table().to_pandas()[name].dtype
    return casts


def _cast(frame: pd.DataFrame, casts: dict[str, Any]) -> pd.DataFrame:
    wanted = {name: kind for name, kind in casts.items() if name in frame.columns and frame[name].dtype != kind}
    return frame.astype(wanted) if wanted else frame


def _read(path: str, columns: Sequence[str] | None) -> pa.Table:
    try:
        with open_input(path) as handle:
            return pq.read_table(handle, columns=columns)
    except FileNotFoundError:
        raise SnapshotMissing(f"a snapshot file is missing: {path}") from None


def _schema(path: str) -> pa.Schema:
    try:
        with open_input(path) as handle:
            return pq.read_schema(handle)
    except FileNotFoundError:
        raise SnapshotMissing(f"a snapshot file is missing: {path}") from None
