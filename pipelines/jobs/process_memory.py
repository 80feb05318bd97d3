"""Giving memory freed by one stage back to the system before the next stage of the same process runs."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def release_freed_memory() -> None:
    """Return what was freed to the system: Arrow's allocator keeps freed buffers for later Arrow buffers, and
    glibc keeps freed heap pages, which the next stage's NumPy arrays and XGBoost matrices do not always reuse.
    After the gate, a retrain that runs on in one process (the CLI) kept up to a window's worth of such memory
    through training. Where the C library has no ``malloc_trim`` (not glibc), only Arrow's memory is released.
    """
    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None
