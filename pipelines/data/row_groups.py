"""A snapshot's parquet files as row groups read apart, for engines that read the data in partitions.

Each row group knows where its rows stand in the snapshot: ``ROW`` numbers the rows of the files read one
after the other, in the order ``Snapshot.files()`` lists them, as ``snapshot_reader.load`` reads them; it
restores that order after any shuffle. Columns whose type differs between day files are cast to the window's
dtype, as ``load`` casts them. Paths are local paths or fsspec URLs (``snapshot_store.open_input``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.data.snapshot_parts import SnapshotMissing
from pipelines.data.snapshot_reader import window_casts
from pipelines.data.snapshot_store import open_input
from pipelines.errors import PipelinesError

ROW = "__row"


class SnapshotReadError(PipelinesError, OSError):
    """A snapshot file that cannot be read as parquet, or a snapshot without files."""


@dataclass(frozen=True)
class RowGroup:
    """One row group of one snapshot file; its rows are the snapshot's ``first_row .. first_row + rows - 1``."""

    path: str
    index: int
    first_row: int
    rows: int


@dataclass(frozen=True)
class RowGroups:
    """A snapshot's row groups in order, the first file's Arrow schema, and the window's casts."""

    groups: tuple[RowGroup, ...]
    schema: Any
    casts: dict[str, Any]

    def empty(self, names: Sequence[str]) -> pd.DataFrame:
        """No rows, with the columns ``names`` and ``ROW`` typed as ``read_row_group`` gives them."""
        frame = _cast(self.schema.empty_table().select(list(names)).to_pandas(), self.casts)
        frame[ROW] = np.empty(0, dtype="int64")
        return frame


def row_groups(files: Sequence[str]) -> RowGroups:
    """The row groups of ``files`` in order (read from the files' footers only)."""
    if not files:
        raise SnapshotReadError("the snapshot lists no files")
    groups: list[RowGroup] = []
    schemas = []
    for path in files:
        metadata = _footer(path)
        schemas.append(metadata.schema.to_arrow_schema())
        for index in range(metadata.num_row_groups):
            first = groups[-1].first_row + groups[-1].rows if groups else 0
            groups.append(RowGroup(path, index, first, metadata.row_group(index).num_rows))
    return RowGroups(tuple(groups), schemas[0], window_casts(schemas))


def read_row_group(group: RowGroup, names: Sequence[str], casts: dict[str, Any]) -> pd.DataFrame:
    """The row group's rows of the columns ``names`` cast to the window's dtypes, their position as ``ROW``."""
    import pyarrow.parquet as pq

    try:
        with open_input(group.path) as handle:
            table = pq.ParquetFile(handle).read_row_group(group.index, columns=list(names))
    except FileNotFoundError:
        raise SnapshotMissing(f"a snapshot file is missing: {group.path}") from None
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise SnapshotReadError(f"snapshot file {group.path} cannot be read: {exc}") from exc
    frame = _cast(table.to_pandas(), casts)
    frame[ROW] = np.arange(group.first_row, group.first_row + group.rows, dtype="int64")
    return frame


def _footer(path: str) -> Any:
    import pyarrow.parquet as pq

    try:
        with open_input(path) as handle:
            return pq.ParquetFile(handle).metadata
    except FileNotFoundError:
        raise SnapshotMissing(f"a snapshot file is missing: {path}") from None
    except (OSError, ValueError) as exc:
        raise SnapshotReadError(f"snapshot file {path} cannot be read: {exc}") from exc


def _cast(frame: pd.DataFrame, casts: dict[str, Any]) -> pd.DataFrame:
    wanted = {name: kind for name, kind in casts.items() if name in frame.columns and frame[name].dtype != kind}
    return frame.astype(wanted) if wanted else frame
