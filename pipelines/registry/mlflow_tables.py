"""MLflow's registry and run tables, read and written with SQLAlchemy Core when the store is a SQL database.

``import mlflow`` alone takes over a second (it imports its GenAI, gateway and server modules) and its SQL store
adds Alembic and its ORM models: more than the whole budget of ``status`` or ``rollback``, which need a few rows
(the version an alias points at, a version's tags, the newest monitor run) and, to move the champion, two alias
rows and a tag. Each operation here does what MLflow 3's ``SqlAlchemyStore`` does for it in the default workspace
(the pipeline never turns MLflow workspaces on). Anything else raises ``Unanswered`` -- a version that is not
there, a name MLflow might refuse, tables of another schema -- and the caller asks MLflow itself, which answers or
fails exactly as before. ``tests/unit/registry/test_mlflow_tables.py`` checks every operation against MLflow.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple, TypeVar

import sqlalchemy as sa

from pipelines.config.settings import connect_args
from pipelines.data.source_errors import first_line, safe_url
from pipelines.errors import PipelinesError

T = TypeVar("T")
SQL_SCHEMES = frozenset({"sqlite", "postgresql"})
"""Stores read and written here (tested on both); MySQL and SQL Server stores go through MLflow."""
WORKSPACE = "default"
"""MLflow's workspace when workspaces are off: every row the pipeline writes carries it."""
DELETED = "Deleted_Internal"
"""``model_versions.current_stage`` of a version MLflow deleted but keeps for a while: never answered."""
_TAG_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,249}")
"""Tag keys written here: a subset of what MLflow accepts (letters, digits, ``_ . -``, no path tricks)."""
_MAX_TAG_VALUE = 100_000
_ALIAS = re.compile(r"[a-z][a-z0-9_\-]{0,254}")
"""Alias names written here: MLflow's alias characters, never its reserved ``latest`` or ``v<number>``."""

_META = sa.MetaData()


def _table(name: str, *columns: str, numbers: tuple[str, ...] = ()) -> sa.Table:
    """The columns of one of MLflow's tables that the pipeline reads or writes (never created here)."""
    return sa.Table(name, _META, *(sa.Column(c, sa.BigInteger if c in numbers else sa.String) for c in columns))


REGISTERED_MODELS = _table("registered_models", "workspace", "name")
MODEL_VERSIONS = _table(
    "model_versions", "workspace", "name", "version", "run_id", "current_stage", numbers=("version",)
)
VERSION_TAGS = _table("model_version_tags", "workspace", "name", "version", "key", "value", numbers=("version",))
ALIASES = _table("registered_model_aliases", "workspace", "name", "alias", "version", numbers=("version",))
EXPERIMENTS = _table("experiments", "experiment_id", "workspace", "name", numbers=("experiment_id",))
RUNS = _table(
    "runs", "run_uuid", "experiment_id", "start_time", "lifecycle_stage", numbers=("experiment_id", "start_time")
)
RUN_TAGS = _table("tags", "run_uuid", "key", "value")


class StoreUnreachable(PipelinesError, RuntimeError):
    """The MLflow tracking or registry store did not answer in time."""


class Unanswered(Exception):
    """These tables cannot answer this one exactly as MLflow would: ask MLflow."""


class StoredVersion(NamedTuple):
    """A model version as stored: its number, the run that logged it and its tags."""

    version: int
    run_id: str | None
    tags: dict[str, str]


class StoredRun(NamedTuple):
    """A run as ``status`` needs it: its id, start (milliseconds since the epoch) and tags."""

    run_id: str
    start_time: int
    tags: dict[str, str]


def for_uri(uri: str) -> Tables | None:
    """The tables of the MLflow store at ``uri``; None when it is not a SQL database or uses workspaces."""
    scheme = uri.split(":", 1)[0].split("+", 1)[0]
    if scheme not in SQL_SCHEMES or os.environ.get("MLFLOW_ENABLE_WORKSPACES") or os.environ.get("MLFLOW_WORKSPACE"):
        return None
    return Tables(uri)


@dataclass(frozen=True)
class Tables:
    """MLflow's tables in the SQL database at ``uri``."""

    uri: str

    def by_alias(self, model: str, alias: str) -> StoredVersion | None:
        """The live version ``alias`` points at, or None (no such alias or model, or a deleted version)."""

        def read(conn: sa.Connection) -> StoredVersion | None:
            number = conn.execute(
                sa.select(ALIASES.c.version)
                .join(MODEL_VERSIONS, _same_version(ALIASES, MODEL_VERSIONS))
                .where(*_named(ALIASES, model), ALIASES.c.alias == alias, MODEL_VERSIONS.c.current_stage != DELETED)
            ).scalar()
            return None if number is None else _stored(conn, model, int(number))

        return self._run(read)

    def version(self, model: str, number: int) -> StoredVersion:
        """A live version with its tags; ``Unanswered`` when there is none (MLflow words that error)."""

        def read(conn: sa.Connection) -> StoredVersion:
            found = _stored(conn, model, number)
            if found is None:
                raise Unanswered
            return found

        return self._run(read)

    def versions(self, model: str) -> list[StoredVersion]:
        """Every live version of ``model`` with its tags, in no particular order."""

        def read(conn: sa.Connection) -> list[StoredVersion]:
            rows = conn.execute(
                sa.select(MODEL_VERSIONS.c.version, MODEL_VERSIONS.c.run_id).where(
                    *_named(MODEL_VERSIONS, model), MODEL_VERSIONS.c.current_stage != DELETED
                )
            ).all()
            tags = _tags(conn, model, None)
            return [StoredVersion(int(r.version), r.run_id, tags.get(int(r.version), {})) for r in rows]

        return self._run(read)

    def latest_run(self, experiment: str, key: str, value: str) -> StoredRun | None:
        """The newest active run of the experiment named ``experiment`` tagged ``key = value``, or None."""

        def read(conn: sa.Connection) -> StoredRun | None:
            tagged = sa.select(RUN_TAGS.c.run_uuid).where(RUN_TAGS.c.key == key, RUN_TAGS.c.value == value)
            in_experiment = sa.select(EXPERIMENTS.c.experiment_id).where(
                EXPERIMENTS.c.name == experiment, EXPERIMENTS.c.workspace == WORKSPACE
            )
            row = conn.execute(
                sa.select(RUNS.c.run_uuid, RUNS.c.start_time)
                .where(
                    RUNS.c.experiment_id.in_(in_experiment),
                    RUNS.c.lifecycle_stage == "active",
                    RUNS.c.run_uuid.in_(tagged),
                )
                .order_by(RUNS.c.start_time.is_(None), RUNS.c.start_time.desc(), RUNS.c.run_uuid)
                .limit(1)
            ).first()
            if row is None:
                return None
            pairs = conn.execute(sa.select(RUN_TAGS.c.key, RUN_TAGS.c.value).where(RUN_TAGS.c.run_uuid == row.run_uuid))
            return StoredRun(row.run_uuid, int(row.start_time or 0), {k: v for k, v in pairs})

        return self._run(read)

    def set_alias(self, model: str, alias: str, number: int) -> None:
        """Point ``alias`` at a live version (an upsert of its row, as MLflow's ``merge``)."""
        _check_alias(alias)

        def write(conn: sa.Connection) -> None:
            if not _live(conn, model, number):
                raise Unanswered
            _upsert(conn, ALIASES, {"name": model, "alias": alias}, {"version": number})

        self._run(write, writes=True)

    def delete_alias(self, model: str, alias: str) -> None:
        """Remove ``alias``; an alias that is not there is fine, a model that is not there is MLflow's to word."""
        _check_alias(alias)

        def write(conn: sa.Connection) -> None:
            exists = conn.execute(sa.select(REGISTERED_MODELS.c.name).where(*_named(REGISTERED_MODELS, model))).first()
            if exists is None:
                raise Unanswered
            conn.execute(ALIASES.delete().where(*_named(ALIASES, model), ALIASES.c.alias == alias))

        self._run(write, writes=True)

    def set_tags(self, model: str, number: int, tags: dict[str, str]) -> None:
        """Set tags on a live version, all in one transaction."""
        if not all(_TAG_KEY.fullmatch(k) and len(v) <= _MAX_TAG_VALUE for k, v in tags.items()):
            raise Unanswered

        def write(conn: sa.Connection) -> None:
            if not _live(conn, model, number):
                raise Unanswered
            for key, value in tags.items():
                _upsert(conn, VERSION_TAGS, {"name": model, "version": number, "key": key}, {"value": value})

        self._run(write, writes=True)

    def delete_tag(self, model: str, number: int, key: str) -> None:
        """Remove a tag from a live version; a tag that is not there is fine."""
        if not _TAG_KEY.fullmatch(key):
            raise Unanswered

        def write(conn: sa.Connection) -> None:
            if not _live(conn, model, number):
                raise Unanswered
            same = (*_named(VERSION_TAGS, model), VERSION_TAGS.c.version == number, VERSION_TAGS.c.key == key)
            conn.execute(VERSION_TAGS.delete().where(*same))

        self._run(write, writes=True)

    def _run(self, work: Callable[[sa.Connection], T], writes: bool = False) -> T:
        """``work`` on one connection (in a transaction when it ``writes``); tables MLflow laid out otherwise, or
        not at all yet, make it ``Unanswered``; a store that does not connect is ``StoreUnreachable``.
        """
        with self._connection() as conn:
            try:
                if not writes:
                    return work(conn)
                with conn.begin():
                    return work(conn)
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                raise Unanswered from exc

    @contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        try:
            conn = _engine(self.uri).connect()
        except sa.exc.DBAPIError as exc:
            detail = first_line(exc.orig or exc)
            raise StoreUnreachable(f"the MLflow store {safe_url(self.uri)} is unreachable: {detail}") from None
        with conn:
            yield conn


@cache
def _engine(uri: str) -> sa.Engine:
    """One engine per store, without a pool (each verb makes a handful of calls), with the connect deadline."""
    return sa.create_engine(uri, poolclass=sa.NullPool, connect_args=connect_args(uri))


def _named(table: sa.Table, model: str) -> tuple[sa.ColumnElement[bool], ...]:
    return table.c.workspace == WORKSPACE, table.c.name == model


def _same_version(left: sa.Table, right: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(
        left.c.workspace == right.c.workspace, left.c.name == right.c.name, left.c.version == right.c.version
    )


def _live(conn: sa.Connection, model: str, number: int) -> bool:
    query = sa.select(MODEL_VERSIONS.c.version).where(
        *_named(MODEL_VERSIONS, model), MODEL_VERSIONS.c.version == number, MODEL_VERSIONS.c.current_stage != DELETED
    )
    return conn.execute(query).first() is not None


def _stored(conn: sa.Connection, model: str, number: int) -> StoredVersion | None:
    row = conn.execute(
        sa.select(MODEL_VERSIONS.c.run_id).where(
            *_named(MODEL_VERSIONS, model),
            MODEL_VERSIONS.c.version == number,
            MODEL_VERSIONS.c.current_stage != DELETED,
        )
    ).first()
    return None if row is None else StoredVersion(number, row.run_id, _tags(conn, model, number).get(number, {}))


def _tags(conn: sa.Connection, model: str, number: int | None) -> dict[int, dict[str, str]]:
    """Tags by version, of one version or (``number`` None) of all."""
    query = sa.select(VERSION_TAGS.c.version, VERSION_TAGS.c.key, VERSION_TAGS.c.value).where(
        *_named(VERSION_TAGS, model)
    )
    if number is not None:
        query = query.where(VERSION_TAGS.c.version == number)
    found: dict[int, dict[str, str]] = {}
    for version, key, value in conn.execute(query):
        found.setdefault(int(version), {})[key] = value
    return found


def _upsert(conn: sa.Connection, table: sa.Table, key: dict[str, object], values: dict[str, object]) -> None:
    """Update the row with primary key ``key`` (in the default workspace), or insert it."""
    key = {"workspace": WORKSPACE, **key}
    same = [table.c[name] == value for name, value in key.items()]
    if conn.execute(table.update().where(*same).values(**values)).rowcount == 0:
        conn.execute(table.insert().values(**key, **values))


def _check_alias(alias: str) -> None:
    if not _ALIAS.fullmatch(alias) or alias == "latest" or re.fullmatch(r"v\d+", alias):
        raise Unanswered
