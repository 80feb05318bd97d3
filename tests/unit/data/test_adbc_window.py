"""Reading a window over ADBC (``pipelines.data.adbc_window``): errors in one line, and no Airflow anywhere.

The tests that need the PostgreSQL server are in ``tests/integration/test_arrow_source_postgres.py``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest
from pipelines.data.source_errors import SourceError, SourceSchemaError

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days


def test_unreachable_server_is_a_source_error_without_the_password(demo_cfg: ModelConfig, home: Path) -> None:
    url = "postgresql+psycopg2://postgres:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(SourceError) as info:
        ingest(demo_cfg, AS_OF, url)
    assert not isinstance(info.value, SourceSchemaError), "retrying may help"
    message = str(info.value)
    assert "s3cret-pw" not in message and "***" in message and "127.0.0.1" in message
    assert "\n" not in message
