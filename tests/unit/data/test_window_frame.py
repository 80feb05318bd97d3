"""A window's day files assembled file by file: the same frame as one conversion of the whole window, held once."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.data import window_frame
from pipelines.data.window_frame import assembled


def day(n: int, with_nulls: bool) -> pa.Table:
    """A day's table of every kind of column; ``with_nulls`` puts a missing value in each (in row 1)."""
    gap = [1] if with_nulls else []

    def values(make: list) -> list:
        return [None if i in gap else v for i, v in enumerate(make)]

    rows = range(n)
    return pa.table(
        {
            "f64": pa.array(values([i / 3 for i in rows]), pa.float64()),
            "f32": pa.array(values([float(i) for i in rows]), pa.float32()),
            "i64": pa.array(values(list(rows)), pa.int64()),
            "flag": pa.array(values([i % 2 == 0 for i in rows]), pa.bool_()),
            "text": pa.array(values([f"<b>{i}</b>" for i in rows]), pa.string()),
            "ts_us": pa.array(
                values([dt.datetime(2026, 3, 1) + dt.timedelta(seconds=i) for i in rows]), pa.timestamp("us")
            ),
            "ts_ns": pa.array(
                values([dt.datetime(2026, 3, 1) + dt.timedelta(seconds=i) for i in rows]), pa.timestamp("ns")
            ),
            "ts_utc": pa.array(values([dt.datetime(2026, 3, 1) for _ in rows]), pa.timestamp("us", tz="UTC")),
            "day": pa.array(values([dt.date(2026, 3, 1) for _ in rows]), pa.date32()),
            "amount": pa.array(values([Decimal("1.25") for _ in rows]), pa.decimal128(9, 2)),
            "empty": pa.nulls(n),
        }
    )


@pytest.mark.parametrize("convert_rows", [250_000, 6, 1])  # the days converted all at once, in twos, one by one
@pytest.mark.parametrize("nulls", [(False, False, False), (False, True, False), (True, True, True)])
def test_the_frame_is_one_conversion_s_whatever_days_hold_missing_values(
    nulls: tuple[bool, ...], convert_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window_frame, "CONVERT_ROWS", convert_rows)
    tables = [day(5, with_nulls) for with_nulls in nulls]

    found = assembled(iter(tables), 15)

    expected = pa.concat_tables(tables).to_pandas()
    pd.testing.assert_frame_equal(found, expected)
    assert found["i64"].dtype == ("float64" if any(nulls) else "int64")


def test_a_manifest_that_disagrees_with_the_files_is_an_error() -> None:
    with pytest.raises(ValueError, match="hold 10 rows, its manifest 11"):
        assembled(iter([day(5, False), day(5, False)]), 11)
    with pytest.raises(ValueError, match="more rows than the 9 of its manifest"):
        assembled(iter([day(5, False), day(5, False)]), 9)


PEAK = """
import sys
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
from pipelines.data.window_frame import assembled

def status(key):
    return next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(key))

files = sorted(Path(sys.argv[1]).glob("*.parquet"))
rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
assembled((pq.read_table(f) for f in files[:2]), rows=2 * 25_000)  # readers and pools started
base = status("VmRSS")
if sys.argv[2] == "assembled":
    frame = assembled((pq.read_table(f) for f in files), rows)
else:
    frame = pa.concat_tables([pq.read_table(f) for f in files]).to_pandas(split_blocks=True, self_destruct=True)
print((status("VmHWM") - base) * 1024 / frame.memory_usage(deep=True).sum())
"""


def test_the_window_is_held_about_once(tmp_path: Path) -> None:
    # Given: 40 day files of 20 float, 2 integer and 2 text columns, 25,000 rows each
    rng = np.random.default_rng(0)
    for d in range(40):
        columns = {f"c{i}": rng.normal(size=25_000) for i in range(20)}
        columns |= {
            "k": np.arange(25_000),
            "n": rng.integers(0, 9, 25_000),
            "s": rng.choice(["north", "south"], 25_000),
        }
        pq.write_table(
            pa.table(columns | {"t": pa.array(rng.choice(["a", None], 25_000))}), tmp_path / f"{d:02}.parquet"
        )

    # When: each way of reading them runs in a process of its own
    def peak(way: str) -> float:
        done = subprocess.run(
            [sys.executable, "-c", PEAK, str(tmp_path), way], capture_output=True, text=True, check=True
        )
        return float(done.stdout)

    # Then: assembling holds the window about once, one conversion of the whole window about twice
    once, whole = peak("assembled"), peak("whole")
    assert once < 1.3 < 2.0 < whole, (once, whole)
