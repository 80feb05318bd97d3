"""A ``make demo`` run in the Airflow UI: one date of the demo run through the scheduler exactly as
scripts/demo.py runs it, then, in headless Chromium, log in through Airflow's login form, open the ``validate``
task's log and see our log lines there (not "Log file not found"); the page is saved as a screenshot."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from pipelines.demo.seed import seed
from tests.conftest import ROOT
from tests.e2e.test_models_page import chromium

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

SCREENSHOT = ROOT / "tests" / "e2e" / "artifacts" / "demo_validate_log.png"
DAY = date(2026, 2, 25)


def script(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """scripts/<name>.py loaded afresh (importable by name for this test only), so it reads this test's
    environment."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def demo(home: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """scripts/demo.py on this test's state folder and Airflow home, with the demo data seeded."""
    monkeypatch.setenv("AIRFLOW_HOME", str(home / "airflow"))
    seed(f"sqlite:///{home / 'demo_source.db'}", date(2026, 1, 1), days=60, rows_per_day=150, seed=3)
    script("stack", monkeypatch)
    return script("demo", monkeypatch)


def test_a_demo_run_shows_its_validate_log_in_the_airflow_ui(home, demo):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    with demo.airflow() as api:
        # Given: one date of the demo, run by the scheduler as make demo runs it
        run = api.run(DAY, f"demo__{DAY}__test")

        # Then: it succeeded with every stage run by a worker, by the admin user, in real time, logs on disk
        assert run.ok, run
        assert {"ingest", "validate", "train", "evaluate", "promote"} <= set(run.succeeded)
        recorded = api.call("GET", f"/dags/{demo.DAG_ID}/dagRuns/{run.run_id}")
        assert (recorded["run_type"], recorded["triggering_user_name"]) == ("manual", "admin")
        took = datetime.fromisoformat(recorded["end_date"]) - datetime.fromisoformat(recorded["start_date"])
        assert timedelta(0) < took <= timedelta(seconds=run.seconds)
        logs = home / "airflow" / "logs" / f"dag_id={demo.DAG_ID}" / f"run_id={run.run_id}" / "task_id=validate"
        assert "quality gate passed" in (logs / "attempt=1.log").read_text()
        # and make demo's line for it says so, from the typed status
        line = demo.run_line(1, DAY, run, demo.status())
        assert "success" in line and "decision: promoted, champion v1" in line

        # When: a person logs in through Airflow's login form and opens the validate task of that run
        password = json.loads((home / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
        browser = chromium()
        wait = WebDriverWait(browser, 60)
        try:
            browser.get(f"{api.url}/")
            wait.until(shown.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
            browser.find_element(By.NAME, "password").send_keys(password["admin"])
            browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait.until(shown.url_matches(rf"^{api.url}/?$"))
            browser.get(f"{api.url}/dags/{demo.DAG_ID}/runs/{run.run_id}/tasks/validate")

            # Then: the task's log is shown, with our own lines
            wait.until(lambda b: "quality gate passed: suite demo" in b.find_element(By.TAG_NAME, "body").text)
            page = browser.find_element(By.TAG_NAME, "body").text
            assert "Log file not found" not in page
            png = browser.get_screenshot_as_png()
        finally:
            browser.quit()
    for path in (home / "screenshots" / SCREENSHOT.name, SCREENSHOT):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((home / "run").glob("*.pid")), "the demo's Airflow was not stopped"
