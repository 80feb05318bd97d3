"""A content hash of a stream of Arrow record batches that does not depend on the batch boundaries."""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HASH_VERSION = "pipelines-arrow-v1"


class ArrowDigest:
    """SHA-256 of a stream of record batches: schema, row count and values, whatever the batch boundaries.

    Each column is hashed on its own: the positions of its nulls, then its valid values as raw
    little-endian bytes (fixed-width types), or their lengths and their bytes (strings, binary). So the
    same rows with the same types give the same digest however the driver splits them into batches.
    Other types (lists, structs, dictionaries) are hashed through their Arrow IPC form batch by batch,
    which does depend on the boundaries (still deterministic for the same driver and data).
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self._parts = [(hashlib.sha256(), hashlib.sha256(), hashlib.sha256()) for _ in schema]

    def update(self, batch: pa.RecordBatch) -> None:
        """Add a batch's rows to the digest."""
        if batch.num_rows == 0:
            return
        for column, (nulls, values, data) in zip(batch.columns, self._parts, strict=True):
            if column.null_count:
                # Offset in numpy: pa.scalar() and to_numpy() would make pyarrow import pandas (~0.4 s).
                positions = np.frombuffer(_buffer(pc.indices_nonzero(column.is_null())), np.uint64)
                nulls.update((positions + np.uint64(self.rows)).tobytes())
                column = column.drop_null()
            if len(column) == 0:
                continue
            kind = column.type
            if pa.types.is_boolean(kind):
                values.update(_buffer(pc.cast(column, pa.uint8())))
            elif _fixed_width(kind):
                values.update(_buffer(column))
            elif _offsets_code(kind):
                values.update(_buffer(pc.binary_length(column)))
                data.update(_string_bytes(column))
            else:
                values.update(pa.record_batch([column], names=["c"]).serialize())
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        """The digest of every row added so far, as hex."""
        digest = hashlib.sha256(HASH_VERSION.encode())
        digest.update("|".join(f"{f.name}:{f.type}" for f in self.schema).encode())
        digest.update(f"rows={self.rows}".encode())
        for parts in self._parts:
            for part in parts:
                digest.update(part.digest())
        return digest.hexdigest()


def _fixed_width(kind: pa.DataType) -> bool:
    try:
        width = kind.bit_width
    except ValueError:
        return False
    return width % 8 == 0 and not pa.types.is_dictionary(kind) and not pa.types.is_nested(kind)


def _offsets_code(kind: pa.DataType) -> Literal["i", "q"] | None:
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return "i"
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        return "q"
    return None


def _buffer(column: pa.Array) -> memoryview:
    """The bytes of a fixed-width array's values, honouring its offset (no copy)."""
    width = column.type.bit_width // 8
    data = column.buffers()[1]
    assert data is not None
    return memoryview(data)[column.offset * width : (column.offset + len(column)) * width]


def _string_bytes(column: pa.Array) -> memoryview:
    """The character bytes of a string or binary array, honouring its offset (no copy)."""
    _, offsets, data = column.buffers()
    code = _offsets_code(column.type)
    assert offsets is not None
    assert code is not None
    positions = memoryview(offsets).cast(code)
    start, end = positions[column.offset], positions[column.offset + len(column)]
    return memoryview(data)[start:end] if data is not None else memoryview(b"")
