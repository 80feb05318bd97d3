"""Which sources the ADBC engine reads, and the libpq URI it connects with (``pipelines.data.adbc_url``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.config.settings import connect_args
from pipelines.data.adbc_url import libpq_uri, use_arrow, with_connect_timeout
from pipelines.data.ingest import ingest
from pipelines.data.source_errors import SourceSchemaError

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days


@pytest.mark.parametrize("url", ["postgresql+nosuchdriver://user@host/db", "postgresql://user@host:notaport/db"])
def test_bad_postgres_url_is_a_schema_error(demo_cfg: ModelConfig, home: Path, url: str) -> None:
    with pytest.raises(SourceSchemaError, match="bad source URL"):
        ingest(demo_cfg, AS_OF, url)


def test_engine_follows_the_url_with_an_escape_hatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE", raising=False)
    assert use_arrow("postgresql+psycopg2://u@h/db") and use_arrow("postgresql://u@h/db")
    assert not use_arrow("sqlite:///x.db") and not use_arrow("not a url")
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "sqlalchemy")
    assert not use_arrow("postgresql+psycopg2://u@h/db")
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "ADBC")
    assert use_arrow("sqlite:///x.db")
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "fast")
    with pytest.raises(SourceSchemaError, match="PIPELINES_INGEST_ENGINE='fast' is not one of"):
        use_arrow("postgresql://u@h/db")


def test_adbc_engine_refuses_other_databases(
    demo_cfg: ModelConfig, seeded_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "adbc")
    with pytest.raises(SourceSchemaError, match="reads PostgreSQL sources only, not sqlite"):
        ingest(demo_cfg, AS_OF, seeded_source)


@pytest.mark.parametrize("seconds", [None, "", "3", "2.5", "0.2"])
def test_adbc_connects_with_the_deadline_of_the_sqlalchemy_path(
    seconds: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given PIPELINES_DB_CONNECT_TIMEOUT unset, empty or set
    if seconds is None:
        monkeypatch.delenv("PIPELINES_DB_CONNECT_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("PIPELINES_DB_CONNECT_TIMEOUT", seconds)
    # then libpq gets the connect_timeout that psycopg2 gets from settings.connect_args
    expected = connect_args("postgresql://h/db")["connect_timeout"]
    assert with_connect_timeout("postgresql://h/db") == f"postgresql://h/db?connect_timeout={expected}"
    assert with_connect_timeout("postgresql://h/db?sslmode=require") == (
        f"postgresql://h/db?sslmode=require&connect_timeout={expected}"
    )


def test_libpq_uri_keeps_credentials_and_options_and_drops_the_driver() -> None:
    url = "postgresql+psycopg2://ml:p%40ss%2Fw%3Ard@db.example:6543/source?sslmode=require"
    uri = libpq_uri(url)
    assert uri == "postgresql://ml:p%40ss%2Fw%3Ard@db.example:6543/source?sslmode=require"
    assert sa.make_url(uri).password == "p@ss/w:rd"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h/db",
        "postgresql+psycopg://ml:p%40ss@db.example:6543/source?sslmode=require&application_name=x",
        "postgresql+asyncpg://u:@127.0.0.1/db",
        "postgresql+psycopg2://u:p@ss/w:rd@h:5432/db",  # characters that SQLAlchemy quotes
        "postgresql+psycopg2://u:50%off@h/db",
        "postgresql+psycopg2://u@[::1]:5432/db",
        "postgresql+psycopg2://u@h/db?options=-c%20search_path%3Dx&sslmode=require",
    ],
)
def test_libpq_uri_means_what_sqlalchemy_reads(url: str) -> None:
    # the plain URLs are converted without SQLAlchemy, the rest by it: both give SQLAlchemy's reading
    parsed, uri = sa.make_url(url), sa.make_url(libpq_uri(url))
    assert uri.drivername == "postgresql"
    assert uri.set(drivername=parsed.drivername) == parsed
