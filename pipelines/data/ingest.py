"""Ingest: read a model's window from its source and write an immutable, content-addressed snapshot.

Two engines write the same rows with the same logical dtypes (as pandas reads them back):

- PostgreSQL sources: ``pipelines.data.adbc_window`` reads the window with binary COPY into Arrow record
  batches (ADBC driver) and each batch goes to a ``pyarrow.parquet.ParquetWriter`` and to the content hash
  as it arrives, on a second thread while the next batch is fetched. No Python objects per row, and memory
  stays at a few batches (16 MiB each) whatever the window's size.
- every other dialect: ``pipelines.data.sources.read_window`` (SQLAlchemy + pandas), sorted, hashed and
  written in memory.

Environment variable ``PIPELINES_INGEST_ENGINE``: unset or ``auto`` picks by the URL's backend,
``sqlalchemy`` forces the generic path (also for PostgreSQL), ``adbc`` requires the Arrow path (an error
for other databases). The engines hash differently (both deterministic), so the same window ingested by
both gets two snapshot files.

Both read the source the same guarded way (``pipelines.data.sources``): a connection deadline, a UTC and
read-only session, one statement per query source. Timestamps come out as naive UTC whatever the server's
zone; a column without a zone is read in ``columns.timestamp_timezone``.

Snapshot files are written to a temp file named after this host and process, then renamed over the final
name, also when a file of that name exists: the data are the same, and a file that a crash or a full disk
left damaged is whole again after the next run. Each ingest first removes the temp files that writers
killed mid-run left behind (``remove_stale_temp_files``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config import settings
from pipelines.config.data_sections import SourceConfig
from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.data.sources import read_window, row_order
from pipelines.data.windows import Window

if TYPE_CHECKING:  # pandas is imported where it is used: the Arrow path does not need it
    import pandas as pd

log = logging.getLogger(__name__)

STALE_TEMP_SECONDS = 24 * 3600
"""A temp file this old is stale whoever wrote it: no ingest runs for a day."""
_HOST = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "unknown-host"
_TEMP_NAME = re.compile(r"\.ingest-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{32}\.tmp")
_OLD_TEMP_NAME = re.compile(r"\.(?:ingest-\d+-[0-9a-f]{32}|[0-9a-f]{16}\.parquet\.\d+)\.tmp")  # no host in them


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of column names, dtypes and values, independent of the parquet writer."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def ingest(cfg: ModelConfig, as_of: date, source_url: str, training_days: int | None = None) -> Snapshot:
    """Snapshot the window for ``as_of``; the same data always gives the same path and hash.

    The engine follows the URL: binary COPY into Arrow for PostgreSQL, SQLAlchemy for the rest;
    ``PIPELINES_INGEST_ENGINE=sqlalchemy`` forces SQLAlchemy (see the module docstring). Rows are ordered
    by the timestamp, then the entity key (without one, every other column: ``sources.row_order``). Raises
    ``SourceSchemaError`` (bad URL, missing table or column) or ``SourceError`` (server unreachable) from ``pipelines.data.source_errors``.
    """
    from pipelines.data.adbc_url import use_arrow

    window = Window.for_as_of(as_of, cfg.windows, training_days)
    remove_stale_temp_files(settings.snapshots_dir() / cfg.name)
    folder = settings.snapshots_dir() / cfg.name / f"window={window.start}_{window.end}"
    if use_arrow(source_url):
        path, digest, rows = _ingest_arrow(cfg, window, source_url, folder)
    else:
        path, digest, rows = _ingest_frame(cfg, window, source_url, folder)
    return Snapshot(
        model=cfg.name,
        path=str(path),
        rows=rows,
        content_hash=digest,
        window_start=window.start.isoformat(),
        holdout_start=window.holdout_start.isoformat(),
        window_end=window.end.isoformat(),
    )


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


def _ingest_frame(cfg: ModelConfig, window: Window, source_url: str, folder: Path) -> tuple[Path, str, int]:
    """The SQLAlchemy path: the whole window as one DataFrame, sorted, hashed, written (over a file of that name)."""
    frame = read_window(
        source_url,
        cfg.source,
        cfg.columns.timestamp,
        window,
        future_after=_utc_now(),
        zone=cfg.columns.timestamp_timezone,
    )
    order = row_order(list(frame.columns), cfg.columns.timestamp, cfg.columns.entity_key)
    frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
    digest = content_hash(frame)
    path = folder / f"{digest[:16]}.parquet"
    _write_atomically(frame, path)
    return path, digest, len(frame)


def _ingest_arrow(
    cfg: ModelConfig, window: Window, source_url: str, folder: Path, batch_bytes: int | None = None
) -> tuple[Path, str, int]:
    """The Arrow path: stream the window's batches into a temp parquet file, hashing them on the way.

    The name comes from the hash, so it is known only at the end: the temp file is renamed then, over a file
    of that name if there is one (the same data, perhaps damaged).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.data.adbc_window import open_window
    from pipelines.data.arrow_digest import ArrowDigest

    with open_window(
        source_url,
        cfg.source,
        cfg.columns.timestamp,
        cfg.columns.entity_key,
        window,
        future_after=_utc_now(),
        batch_bytes=batch_bytes,
        zone=cfg.columns.timestamp_timezone,
    ) as stream:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = _temp_path(folder)
        digest = ArrowDigest(stream.schema)
        strings = [f.name for f in stream.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        options = {
            "compression": "snappy",
            # Dictionary encoding where it pays (categories as text): on floats it costs more time than it
            # saves space. Statistics (min/max per row group) on the timestamp only: what a reader prunes by.
            "use_dictionary": strings or False,
            "write_statistics": [cfg.columns.timestamp],
        }

        def write(batch: pa.RecordBatch) -> None:
            writer.write_batch(batch)
            digest.update(batch)

        try:
            # Writing and hashing one batch overlap with fetching the next (all release the GIL).
            with (
                pq.ParquetWriter(tmp, stream.schema, **options) as writer,
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write") as pool,
            ):
                pending: Future[None] | None = None
                for batch in stream.batches:
                    if batch.num_rows == 0:
                        continue
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(write, batch)
                if pending is not None:
                    pending.result()
            content = digest.hexdigest()
            path = folder / f"{content[:16]}.parquet"
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path, content, digest.rows


def _utc_now() -> datetime:
    """Wall-clock time, naive UTC: only rows stamped after it (impossible ones) depend on it."""
    return datetime.now(UTC).replace(tzinfo=None)


def load(snapshot: Snapshot) -> pd.DataFrame:
    """Read a snapshot's rows into a DataFrame."""
    import pandas as pd

    return pd.read_parquet(snapshot.path)


def _write_atomically(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path.parent)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _temp_path(folder: Path) -> Path:
    """A temp file name of this host and process, unique to this call (see ``remove_stale_temp_files``)."""
    return folder / f".ingest-{_HOST}-{os.getpid()}-{uuid.uuid4().hex}.tmp"


def remove_stale_temp_files(folder: Path) -> None:
    """Remove the temp files that killed writers left in ``folder`` (a model's snapshots, one folder a window).

    Stale: a temp file of a process of this host that is gone, or any ingest temp file older than a day
    (written on another host, or by an older release, whose names say no host). A running writer's file
    stays, here or on another host sharing the folder.
    """
    cutoff = time.time() - STALE_TEMP_SECONDS
    for candidate in folder.glob("window=*/.*.tmp"):
        ours = _TEMP_NAME.fullmatch(candidate.name)
        if ours is None and _OLD_TEMP_NAME.fullmatch(candidate.name) is None:
            continue
        dead = ours is not None and ours["host"] == _HOST and not _running(int(ours["pid"]))
        try:
            stale = dead or candidate.stat().st_mtime < cutoff
        except FileNotFoundError:  # its writer just renamed or removed it
            continue
        if stale:
            candidate.unlink(missing_ok=True)
            log.info("removed %s, left by an ingest that did not finish", candidate)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (perhaps another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
