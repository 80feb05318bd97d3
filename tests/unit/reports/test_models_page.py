"""The Models page's HTML and its model card files, without Airflow: a real local MLflow store in the state folder."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pipelines.registry import versions as registry
from pipelines.registry.ledger import Entry
from pipelines.reports import models_page
from pipelines.reports.performance_status import DayValue, PerformanceStatus
from pipelines.reports.status import AliasedVersion, DriftStatus, QualityStatus, Status

CHAMPION = AliasedVersion(
    version=4,
    window_start="2026-02-01",
    window_end="2026-03-20",
    snapshot_hash="ab" * 32,
    trigger="drift",
    metrics={"roc_auc": 0.81234},
    decision="promoted",
    run_id=None,
)
STATUS = Status(
    model="demo",
    champion=CHAMPION,
    challenger=None,
    previous_champion=replace(CHAMPION, version=2, metrics={}),
    ledger=[
        Entry(
            model="demo",
            kind="promoted",
            version=4,
            champion_version=2,
            decided_at=datetime(2026, 3, 20, 2, 10, tzinfo=UTC),
            trigger="drift",
            reasons=["ok floor", "<script>alert(1)</script>"],
            metrics={"challenger": {"roc_auc": 0.81}, "champion": {"roc_auc": 0.79}},
            window_start="2026-02-01",
            window_end="2026-03-20",
            actor="policy",
        ),
        Entry(
            model="demo",
            kind="blocked",
            version=None,
            champion_version=None,
            decided_at=datetime(2026, 3, 19, 2, tzinfo=UTC),
            reasons=["quality gate"],
        ),
    ],
    quality=QualityStatus(
        window_end="2026-03-20",
        validated_at="2026-03-20T02:00:00+00:00",
        suite="demo",
        success=False,
        evaluated=40,
        failed=["plan not null"],
        warnings=[],
        docs_path=None,
    ),
    drift=None,
)
REPORT = models_page.ModelReport(STATUS, {4: True, 2: False})


def test_model_page_shows_aliases_ledger_and_checks_with_data_escaped():
    # When
    page = models_page.model_html(REPORT, "/models", "http://mlflow.test:5000/")

    # Then: the champion with its links, the missing card said so, the timeline newest first
    assert '<div class="version">v4</div>' in page
    assert 'href="http://mlflow.test:5000/#/models/demo/versions/4"' in page
    assert 'href="/models/demo/versions/4/card/index.html"' in page
    assert "no model card logged" in page
    assert page.index("<b>v4</b>") < page.index("<b>run</b>")
    assert "champion then v2" in page and "plan not null" in page and "no drift check recorded yet" in page
    assert '<span class="badge bad">failed</span>' in page
    # and: nothing from the data is markup
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "not measured yet (score_demo)" in page and "Over time" not in page


def test_model_page_shows_measured_performance_and_the_timeline_on_the_data_days_axis():
    import base64

    import pandas as pd

    from pipelines.reports.performance_plot import timeline_png

    # given realized and estimated days of v4, its promotion in the ledger and two drift checks
    series = pd.DataFrame(
        [
            *((f"2026-03-{d:02d}", 4, "realized", "", "roc_auc", 0.80 - d / 1000, 400) for d in range(21, 28)),
            *((f"2026-03-{d:02d}", 4, "estimated", "", "roc_auc", 0.79, 400) for d in range(28, 31)),
        ],
        columns=["day", "model_version", "kind", "slice", "metric", "value", "rows"],
    )
    checks = [(datetime(2026, 3, 25, tzinfo=UTC), False), (datetime(2026, 3, 26, tzinfo=UTC), True)]
    image = timeline_png(series, STATUS.ledger, checks, "roc_auc", 0.7, "demo")
    assert image is not None and base64.b64decode(image).startswith(b"\x89PNG")
    assert timeline_png(series.iloc[:0], [], [], "roc_auc", 0.7, "demo") is None
    measured = PerformanceStatus(
        4,
        "roc_auc",
        DayValue("2026-03-27", 0.773, 400),
        DayValue("2026-03-30", 0.79, 400),
        -0.007,
        "2026-03-31",
        True,
        False,
    )
    from pipelines.performance.cadence import AgePoint, fit_cadence
    from pipelines.reports.performance_plot import decay_curve_png

    ages = [AgePoint(f"m{m}", 3.5 + 7 * w, 0.8 - 0.001 * 7 * w + 0.01 * m, 400) for m in range(3) for w in range(5)]
    curve = decay_curve_png(fit_cadence(ages, "roc_auc", 0.03).to_dict(), "demo")
    assert curve is not None and base64.b64decode(curve).startswith(b"\x89PNG")
    assert decay_curve_png(fit_cadence([], "roc_auc", 0.03).to_dict(), "demo") is None
    # when the page is drawn
    page = models_page.model_html(
        models_page.ModelReport(replace(STATUS, performance=measured), {4: True}, image, curve), "/models", "http://m/"
    )
    # then it shows the champion's latest numbers and the timeline
    assert "Performance of v4 (roc_auc)" in page
    assert "0.7730 on 2026-03-27" in page and "0.7900 on 2026-03-30" in page and "decay, 2026-03-31" in page
    assert f'src="data:image/png;base64,{image}"' in page
    assert "Decay with model age" in page and f'src="data:image/png;base64,{curve}"' in page
    assert "not measured (python -m pipelines cadence)" in page


def test_overview_lists_every_model_with_its_champion():
    drift = DriftStatus(
        "2026-03-20T01:00:00+00:00", "2026-03-20", 4, drift=True, confirmed=False, features=[], run_id="r"
    )
    drifting = models_page.ModelReport(replace(STATUS, model="churn<b>", champion=None, ledger=[], drift=drift), {})

    page = models_page.overview_html([REPORT, drifting], "/m")

    assert '<a href="/m/demo"><b>demo</b></a>' in page and "<b>v4</b>" in page
    assert "churn&lt;b&gt;" in page and "none yet" in page and '<span class="badge warn">drifted</span>' in page


@pytest.fixture
def carded_version(home):
    """Version 1 of ``demo`` (the champion), whose training run logged a model card page and a plot."""
    client = registry.client()
    with registry.start_run("demo", "train") as run:
        card = home / "card"
        card.mkdir()
        (card / "index.html").write_text("<h1>card of v1</h1>")
        (card / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        client.log_artifacts(run.info.run_id, str(card), "model_card")
    client.create_registered_model("demo")
    version = client.create_model_version("demo", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    registry.set_alias("demo", registry.CHAMPION, int(version.version))
    return int(version.version)


def test_card_files_are_served_from_the_versions_run(carded_version):
    # Then: the page and its plot, and the champion is known to have a card
    assert models_page.card_file("demo", str(carded_version), "index.html") == (
        b"<h1>card of v1</h1>",
        "text/html; charset=utf-8",
    )
    assert models_page.card_file("demo", str(carded_version), "plot.png")[1] == "image/png"
    assert models_page.report("demo").cards == {carded_version: True}
    # and: an absent version or file is a 404
    for version, name in (("99", "index.html"), (str(carded_version), "missing.png")):
        with pytest.raises(models_page.PageError) as absent:
            models_page.card_file("demo", version, name)
        assert absent.value.status == 404


@pytest.mark.parametrize(
    ("model", "version", "name", "status"),
    [
        ("nope", "1", "index.html", 404),
        ("demo", "one", "index.html", 400),
        ("demo", "-1", "index.html", 400),
        ("demo", "²", "index.html", 400),
        ("demo", "1", "../mlflow.db", 400),
        ("demo", "1", "..", 400),
        ("demo", "1", ".index.html", 400),
        ("demo", "1", "run.sh", 400),
        ("demo", "1", "card.svg", 400),
    ],
)
def test_bad_card_requests_are_refused_before_any_lookup(model, version, name, status):
    with pytest.raises(models_page.PageError) as refused:
        models_page.card_file(model, version, name)
    assert refused.value.status == status


WINDOW = "window=2026-02-01_2026-03-20"


@pytest.fixture
def data_docs(home):
    """Data Docs of one demo window, next to a snapshot and the MLflow store it must never serve."""
    window = home / "snapshots" / "demo" / WINDOW
    docs = window / "data_docs"
    (docs / "validations" / "demo" / "__none__").mkdir(parents=True)
    (docs / "static" / "styles").mkdir(parents=True)
    (docs / "index.html").write_text("<h1>docs</h1>")
    (docs / "validations" / "demo" / "__none__" / "snapshots-demo.html").write_text("<p>result</p>")
    (docs / "static" / "styles" / "site.css").write_text("p {}")
    (window / "0123.parquet").write_bytes(b"PAR1")
    (home / "mlflow.db").write_bytes(b"SQLite")
    (docs / "leak.html").symlink_to(home / "mlflow.db")
    return docs


def test_data_docs_files_are_served_from_the_models_window(data_docs):
    assert models_page.docs_file("demo", WINDOW, "index.html") == (b"<h1>docs</h1>", "text/html; charset=utf-8")
    page = models_page.docs_file("demo", WINDOW, "validations/demo/__none__/snapshots-demo.html")
    assert page[0] == b"<p>result</p>"
    assert models_page.docs_file("demo", WINDOW, "static/styles/site.css")[1] == "text/css; charset=utf-8"
    assert models_page.DOCS_POLICY.startswith("sandbox;") and "script" not in models_page.DOCS_POLICY


@pytest.mark.parametrize(
    ("model", "window", "path", "status"),
    [
        ("nope", WINDOW, "index.html", 404),
        ("demo", "window=2026-02-01_2026-03-21", "index.html", 404),
        ("demo", WINDOW, "missing.html", 404),
        ("demo", WINDOW, "leak.html", 404),  # a link out of the window's Data Docs
        ("demo", "..", "index.html", 400),
        ("demo", "window=../../..", "index.html", 400),
        ("demo", WINDOW, "../0123.parquet", 400),
        ("demo", WINDOW, "../../../mlflow.db", 400),
        ("demo", WINDOW, "/etc/passwd.html", 400),
        ("demo", WINDOW, "static//site.css", 400),
        ("demo", WINDOW, ".hidden.html", 400),
        ("demo", WINDOW, "validations/x.json", 400),
        ("demo", WINDOW, "", 400),
    ],
)
def test_bad_data_docs_requests_are_refused(data_docs, model, window, path, status):
    with pytest.raises(models_page.PageError) as refused:
        models_page.docs_file(model, window, path)
    assert refused.value.status == status


def test_quality_panel_and_alerts_link_to_the_data_docs_on_the_models_page(home, data_docs, monkeypatch):
    from pipelines.alerts.links import docs_link

    # Given: the latest validation's Data Docs page, as GX reports it
    page = data_docs / "validations" / "demo" / "__none__" / "snapshots-demo.html"
    quality = replace(STATUS.quality, docs_path=page.as_uri())
    route = "demo/data-docs/window%3D2026-02-01_2026-03-20/validations/demo/__none__/snapshots-demo.html"

    # Then: the Models page links to it through its own route
    html = models_page.model_html(
        replace(REPORT, status=replace(STATUS, quality=quality)), "/models", "http://mlflow.test:5000/"
    )
    assert f'href="/models/{route}"' in html and ">Data Docs</a>" in html
    # and: an alert links there when Airflow's base URL is known, else as before
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example/base/")
    assert docs_link(page.as_uri()) == f"https://airflow.example/base/models/{route}"
    assert docs_link("file:///elsewhere/data_docs/index.html") == "file:///elsewhere/data_docs/index.html"
    monkeypatch.delenv("AIRFLOW__API__BASE_URL")
    assert docs_link(page.as_uri()) == page.as_uri()
    monkeypatch.setenv("PIPELINES_DOCS_BASE_URL", "https://state.example")
    assert docs_link(page.as_uri()) == "https://state.example" + page.as_uri().removeprefix(home.as_uri())
