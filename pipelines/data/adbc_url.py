"""Which sources the ADBC engine reads (``PIPELINES_INGEST_ENGINE``), and the libpq URI it connects with.

Neither needs SQLAlchemy for the usual URLs (only to parse an unusual one, or to word an error), nor
pyarrow: the CLI starts ~0.3 s sooner.
"""

from __future__ import annotations

import os
import re

from pipelines.config import settings
from pipelines.data.source_errors import SourceSchemaError, first_line, safe_url

ENGINE_ENV = "PIPELINES_INGEST_ENGINE"
ENGINES = ("auto", "adbc", "sqlalchemy")
# A URL that SQLAlchemy parses and renders back unchanged, for a PostgreSQL driver SQLAlchemy ships: only
# the scheme changes for libpq. Anything else (other drivers, IPv6 hosts, characters SQLAlchemy re-quotes)
# goes through SQLAlchemy itself.
_TEXT = r"(?:[\w.~-]|%[0-9A-Fa-f]{2})*"
_PLAIN_URL = re.compile(
    r"postgresql(?:\+(?:psycopg2|psycopg|pg8000|asyncpg|psycopg2cffi))?://"
    rf"(?P<rest>(?:{_TEXT}(?::{_TEXT})?@)?[\w.-]+(?::\d{{1,5}})?/{_TEXT}(?:\?(?:{_TEXT}={_TEXT}&?)*)?)",
    re.ASCII,
)


def engine_choice() -> str:
    """``PIPELINES_INGEST_ENGINE``: ``auto`` (unset), ``adbc`` (PostgreSQL only, required) or ``sqlalchemy``."""
    choice = os.environ.get(ENGINE_ENV, "").strip().lower() or "auto"
    if choice not in ENGINES:
        raise SourceSchemaError(f"{ENGINE_ENV}={choice!r} is not one of {', '.join(ENGINES)}")
    return choice


def use_arrow(url: str) -> bool:
    """Whether ``ingest`` reads ``url`` with ADBC: PostgreSQL URLs unless ``PIPELINES_INGEST_ENGINE=sqlalchemy``.

    With ``PIPELINES_INGEST_ENGINE=adbc`` every URL goes this way, so a non-PostgreSQL one is an error
    instead of a silent fallback. The backend is read as SQLAlchemy does (the scheme up to ``+``).
    """
    choice = engine_choice()
    if choice == "sqlalchemy":
        return False
    if choice == "adbc":
        return True
    scheme = re.match(r"([\w+]+)://", url)
    return scheme is not None and scheme[1].partition("+")[0] == "postgresql"


def libpq_uri(url: str) -> str:
    """The libpq URI (``postgresql://user:password@host:port/db?...``) for a SQLAlchemy PostgreSQL URL.

    The driver part (``+psycopg2``) is dropped; an unknown driver is still a bad URL, as on the SQLAlchemy
    path. The result holds the password: never log it (``safe_url`` renders a URL without it).
    """
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None:  # the common case, without importing SQLAlchemy (~0.3 s of CLI start-up)
        return f"postgresql://{plain['rest']}"
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
        parsed.get_dialect()
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:  # ValueError: a bad port
        raise SourceSchemaError(f"bad source URL: {first_line(exc)}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise SourceSchemaError(
            f"{ENGINE_ENV}=adbc reads PostgreSQL sources only, not {parsed.get_backend_name()} ({safe_url(url)})"
        )
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def with_connect_timeout(uri: str) -> str:
    """``uri`` with libpq's ``connect_timeout``: ``PIPELINES_DB_CONNECT_TIMEOUT`` whole seconds (default 10).

    The same deadline as ``pipelines.data.sources.connect_args``, without importing SQLAlchemy; it overrides one in
    the URL, as ``connect_args`` do on the SQLAlchemy path.
    """
    seconds = settings.connect_timeout_seconds()
    return f"{uri}{'&' if '?' in uri else '?'}connect_timeout={seconds}"
