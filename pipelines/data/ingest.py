"""Ingest: read a model's window from its source into an immutable, content-addressed snapshot of day files.

A window's snapshot is one parquet file per UTC day of the timestamp column (``days/<day>/<digest16>.parquet``)
and a manifest that composes them (``snapshot_parts``); readers are in ``snapshot_reader`` (``load`` is
re-exported here). With a day ledger (``day_ledger.DayLedger`` over the pipeline's database), a run reads from
the source only the days it has not seen, and older days whose server-side fingerprint (``day_fingerprints``)
changed since they were read (late rows): nightly work grows with the new day, not with the window. The rest
are reused, and the snapshot's content hash is the same as a full read's. Without a ledger every day is read.

Two engines write the days, with the same logical dtypes (as pandas reads them back):

- PostgreSQL sources: ``arrow_days`` streams binary COPY into Arrow record batches (ADBC driver), split by day
  into the day files and their digests as they arrive;
- every other dialect: ``frame_days`` (SQLAlchemy + pandas), a statement per day, sorted, hashed and written.

Environment variable ``PIPELINES_INGEST_ENGINE``: unset or ``auto`` picks by the URL's backend,
``sqlalchemy`` forces the generic path (also for PostgreSQL), ``adbc`` requires the Arrow path (an error
for other databases). The engines hash differently (both deterministic), so the same window ingested by
both gets two snapshots.

Both read the source the same guarded way (``pipelines.data.sources``): a connection deadline, a UTC and
read-only session, one statement per query source. Timestamps come out as naive UTC whatever the server's
zone; a column without a zone is read in ``columns.timestamp_timezone``. Rows stamped after the run's wall
clock are selected too (the gate refuses them), on every run, never reused.

Files are written to temp files and moved over their final names (``snapshot_store``); a day is recorded in
the ledger only once its file is in place, and a record is trusted only while its fingerprint matches and its
file is there with its size. A run killed anywhere leaves at worst days that the next run reads again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pipelines.config.data_sections import SourceConfig
from pipelines.config.model import ModelConfig
from pipelines.data.day_files import DaysRead
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_parts import DayPart, Engine, Manifest, write_manifest
from pipelines.data.snapshot_reader import load as load
from pipelines.data.snapshot_store import SnapshotStore, open_input
from pipelines.data.sources import future_bound, read_window
from pipelines.data.windows import Window
from pipelines.faults import stop_point

if TYPE_CHECKING:  # pandas and SQLAlchemy are imported where they are used: the Arrow path needs neither
    import pandas as pd
    import pyarrow as pa

    from pipelines.data.day_fingerprints import Fingerprints
    from pipelines.data.day_ledger import DayLedger, DayRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Run:
    """One ingest's fixed inputs."""

    cfg: ModelConfig
    source_url: str
    window: Window
    engine: Engine
    store: SnapshotStore
    model_root: str
    now: datetime


def ingest(
    cfg: ModelConfig,
    as_of: date,
    source_url: str,
    training_days: int | None = None,
    ledger: DayLedger | None = None,
) -> Snapshot:
    """Snapshot the window for ``as_of``; the same data always gives the same path and hash.

    With ``ledger``, only days missing from it or whose fingerprint changed are read from the source (see the
    module docstring); ``Snapshot.rows_read`` and ``rows_reused`` say how many rows came from each. Rows are
    ordered by the timestamp, then the entity key (without one, every other column: ``sources.row_order``).
    Raises ``SourceSchemaError`` (bad URL, missing table or column) or ``SourceError`` (server unreachable)
    from ``pipelines.data.source_errors``.
    """
    from pipelines.data.adbc_url import use_arrow

    store = SnapshotStore()
    engine: Engine = "arrow" if use_arrow(source_url) else "frame"
    window = Window.for_as_of(as_of, cfg.windows, training_days)
    run = _Run(cfg, source_url, window, engine, store, store.join(cfg.name), _utc_now())
    store.remove_stale_temp_files(run.model_root)
    newer: int | None = None
    if ledger is None:
        reused: dict[date, DayRecord] = {}
        read: DaysRead | None = _read(run, window.days(), _later(run))
        stop_point("ingest_days_written")
    else:
        reused, read, newer = _incremental(run, ledger)
    parts = [DayPart(r.day, r.file, r.digest, r.rows) for r in reused.values()]
    parts += [d.part for d in read.days] if read is not None else []
    schema = read.schema if read is not None else _file_schema(run, next(iter(reused.values())))
    manifest = Manifest(engine, schema, tuple(sorted(parts, key=lambda p: p.day)))
    folder = store.join(cfg.name, f"window={window.start}_{window.end}")
    path = write_manifest(store, folder, manifest)
    rows_read = read.rows if read is not None else 0
    log.info("ingest %s: %d rows read from the source, %d reused", cfg.name, rows_read, manifest.rows - rows_read)
    if newer:
        log.info("ingest %s: %d rows stamped after the window's end are not in this window", cfg.name, newer)
    return Snapshot(
        model=cfg.name,
        path=path,
        rows=manifest.rows,
        content_hash=manifest.content_hash,
        window_start=window.start.isoformat(),
        holdout_start=window.holdout_start.isoformat(),
        window_end=window.end.isoformat(),
        rows_read=rows_read,
        rows_reused=manifest.rows - rows_read,
        rows_after_window=newer,
    )


def _incremental(run: _Run, ledger: DayLedger) -> tuple[dict[date, DayRecord], DaysRead | None, int | None]:
    """The days to reuse, and the days read: those the ledger lacks or whose fingerprint changed, and the later
    rows (the whole window again when the source's columns changed); records the days read. Also the count of
    rows stamped between the window's end and now (``Fingerprints.newer_rows``).
    """
    from pipelines.data.day_fingerprints import fingerprint_days
    from pipelines.data.day_ledger import source_key

    cfg, columns = run.cfg, run.cfg.columns
    prints = fingerprint_days(
        run.source_url, cfg.source, columns.timestamp, run.window, run.now, columns.timestamp_timezone
    )
    key = source_key(cfg, run.source_url, run.engine)
    reused = _reusable(run, ledger.recorded(cfg.name, key, run.window.start, run.window.end), prints)
    later = _later(run) if prints.later_rows else None
    missing = [day for day in sorted(prints.days) if day not in reused]
    read = _read(run, missing, later) if missing or later or not reused else None  # an empty window: its schema
    if reused and len({r.schema for r in reused.values()} | ({read.schema_digest} if read else set())) > 1:
        log.info("the source's columns changed since days of %s were read: reading the whole window", cfg.name)
        reused, read = {}, _read(run, sorted(prints.days), later)
    stop_point("ingest_days_written")
    if read is not None:
        ledger.record(cfg.name, key, _records(read, prints))
    stop_point("ingest_days_recorded")
    return reused, read, prints.newer_rows


def _reusable(run: _Run, recorded: dict[date, DayRecord], prints: Fingerprints) -> dict[date, DayRecord]:
    """The recorded days whose fingerprint is the source's and whose file is in place with its recorded size."""
    return {
        day: record
        for day, record in sorted(recorded.items())
        if prints.days.get(day) == record.fingerprint
        and run.store.size(f"{run.model_root}/{record.file}") == record.bytes
    }


def _later(run: _Run) -> datetime | None:
    """The instant after which rows are read as impossible ones (table sources), None for query sources."""
    return future_bound(run.window, run.now) if run.cfg.source.query is None else None


def _read(run: _Run, days: list[date], later: datetime | None) -> DaysRead:
    """Read ``days`` and the rows stamped after ``later`` with the run's engine into day files."""
    if run.engine == "arrow":
        from pipelines.data.arrow_days import read_days as stream_days

        return stream_days(run.cfg, run.source_url, days, later, run.store, run.model_root, run.window)
    from pipelines.data.frame_days import read_days as frame_days

    return frame_days(run.cfg, run.source_url, days, later, run.store, run.model_root, run.window)


def _records(read: DaysRead, prints: Fingerprints) -> list[DayRecord]:
    """Ledger records of the days read whose rows are the ones fingerprinted (rows that arrived in between are
    in the snapshot, and the day is read again next time).
    """
    from pipelines.data.day_ledger import DayRecord

    schema = read.schema_digest
    return [
        DayRecord(d.part.day, prints.days[d.part.day], d.part.file, d.part.digest, d.bytes, d.part.rows, schema)
        for d in read.days
        if prints.rows.get(d.part.day) == d.part.rows
    ]


def _file_schema(run: _Run, record: DayRecord) -> pa.Schema:
    """The schema of a reused day's file: the window's when no day was read."""
    import pyarrow.parquet as pq

    with open_input(f"{run.model_root}/{record.file}") as handle:
        return pq.read_schema(handle)


def window_frame(cfg: ModelConfig, window: Window, source_url: str, source: SourceConfig | None = None) -> pd.DataFrame:
    """The window's rows of ``source`` (default the model's) as a DataFrame, read by the engine ``ingest`` picks
    for ``source_url``; no snapshot.

    For the drift monitor and the labels of scored rows, which need the rows in memory anyway. The Arrow path
    gives them in snapshot order (``sources.row_order``), with the dtypes a snapshot has; the SQLAlchemy path in
    the database's order.
    """
    from pipelines.data.adbc_url import use_arrow
    from pipelines.data.adbc_window import open_window

    zone = cfg.columns.timestamp_timezone
    source = source or cfg.source
    if not use_arrow(source_url):
        return read_window(source_url, source, cfg.columns.timestamp, window, zone=zone)
    import pyarrow as pa

    with open_window(source_url, source, cfg.columns.timestamp, cfg.columns.entity_key, window, zone=zone) as stream:
        table = pa.Table.from_batches(stream.batches, stream.schema)
    return table.to_pandas()


def _utc_now() -> datetime:
    """Wall-clock time, naive UTC: only rows stamped after it (impossible ones) depend on it."""
    return datetime.now(UTC).replace(tzinfo=None)
