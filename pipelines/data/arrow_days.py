"""The Arrow engine (PostgreSQL over binary COPY, ``adbc_window``): the days to read streamed in one query (a
query source: one per run of consecutive days), each batch split by UTC day into that day's parquet file and
digest as it arrives, on a second thread while the next batch is fetched.

No Python objects per row, and memory stays at a few batches (16 MiB each) and one row group of a day whatever
the number of days: rows come ordered by the timestamp, so a day's file is closed when the next day's rows begin. Every file is written
to a temp file first; the names come from the digests, known at the end: only when the whole stream was read
are the temp files moved over their final names (over a file of that name: the same data, perhaps damaged).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.config.model import ModelConfig
from pipelines.data.adbc_window import open_spans
from pipelines.data.arrow_digest import ArrowDigest
from pipelines.data.day_files import DaysRead, WrittenDay, contiguous
from pipelines.data.snapshot_parts import DayPart, day_file
from pipelines.data.snapshot_store import SnapshotStore
from pipelines.data.source_errors import SourceError
from pipelines.data.windows import Window
from pipelines.faults import stop_point

_EPOCH = date(1970, 1, 1)
ROW_GROUP_ROWS = 131_072
"""Rows per row group of a day file (its last one holds the rest)."""


class _DayFile:
    """One day's temp parquet file and digest, written batch by batch in row groups of ``ROW_GROUP_ROWS`` rows
    (the last one shorter): the file's bytes depend on the day's rows only, not on how the driver batched them,
    so every read of a day writes the same file (its size is what the day ledger checks).
    """

    def __init__(self, store: SnapshotStore, model_root: str, day: date, schema: pa.Schema, timestamp: str) -> None:
        self.day = day
        self.folder = f"{model_root}/days/{day.isoformat()}"
        store.makedirs(self.folder)
        self.temp = store.temp_path(self.folder)
        self.digest = ArrowDigest(schema)
        self._pending: list[pa.RecordBatch] = []
        self._resources = ExitStack()
        handle: IO[bytes] = self._resources.enter_context(store.open_output(self.temp))
        strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        # Dictionary encoding where it pays (categories as text): on floats it costs more time than it saves
        # space. Statistics (min/max per row group) on the timestamp only: what a reader prunes by.
        options: dict[str, Any] = {"compression": "snappy", "use_dictionary": strings or False}
        self._writer = pq.ParquetWriter(handle, schema, write_statistics=[timestamp], **options)
        self.open = True

    def write(self, batch: pa.RecordBatch) -> None:
        """Add a batch of the day's rows (written out a whole row group at a time)."""
        if not self.open:  # rows come ordered by time: a day never comes back after a later one
            raise SourceError(f"cannot read the source's rows by day: rows of {self.day} came after later days")
        self.digest.update(batch)
        self._pending.append(batch)
        if sum(b.num_rows for b in self._pending) >= ROW_GROUP_ROWS:
            rows = pa.Table.from_batches(self._pending).combine_chunks()  # pages then follow the rows, not batches
            whole = rows.num_rows - rows.num_rows % ROW_GROUP_ROWS
            self._writer.write_table(rows.slice(0, whole), row_group_size=ROW_GROUP_ROWS)
            self._pending = rows.slice(whole).to_batches()

    def close(self) -> None:
        """Write the last rows and close the file."""
        if self.open:
            self.open = False
            if self._pending:
                rows = pa.Table.from_batches(self._pending).combine_chunks()
                self._writer.write_table(rows, row_group_size=ROW_GROUP_ROWS)
            self._pending = []
            self._writer.close()
            self._resources.close()


def read_days(
    cfg: ModelConfig,
    source_url: str,
    days: Sequence[date],
    later: datetime | None,
    store: SnapshotStore,
    model_root: str,
    window: Window,
    batch_bytes: int | None = None,
) -> DaysRead:
    """Read ``days`` (and the rows stamped after ``later``, naive UTC) and write a file per day; with neither,
    the whole ``window`` is read once for its schema (it holds no rows then, or only new ones).
    """
    spans = [Window.span(first, end) for first, end in contiguous(days)]
    if not spans and later is None:
        spans = [window]
    groups = [spans] if cfg.source.query is None else [[span] for span in spans]
    files: dict[date, _DayFile] = {}
    schema = None
    try:
        for index, group in enumerate(groups):
            last = index == len(groups) - 1
            schema = _stream(cfg, source_url, group, later if last else None, store, model_root, files, batch_bytes)
        written = tuple(_place(store, model_root, files[day]) for day in sorted(files))
    finally:
        for file in files.values():
            file.close()
            store.remove(file.temp)
    assert schema is not None
    return DaysRead("arrow", written, schema)


def _stream(
    cfg: ModelConfig,
    source_url: str,
    spans: list[Window],
    later: datetime | None,
    store: SnapshotStore,
    model_root: str,
    files: dict[date, _DayFile],
    batch_bytes: int | None,
) -> pa.Schema:
    """Stream one query's batches into the day files (one thread writes while the driver fetches)."""
    ts = cfg.columns.timestamp
    zone = cfg.columns.timestamp_timezone
    with open_spans(source_url, cfg.source, ts, cfg.columns.entity_key, spans, later, batch_bytes, zone) as stream:

        def route(batch: pa.RecordBatch) -> None:
            for day, rows in _split(batch, ts):
                file = files.get(day)
                if file is None:
                    for earlier in files.values():  # ordered by time: earlier days are complete
                        if earlier.open and earlier.day < day:
                            earlier.close()
                            stop_point("ingest_day_streamed")
                    file = files[day] = _DayFile(store, model_root, day, stream.schema, ts)
                file.write(rows)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write") as pool:
            pending: Future[None] | None = None
            for batch in stream.batches:
                if batch.num_rows == 0:
                    continue
                if pending is not None:
                    pending.result()
                pending = pool.submit(route, batch)
            if pending is not None:
                pending.result()
        return stream.schema


def _split(batch: pa.RecordBatch, timestamp: str) -> Iterator[tuple[date, pa.RecordBatch]]:
    """The batch's rows by UTC day of the timestamp, in order (slices when the rows are ordered by time)."""
    stamps = batch.column(timestamp).cast(pa.timestamp("us")).cast(pa.int64())
    if stamps.null_count:
        raise SourceError(f"cannot read the source's rows by day: {stamps.null_count} rows have no {timestamp}")
    # From the buffer: to_numpy() would make pyarrow import pandas (~0.4 s), which this path does without.
    values = np.frombuffer(stamps.buffers()[1], np.int64, count=len(stamps), offset=stamps.offset * 8)
    days = np.floor_divide(values, 86_400_000_000)
    if len(days) and days[0] == days[-1]:
        yield _EPOCH + timedelta(days=int(days[0])), batch
        return
    if bool(np.all(days[1:] >= days[:-1])):
        starts = np.flatnonzero(np.diff(days)) + 1
        bounds = [0, *starts.tolist(), len(days)]
        for start, end in itertools.pairwise(bounds):
            yield _EPOCH + timedelta(days=int(days[start])), batch.slice(start, end - start)
        return
    for day in np.unique(days):
        yield _EPOCH + timedelta(days=int(day)), batch.filter(pc.equal(pa.array(days), day))


def _place(store: SnapshotStore, model_root: str, file: _DayFile) -> WrittenDay:
    """Move a day's finished temp file over its content-addressed name."""
    file.close()
    digest = file.digest.hexdigest()
    relative = day_file(file.day, digest)
    path = f"{model_root}/{relative}"
    store.replace(file.temp, path)
    size = store.size(path)
    assert size is not None
    return WrittenDay(DayPart(file.day, relative, digest, file.digest.rows), size)
