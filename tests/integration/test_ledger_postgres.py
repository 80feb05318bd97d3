"""The promotion ledger: one appended row per decision, of every kind, readable after a restart."""

from __future__ import annotations

import math

import pytest

from pipelines.registry import ledger


@pytest.mark.postgres
def test_ledger_on_postgres(postgres_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # given the ledger in PostgreSQL
    monkeypatch.setenv("PIPELINES_LEDGER_URL", postgres_db)
    # when entries are appended, one with a metric that is not finite (PostgreSQL's JSON has no NaN)
    first = ledger.append(
        ledger.Entry("demo", "promoted", 1, None, ["ok floor"], {"challenger": {"roc_auc": 0.8, "brier": math.nan}})
    )
    second = ledger.append(ledger.Entry("demo", "rolled_back", 1, 2, ["rolled back"], actor="bob"))
    ledger.append(ledger.Entry("other", "rejected", 7, None, ["FAIL floor"]))
    # then they read back newest first, per model, with aware timestamps and JSON intact
    entries = ledger.entries("demo")
    assert [e.id for e in entries] == [second.id, first.id]
    assert entries[1].metrics == {"challenger": {"roc_auc": 0.8, "brier": None}}
    assert all(e.decided_at.tzinfo is not None for e in entries)
    assert entries[1].decided_at == first.decided_at
    assert [e.kind for e in ledger.entries("other")] == ["rejected"]
