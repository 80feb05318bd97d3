"""Giving memory freed by one stage back to the system before the next stage of the same process runs."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

SMALL_WINDOW_CELLS = 2_000_000
"""A window of fewer values (rows times columns read) than this, about 16 MB of floats, leaves too little behind to
be worth the full garbage collection a release needs: 0.3-0.5 s in a process that has loaded GX and MLflow
(Airflow's too, in a task), paid twice a retrain."""


def release_freed_memory(cells: int) -> None:
    """Return what was freed to the system after a stage that held a window of ``cells`` values, unless it is
    under ``SMALL_WINDOW_CELLS``: Arrow's allocator keeps freed buffers for later Arrow buffers, and glibc keeps
    freed heap pages, which the next stage's NumPy arrays and XGBoost matrices do not always reuse. After the
    gate, a retrain that runs on in one process (the CLI) kept up to a window's worth of such memory through
    training. Where the C library has no ``malloc_trim`` (not glibc), only Arrow's memory is released.
    """
    if cells < SMALL_WINDOW_CELLS:
        return
    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None
