"""A window's day files of one schema as one DataFrame, built file by file so the window is held about once.

Converting the whole window's Arrow table at once holds the Arrow data and the frame side by side, and the
Arrow buffers freed while converting stay with Arrow's allocator: about 2.3x the frame at the peak. Here
float and time-zone-naive timestamp columns, whose pandas dtype does not depend on missing values (NaN, NaT),
are written into arrays allocated once for the whole window, a day file at a time; every other column
(integers and booleans, which a missing value turns into float64 or object, strings, dates, decimals) is
converted a run of files of ``CONVERT_ROWS`` rows at a time and joined at the end, where ``pd.concat`` unites the
runs' dtypes as one conversion would; each run's freed Arrow buffers go back to the system at once, not when Arrow's
allocator would purge them (later on a busy machine: the peak rose from 1.15x to 1.29x the frame under load).
The frame equals ``pa.concat_tables(tables).to_pandas()``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

CONVERT_ROWS = 50_000
"""Day files are converted together up to this many rows: a conversion costs about 10 ms whatever its rows (a
7k-row window in 49 day files took 0.4 s to convert a day at a time), and a run's Arrow data held beside its
frame stays small."""


def assembled(tables: Iterator[pa.Table], rows: int) -> pd.DataFrame:
    """The tables (``rows`` rows in all, one schema), read one at a time, as one frame."""
    first = next(tables)
    schema = first.schema
    arrays = {f.name: np.empty(rows, dtype=f.type.to_pandas_dtype()) for f in schema if _fixed(f.type)}
    pieces: dict[str, list[pd.Series]] = {f.name: [] for f in schema if f.name not in arrays}
    pending: list[pa.Table] = []

    def convert() -> None:
        rest = pa.concat_tables(pending).to_pandas(split_blocks=True, self_destruct=True)
        pending.clear()
        for name, found in pieces.items():
            found.append(rest.pop(name))
        pa.default_memory_pool().release_unused()

    start = 0
    for table in chain([first], tables):
        if start + table.num_rows > rows:
            raise ValueError(f"the snapshot's files hold more rows than the {rows} of its manifest")
        for name, array in arrays.items():
            array[start : start + table.num_rows] = table.column(name).to_numpy(zero_copy_only=False)
        if pieces:
            pending.append(table.select(list(pieces)))
            if sum(t.num_rows for t in pending) >= CONVERT_ROWS:
                convert()
        start += table.num_rows
        del table
    if pending:
        convert()
    if start != rows:
        raise ValueError(f"the snapshot's files hold {start} rows, its manifest {rows}")
    columns: dict[str, Any] = {
        f.name: arrays.pop(f.name) if f.name in arrays else pd.concat(pieces.pop(f.name), ignore_index=True)
        for f in schema
    }
    return pd.DataFrame(columns, copy=False)


def _fixed(kind: pa.DataType) -> bool:
    """Whether the column's pandas dtype is the same with or without missing values."""
    return pa.types.is_float32(kind) or pa.types.is_float64(kind) or (pa.types.is_timestamp(kind) and kind.tz is None)
