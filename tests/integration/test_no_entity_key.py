"""A model without an entity key, added as a user would (a YAML config and a GX suite only): its windows give
the same snapshot from SQLite and PostgreSQL whatever order the rows were stored in, and it is validated,
trained and promoted."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipelines.config.loading import load_model
from pipelines.data.ingest import ingest, load
from pipelines.jobs.retrain import retrain
from pipelines.quality.gate import validate
from tests.e2e import test_second_model as second_model

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

AS_OF = date(2026, 3, 1)
# The second model's config and suite as a user would copy them for a table without an order id.
CONFIG = (
    second_model.CONFIG.replace("  entity_key: order_id\n", "")
    .replace("SELECT order_id, created_at, distance_km, items, courier_rating, city, vehicle, minutes", "SELECT *")
    .replace("Minutes from order to doorstep, a regression on another table.", "The same, without an order id.")
)
SUITE = {
    **second_model.SUITE,
    "expectations": [e for e in second_model.SUITE["expectations"] if e["kwargs"].get("column") != "order_id"],
}
CITIES = np.array(["lyon", "Lille", "nantes", "Évry"])  # code point order differs from a locale's


def deliveries() -> pd.DataFrame:
    """The second model's orders without their id, stamped to the hour and with the city second, so many rows
    share a timestamp (and a city): only the other columns order them."""
    data = second_model.deliveries(days=35, per_day=120, seed=5).drop(columns="order_id")
    data["created_at"] = data["created_at"].dt.floor("h")
    data["city"] = CITIES[np.random.default_rng(7).integers(0, len(CITIES), len(data))]
    return data[["created_at", "city", *(c for c in data.columns if c not in {"created_at", "city"})]]


@pytest.fixture
def keyless_model(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configs, suites = tmp_path / "configs", tmp_path / "expectations"
    configs.mkdir()
    suites.mkdir()
    (configs / "delivery_eta.yaml").write_text(CONFIG)
    (suites / "deliveries.json").write_text(json.dumps(SUITE))
    monkeypatch.setenv("PIPELINES_CONFIGS_DIR", str(configs))
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(suites))
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE", raising=False)
    home.mkdir(parents=True, exist_ok=True)


def test_a_model_without_entity_key_ingests_alike_on_both_engines_and_is_promoted(
    keyless_model, home, postgres_db, monkeypatch
):
    # Given: the same orders in SQLite and, stored in another order, in PostgreSQL
    cfg = load_model("delivery_eta")
    assert cfg.columns.entity_key is None and cfg.columns.unique_columns == ()
    data = deliveries()
    sqlite = f"sqlite:///{home / 'deliveries.db'}"
    data.to_sql("deliveries", sqlite, index=False)
    data.sample(frac=1, random_state=1).to_sql("deliveries", postgres_db, index=False)
    engine = sa.create_engine(postgres_db)
    with engine.begin() as conn:  # as on a server whose default collation follows a locale
        conn.execute(sa.text('ALTER TABLE deliveries ALTER COLUMN city TYPE text COLLATE "en-x-icu"'))
    engine.dispose()

    # When: the window is ingested from SQLite (twice), and from PostgreSQL by both engines
    from_sqlite, again = ingest(cfg, AS_OF, sqlite), ingest(cfg, AS_OF, sqlite)
    from_arrow = ingest(cfg, AS_OF, postgres_db)
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", "sqlalchemy")
    from_postgres = ingest(cfg, AS_OF, postgres_db)
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE")

    # Then: the same snapshot from both databases with SQLAlchemy; the same rows in the same order with Arrow
    assert from_sqlite == again
    assert from_postgres.content_hash == from_sqlite.content_hash and from_postgres.path == from_sqlite.path
    frame = load(from_sqlite)
    pd.testing.assert_frame_equal(load(from_arrow), frame)
    assert frame["created_at"].duplicated().sum() > 1000  # the timestamp alone would not fix the order
    assert frame.equals(frame.sort_values(list(frame.columns), kind="stable", ignore_index=True))

    # and: the gate passes without a uniqueness check, and a retrain from PostgreSQL promotes a first champion
    report = validate(cfg, from_arrow)
    assert report.success, report.critical
    assert "unique" not in json.dumps(json.loads(Path(report.result_path or "").read_text())["result"])
    outcome = retrain(cfg, AS_OF, postgres_db)
    assert outcome.status == "promoted", outcome.reasons
