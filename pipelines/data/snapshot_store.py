"""Where snapshot files live: a local folder (``settings.snapshots_dir()``, the default) or any fsspec URL
(``PIPELINES_SNAPSHOT_URL``, e.g. an object store); fsspec is imported only for a URL.

Layout under the root, per model: ``days/<YYYY-MM-DD>/<digest16>.parquet``, one content-addressed file per UTC day
(shared by every window that holds the day), and ``window=<start>_<end>/<hash16>.json``, the manifest of one
window's snapshot (``snapshot_parts``). Day folders are plain dates, so no reader takes them for hive partitions.

Files are written to a temp file named after this host and process, then moved over the final name, also when
a file of that name exists: content-addressed, so the data are the same, and a file a crash or a full disk left
damaged is whole again after the next run. Each ingest first removes the temp files that writers killed mid-run
left behind (``remove_stale_temp_files``).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pipelines.config import settings

log = logging.getLogger(__name__)

STALE_TEMP_SECONDS = 24 * 3600
"""A temp file this old is stale whoever wrote it: no ingest runs for a day."""
TEMP_FOLDERS = ("window=*", "days/*")
"""The folders of a model where ingest writes temp files."""
HOST = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "unknown-host"
TEMP_NAME = re.compile(r"\.ingest-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{32}\.tmp")
_OLD_TEMP_NAME = re.compile(r"\.(?:ingest-\d+-[0-9a-f]{32}|[0-9a-f]{16}\.parquet\.\d+)\.tmp")  # no host in them


def is_url(path: str) -> bool:
    """Whether ``path`` is an fsspec URL (``scheme://...``) rather than a local path."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", path) is not None


@contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """A snapshot file (a local path or an fsspec URL) opened for reading."""
    if not is_url(path):
        with open(path, "rb") as handle:
            yield handle
        return
    import fsspec

    with fsspec.open(path, "rb") as handle:
        yield handle


class SnapshotStore:
    """The snapshot root: ``root`` (a local folder or an fsspec URL), by default ``PIPELINES_SNAPSHOT_URL`` or
    ``settings.snapshots_dir()``. Paths it takes and gives are local path strings or full URLs.
    """

    def __init__(self, root: str | None = None) -> None:
        self.root = (root or settings.snapshot_url() or str(settings.snapshots_dir())).rstrip("/")
        self._fs: Any = None
        if is_url(self.root):
            import fsspec

            self._fs, _ = fsspec.core.url_to_fs(self.root)

    def join(self, *parts: str) -> str:
        """``root/part/...`` as a path or URL."""
        return "/".join((self.root, *parts))

    def makedirs(self, folder: str) -> None:
        """Create ``folder`` (object stores have no folders: nothing to do there)."""
        if self._fs is None:
            Path(folder).mkdir(parents=True, exist_ok=True)
        else:
            self._fs.makedirs(self._strip(folder), exist_ok=True)

    def temp_path(self, folder: str) -> str:
        """A temp file name in ``folder`` of this host and process, unique to this call."""
        return f"{folder}/.ingest-{HOST}-{os.getpid()}-{uuid.uuid4().hex}.tmp"

    @contextmanager
    def open_output(self, path: str) -> Iterator[IO[bytes]]:
        """``path`` opened for writing (a temp file: see ``replace``)."""
        if self._fs is None:
            with open(path, "wb") as handle:
                yield handle
        else:
            with self._fs.open(self._strip(path), "wb") as handle:
                yield handle

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` whole: into a temp file of its folder, then moved over ``path``."""
        folder = path.rsplit("/", 1)[0]
        self.makedirs(folder)
        temp = self.temp_path(folder)
        try:
            with self.open_output(temp) as handle:
                handle.write(data)
            self.replace(temp, path)
        finally:
            self.remove(temp)

    def replace(self, temp: str, path: str) -> None:
        """Move a written temp file over ``path`` (atomic on a local disk; a copy on object stores)."""
        if self._fs is None:
            os.replace(temp, path)
        else:
            self._fs.mv(self._strip(temp), self._strip(path))

    def remove(self, path: str) -> None:
        """Remove ``path`` if it exists."""
        if self._fs is None:
            Path(path).unlink(missing_ok=True)
        elif self._fs.exists(self._strip(path)):
            self._fs.rm(self._strip(path))

    def size(self, path: str) -> int | None:
        """The size of ``path`` in bytes, None when there is no such file."""
        try:
            if self._fs is None:
                return Path(path).stat().st_size
            return int(self._fs.size(self._strip(path)))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def remove_stale_temp_files(self, model_root: str) -> None:
        """Remove the temp files that killed writers left under a model's folder (``TEMP_FOLDERS``).

        Stale: a temp file of a process of this host that is gone, or any ingest temp file older than a day
        (written on another host, or by an older release, whose names say no host). A running writer's file
        stays, here or on another host sharing the store.
        """
        cutoff = time.time() - STALE_TEMP_SECONDS
        for candidate in self._temp_files(model_root):
            name = candidate.rsplit("/", 1)[-1]
            ours = TEMP_NAME.fullmatch(name)
            if ours is None and _OLD_TEMP_NAME.fullmatch(name) is None:
                continue
            dead = ours is not None and ours["host"] == HOST and not _running(int(ours["pid"]))
            modified = self._modified(candidate)
            if modified is None:  # its writer just renamed or removed it
                continue
            if dead or modified < cutoff:
                self.remove(candidate)
                log.info("removed %s, left by an ingest that did not finish", candidate)

    def _temp_files(self, model_root: str) -> list[str]:
        if self._fs is None:
            return [str(p) for pattern in TEMP_FOLDERS for p in Path(model_root).glob(f"{pattern}/.*.tmp")]
        found = []
        for pattern in TEMP_FOLDERS:
            found += [
                self._fs.unstrip_protocol(p) for p in self._fs.glob(f"{self._strip(model_root)}/{pattern}/.*.tmp")
            ]
        return found

    def _modified(self, path: str) -> float | None:
        """The file's modification time (seconds since the epoch), None when it is gone."""
        try:
            if self._fs is None:
                return Path(path).stat().st_mtime
            return float(self._fs.modified(self._strip(path)).timestamp())
        except FileNotFoundError:
            return None
        except NotImplementedError:  # a store that keeps no times: only dead writers' files are removed
            return time.time()

    def _strip(self, path: str) -> str:
        return str(self._fs._strip_protocol(path))


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
