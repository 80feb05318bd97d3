"""The content hash of a stream of Arrow batches (``pipelines.data.arrow_digest``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from pipelines.data.arrow_digest import ArrowDigest


def digest_of(table: pa.Table, rows_per_batch: int) -> str:
    digest = ArrowDigest(table.schema)
    for batch in table.to_batches(max_chunksize=rows_per_batch):
        digest.update(batch)
    return digest.hexdigest()


@pytest.fixture
def mixed() -> pa.Table:
    n = 1000
    return pa.table(
        {
            "ts": pa.array([datetime(2026, 1, 1) + timedelta(minutes=i) for i in range(n)], pa.timestamp("us")),
            "x": pa.array([None if i % 7 == 0 else i * 0.5 for i in range(n)], pa.float64()),
            "k": pa.array(range(n), pa.int64()),
            "s": pa.array([None if i % 11 == 0 else "abc"[: i % 4] * (i % 5) for i in range(n)], pa.string()),
            "b": pa.array([None if i % 13 == 0 else i % 2 == 0 for i in range(n)], pa.bool_()),
            "l": pa.array([[i, i + 1] for i in range(n)], pa.list_(pa.int64())),
        }
    )


def test_digest_is_the_same_whatever_the_batch_boundaries(mixed: pa.Table) -> None:
    flat = mixed.drop_columns(["l"])  # lists are hashed per batch (IPC): boundaries matter there
    hashes = {digest_of(flat, size) for size in (1, 7, 64, 333, 1000)}
    assert len(hashes) == 1
    assert digest_of(mixed, 100) == digest_of(mixed, 100)


def test_digest_changes_with_values_nulls_order_and_types(mixed: pa.Table) -> None:
    flat = mixed.drop_columns(["l"])
    reference = digest_of(flat, 100)
    changed_value = flat.set_column(2, "k", pa.array(range(1, 1001), pa.int64()))
    one_more_null = flat.set_column(1, "x", pa.array([None, *flat["x"].to_pylist()[1:-1], None], pa.float64()))
    reordered = flat.take(pa.array([1, 0, *range(2, 1000)]))
    retyped = flat.set_column(2, "k", flat["k"].cast(pa.int32()))
    renamed = flat.rename_columns(["ts", "x", "key", "s", "b"])
    text = flat["s"].to_pylist()
    assert text[:3] == [None, "a", "abab"]
    moved_text = flat.set_column(3, "s", pa.array([None, "aa", "bab", *text[3:]], pa.string()))  # same bytes
    others = [changed_value, one_more_null, reordered, retyped, renamed, moved_text, flat.slice(0, 999)]
    digests = {digest_of(table, 100) for table in others}
    assert reference not in digests and len(digests) == len(others)
