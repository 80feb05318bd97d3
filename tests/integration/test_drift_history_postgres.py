"""Drift statistics, reference profiles, the drift policy and its consecutive/cooldown rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipelines.drift.confirmation import CheckRecord

NOW = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


# --- statistics against independently computed values ---


# --- the report ---


# --- bad input ---


# --- the profile ---


# --- consecutive checks and cooldown ---


def test_workers_with_their_own_folders_share_the_history_in_the_database(
    tmp_path: Path, postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.config.loading import load_model
    from pipelines.jobs.monitor import history

    # given two workers with different state folders and one PostgreSQL database
    monkeypatch.setenv("PIPELINES_LEDGER_URL", postgres_db)
    cfg = load_model("demo")
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path / "worker-a"))
    # when one records two checks, the second at a time given in another zone
    history(cfg).append(CheckRecord(NOW - timedelta(days=1), drift=True))
    history(cfg).append(CheckRecord(NOW.astimezone(timezone(timedelta(hours=2))), drift=True))
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path / "worker-b"))
    # then the other sees both as UTC instants, and its re-run of a check replaces the record
    seen = history(cfg).records()
    assert seen == [CheckRecord(NOW - timedelta(days=1), drift=True), CheckRecord(NOW, drift=True)]
    assert {r.time.utcoffset() for r in seen} == {timedelta(0)}
    history(cfg).append(CheckRecord(NOW, drift=True, triggered=True))
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path / "worker-a"))
    assert history(cfg).records()[-1] == CheckRecord(NOW, drift=True, triggered=True)
    assert len(history(cfg).records()) == 2
    assert not (tmp_path / "worker-a").exists() and not (tmp_path / "worker-b").exists()


# --- the page ---
