"""The external-memory training's cache folders (``CACHE_PREFIX``), and the sweep of those a killed run left.

A training holds an exclusive ``flock`` on the ``LOCK`` file in its folder for as long as it trains; the kernel
drops it when the process dies, SIGKILL included. A folder whose lock can be taken, or that has no lock file (an
older release's), is stale. A folder is made under a hidden name and renamed once locked, so a sweep never sees a
live one unlocked.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_PREFIX = "xgboost-extmem-"
"""A cache folder's name starts with this."""
LOCK = "lock"


@contextmanager
def cache_folder(parent: str | None) -> Iterator[Path]:
    """A new cache folder in ``parent`` (the system's temporary folder when None), locked while the block runs
    and removed after, failure or not; the stale ones in ``parent`` are removed first.
    """
    root = Path(parent or tempfile.gettempdir())
    sweep(root)
    made = Path(tempfile.mkdtemp(prefix=f".{CACHE_PREFIX}", dir=root))
    folder = root / made.name.removeprefix(".")
    with open(made / LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made.rename(folder)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def sweep(parent: Path) -> None:
    """Remove the stale cache folders in ``parent``, a log line each; a live training's folder stays."""
    for folder in sorted(parent.glob(f"{CACHE_PREFIX}*")):
        if not folder.is_dir():
            continue
        try:
            with open(folder / LOCK) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _remove(folder)
        except FileNotFoundError:  # an older release's folder: no lock file
            _remove(folder)
        except BlockingIOError:  # a live training's
            pass


def _remove(folder: Path) -> None:
    try:
        size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    except FileNotFoundError:  # another sweep is removing it
        return
    shutil.rmtree(folder, ignore_errors=True)
    log.info("removed %s (%.1f MB), the cache of an external-memory training that did not finish", folder, size / 1e6)
