"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.warm_cli import WarmCli


@pytest.fixture(scope="module")
def warm_cli() -> Iterator[WarmCli]:
    """A warm CLI server for the module's tests, stopped after them."""
    server = WarmCli()
    yield server
    server.close()
