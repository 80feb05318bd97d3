"""A snapshot: the immutable parquet file of one data window, as XCom and lineage tags refer to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from pipelines.data.windows import Window


@dataclass(frozen=True)
class Snapshot:
    """A written snapshot: what XCom and lineage tags carry instead of data."""

    model: str
    path: str
    rows: int
    content_hash: str
    window_start: str
    holdout_start: str
    window_end: str

    def to_dict(self) -> dict[str, object]:
        """The snapshot's fields as a plain dict."""
        return asdict(self)

    def files(self) -> tuple[str, ...]:
        """The snapshot's parquet files, oldest rows first."""
        return (self.path,)

    @property
    def window(self) -> Window:
        """The data window the snapshot holds."""
        return Window(
            date.fromisoformat(self.window_start),
            date.fromisoformat(self.holdout_start),
            date.fromisoformat(self.window_end),
        )
