"""Named locks in the pipeline's database, so workers on different machines serialise as one.

PostgreSQL: a session advisory lock on a connection held open for the locked block; the server releases it
when the holder's connection ends, also when the process is killed. Other databases (SQLite in embedded
mode): a row in ``pipelines_locks`` naming the holder's host, pid and process start time; a row whose holder
process is gone (same host) is taken over. Every wait has a deadline and ends in ``LockTimeout``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

from pipelines.errors import PipelinesError
from pipelines.registry import db

POLL_SECONDS = 0.2
PROGRESS_EVERY_SECONDS = 15.0


class LockTimeout(PipelinesError, RuntimeError):
    """The lock stayed held by another process past the deadline."""


@contextmanager
def held(name: str, timeout: float, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock ``name`` for the block; wait at most ``timeout`` seconds for it.

    ``waiting`` is told, about every 15 s, that the lock is still held by someone else.
    """
    engine = db.engine()
    acquire = _advisory if engine.dialect.name == "postgresql" else _row
    with acquire(engine, name, _Deadline(name, timeout, waiting)):
        yield


class _Deadline:
    def __init__(self, name: str, timeout: float, waiting: Callable[[str], None] | None) -> None:
        self.name, self.timeout, self.waiting = name, timeout, waiting
        self.start = time.monotonic()
        self.told = self.start

    def wait(self) -> None:
        """Sleep before the next try, or raise when the deadline has passed."""
        now = time.monotonic()
        if now - self.start >= self.timeout:
            raise LockTimeout(f"{self.name}: still held by another process after {self.timeout:g} s")
        if self.waiting is not None and now - self.told >= PROGRESS_EVERY_SECONDS:
            self.told = now
            self.waiting(f"waiting for {self.name}, held by another process ({now - self.start:.0f} s so far)")
        time.sleep(POLL_SECONDS)


@contextmanager
def _advisory(engine: sa.Engine, name: str, deadline: _Deadline) -> Iterator[None]:
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while not conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar():
            deadline.wait()
        try:
            yield
        finally:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))


@contextmanager
def _row(engine: sa.Engine, name: str, deadline: _Deadline) -> Iterator[None]:
    owner = uuid.uuid4().hex
    me = {"host": socket.gethostname(), "pid": os.getpid(), "process_started": _started(os.getpid())}
    table = db.LOCKS
    while True:
        try:
            with engine.begin() as conn:
                conn.execute(table.insert().values(name=name, owner=owner, acquired_at=datetime.now(UTC), **me))
            break
        except sa.exc.IntegrityError:
            with engine.begin() as conn:
                holder = conn.execute(sa.select(table).where(table.c.name == name)).mappings().first()
                if holder is not None and _gone(holder):
                    conn.execute(table.delete().where(table.c.name == name, table.c.owner == holder["owner"]))
                    continue
            deadline.wait()
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(table.delete().where(table.c.name == name, table.c.owner == owner))


def _started(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).create_time())


def _gone(holder: sa.RowMapping) -> bool:
    """The holder ran on this host and its process no longer exists (or is a zombie, or is another process)."""
    import psutil

    if holder["host"] != socket.gethostname():
        return False
    try:
        process = psutil.Process(holder["pid"])
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        return abs(process.create_time() - holder["process_started"]) > 1.0
    except psutil.NoSuchProcess:
        return True
