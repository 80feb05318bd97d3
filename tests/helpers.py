"""Small helpers shared by tests of every level."""

from __future__ import annotations

import sqlalchemy as sa


def execute(url: str, *statements: str) -> None:
    """Run SQL statements against ``url`` in one transaction."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
