"""A window's snapshot composed of day files: its manifest and its content hash.

A snapshot's ``path`` is its manifest, ``<model>/window=<start>_<end>/<hash16>.json``: the engine that read
it, its schema (Arrow IPC, so an empty window still loads with its columns and dtypes) and its day files oldest
first, each with its day, content digest and rows (paths relative to the model's folder, so a store can move).
Days after the window (rows stamped impossibly late) come last, as they sort.

The content hash is SHA-256 over ``HASH_VERSION``, the engine, the schema and each day's ISO date and digest,
in day order: the same whether the days were read in one run or reused from earlier ones. The day digests are
each engine's own (``arrow_digest.ArrowDigest``, ``frame_days.content_hash``), so the engines hash differently,
each deterministically. A snapshot written before day files (one parquet file as ``path``) still reads.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import pyarrow as pa

from pipelines.data.snapshot_store import SnapshotStore, open_input
from pipelines.errors import PipelinesError

HASH_VERSION = "pipelines-days-v1"
Engine = Literal["arrow", "frame"]


class SnapshotMissing(PipelinesError, FileNotFoundError):
    """A snapshot's manifest or one of its files is not in the snapshot store."""


@dataclass(frozen=True)
class DayPart:
    """One day's file of a snapshot: ``file`` relative to the model's folder."""

    day: date
    file: str
    digest: str
    rows: int


@dataclass(frozen=True)
class Manifest:
    """What a snapshot is made of (see the module docstring)."""

    engine: Engine
    schema: pa.Schema
    parts: tuple[DayPart, ...]

    @property
    def content_hash(self) -> str:
        """The window's content hash, composed from the schema and the day digests."""
        return window_hash(self.engine, self.schema, self.parts)

    @property
    def rows(self) -> int:
        """The rows of every day."""
        return sum(part.rows for part in self.parts)


def day_file(day: date, digest: str) -> str:
    """The file of a day's rows with content ``digest``, relative to the model's folder."""
    return f"days/{day.isoformat()}/{digest[:16]}.parquet"


def schema_text(engine: Engine, schema: pa.Schema) -> str:
    """What of the schema the hash covers: Arrow names and types; column names for the pandas engine, whose
    day digests already cover each day's dtypes (which may differ by day: see ``snapshot_reader``).
    """
    if engine == "arrow":
        return "|".join(f"{f.name}:{f.type}" for f in schema)
    return "|".join(schema.names)


def window_hash(engine: Engine, schema: pa.Schema, parts: Sequence[DayPart]) -> str:
    """SHA-256 over the version, engine, schema and each day's date and digest, in day order."""
    digest = hashlib.sha256(f"{HASH_VERSION}|{engine}|{schema_text(engine, schema)}".encode())
    for part in sorted(parts, key=lambda p: p.day):
        digest.update(f"|{part.day.isoformat()}:{part.digest}".encode())
    return digest.hexdigest()


def write_manifest(store: SnapshotStore, folder: str, manifest: Manifest) -> str:
    """Write the manifest into the window's ``folder`` as ``<hash16>.json`` (whole, over a file of that name);
    returns its path.
    """
    content = {
        "version": HASH_VERSION,
        "engine": manifest.engine,
        "content_hash": manifest.content_hash,
        "schema": base64.b64encode(manifest.schema.serialize().to_pybytes()).decode(),
        "days": [
            {"day": p.day.isoformat(), "file": p.file, "digest": p.digest, "rows": p.rows}
            for p in sorted(manifest.parts, key=lambda p: p.day)
        ],
    }
    path = f"{folder}/{manifest.content_hash[:16]}.json"
    store.write_bytes(path, json.dumps(content, indent=1).encode())
    return path


def read_manifest(path: str) -> Manifest:
    """The manifest at ``path``; ``SnapshotMissing`` when it is not there."""
    try:
        with open_input(path) as handle:
            content = json.load(handle)
    except FileNotFoundError:
        raise SnapshotMissing(f"no snapshot manifest at {path}") from None
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(content["schema"])))
    parts = tuple(
        DayPart(date.fromisoformat(d["day"]), d["file"], d["digest"], int(d["rows"])) for d in content["days"]
    )
    return Manifest(content["engine"], schema, parts)


def is_manifest(path: str) -> bool:
    """Whether a snapshot's ``path`` is a manifest (else a single parquet file, as snapshots once were)."""
    return path.endswith(".json")


def part_path(manifest_path: str, part: DayPart) -> str:
    """The path or URL of a day file of the snapshot whose manifest is at ``manifest_path``."""
    model_folder = manifest_path.rsplit("/", 2)[0]
    return f"{model_folder}/{part.file}"


def snapshot_files(path: str) -> tuple[str, ...]:
    """The parquet files of the snapshot at ``path``, oldest rows first."""
    if not is_manifest(path):
        return (path,)
    return tuple(part_path(path, part) for part in read_manifest(path).parts)
