"""The Models page in headless Chromium against a real Airflow api-server: log in through Airflow's login page,
open Models from the navigation, see the demo model's champion, open its model card and the Data Docs of a
window whose values are script (which never runs), save a screenshot. Without Airflow's login the page is
refused."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests

from pipelines.config.loading import load_model
from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest, load
from pipelines.jobs.retrain import retrain
from pipelines.quality.gate import validate
from pipelines.quality.report import QualityReport
from pipelines.registry import versions as registry
from pipelines.reports.models_page import DOCS_POLICY
from tests.conftest import ROOT
from tests.e2e.test_live_stack import alive, free_port, stack_script

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.usefixtures("registry_home")]

SCREENSHOT = ROOT / "tests" / "e2e" / "artifacts" / "models_page.png"
MLFLOW_UI_URL = "http://localhost:5050"  # only compared with the links, never opened
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1400",
]

SCRIPT_VALUE = "<script>document.title='pwned'</script>"
IMG_VALUE = "<img src=x onerror=\"window.pwned=1;document.title='pwned'\">"


@pytest.fixture
def api_server(airflow_db: Path, home: Path) -> Iterator[str]:
    """``airflow api-server`` on a free port, reading this test's state folder; its whole process group is
    stopped afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "MLFLOW_UI_URL": MLFLOW_UI_URL,
    }
    with (home / "api-server.log").open("w") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "api-server", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        yield f"http://localhost:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while alive(server.pid) and time.monotonic() < deadline:
            server.poll()
            time.sleep(0.5)
        if alive(server.pid):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        time.sleep(1)
        assert not alive(server.pid), "the api-server left processes behind"


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def docs_file(report: QualityReport) -> Path:
    return Path(unquote(urlsplit(report.docs_path or "").path))


def validate_hostile_window(cfg: ModelConfig, as_of: date, source_url: str) -> QualityReport:
    """A copy of the window's snapshot whose values include a script and an image with an ``onerror`` handler,
    validated: the gate fails on them and GX writes them into its Data Docs."""
    snapshot = ingest(cfg, as_of, source_url)
    frame = load(snapshot)
    frame.loc[:9, "plan"] = SCRIPT_VALUE
    frame.loc[:9, "region"] = IMG_VALUE
    path = Path(snapshot.path).with_name("hostile.parquet")
    frame.to_parquet(path, index=False)
    report = validate(cfg, replace(snapshot, path=str(path), content_hash="hostile"))
    assert not report.success and report.docs_path
    assert SCRIPT_VALUE in docs_file(report).read_text()
    return report


def test_models_page_after_login_shows_the_champion(home, seeded_source, api_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    # Given: two nightly runs of the demo model (one champion, a ledger), while the api-server starts
    cfg = load_model("demo")
    for day in (date(2026, 3, 20), date(2026, 3, 27)):
        outcome = retrain(cfg, day, seeded_source)
        assert outcome.status in {"promoted", "rejected", "blocked"}, outcome.reasons
    champion = registry.by_alias("demo", registry.CHAMPION)
    assert champion is not None
    # and: the latest validation is of a window whose values are markup and script
    hostile = validate_hostile_window(cfg, date(2026, 3, 27), seeded_source)
    window = docs_file(hostile).relative_to(home / "snapshots" / "demo").parts[0]
    base = api_server
    up = stack_script.wait_for(f"{base}/api/v2/version", 180)
    assert up, (home / "api-server.log").read_text()[-3000:]

    # Then: without Airflow's login the page is refused: a redirect to the login page, whatever the token
    for cookies in ({}, {"_token": "not-a-jwt"}):
        refused = requests.get(f"{base}/models/", cookies=cookies, allow_redirects=False, timeout=30)
        assert refused.status_code == 307 and refused.headers["location"].startswith("/auth/login?next=")
        assert "demo" not in refused.text
    # and: with an Airflow token the champion's card is served, unable to run scripts on Airflow's origin
    users = json.loads((Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated").read_text())
    token = requests.post(
        f"{base}/auth/token", json={"username": "admin", "password": users["admin"]}, timeout=30
    ).json()["access_token"]
    card_url = f"{base}/models/demo/versions/{champion.version}/card/index.html"
    served = requests.get(card_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/html")
    assert served.headers["content-security-policy"].startswith("sandbox;")
    # and: Data Docs are served the same way, for the model's windows only
    docs = f"{base}/models/demo/data-docs/{quote(window)}"
    for path, status in (("index.html", 200), ("..%2F..%2F..%2Fmlflow.db", 400), ("missing.html", 404)):
        got = requests.get(f"{docs}/{path}", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert got.status_code == status, got.text
    assert got.headers["content-type"].startswith("text/html") and "missing.html" in got.text
    index = requests.get(f"{docs}/index.html", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert index.headers["content-security-policy"] == DOCS_POLICY
    assert requests.get(f"{docs}/index.html", allow_redirects=False, timeout=30).status_code == 307

    # When: a person logs in through Airflow's login page and opens Models from the navigation
    browser = chromium()
    wait = WebDriverWait(browser, 60)
    try:
        browser.get(f"{base}/")
        wait.until(shown.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(users["admin"])
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(shown.element_to_be_clickable((By.CSS_SELECTOR, "a[href$='plugin/models']"))).click()
        browser.switch_to.frame(
            wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "iframe[title=Models]")))
        )
        row = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "table.overview tbody tr")))

        # Then: the demo model is listed with its champion; its page shows the champion with its links
        assert row.text.split()[:2] == ["demo", f"v{champion.version}"]
        row.find_element(By.LINK_TEXT, "demo").click()
        card = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, ".card.champion")))
        assert card.find_element(By.CLASS_NAME, "version").text == f"v{champion.version}"
        mlflow_link = card.find_element(By.LINK_TEXT, "MLflow version").get_attribute("href")
        assert mlflow_link == f"{MLFLOW_UI_URL}/#/models/demo/versions/{champion.version}"
        assert browser.find_elements(By.CSS_SELECTOR, ".timeline .entry")

        # and: the model card opens in a new tab, out of Airflow's sandboxed frame
        card.find_element(By.LINK_TEXT, "Model card").click()
        wait.until(lambda b: len(b.window_handles) == 2)
        browser.switch_to.window(browser.window_handles[1])
        wait.until(lambda b: b.title == f"Model card: demo v{champion.version}")
        browser.close()
        browser.switch_to.window(browser.window_handles[0])

        # and: the latest Data Docs open from the quality panel; the values' script and handler never run
        browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe[title=Models]"))
        browser.find_element(By.LINK_TEXT, "Data Docs").click()
        wait.until(lambda b: len(b.window_handles) == 2)
        browser.switch_to.window(browser.window_handles[1])
        wait.until(
            lambda b: "/data-docs/" in b.current_url and b.execute_script("return document.readyState") == "complete"
        )
        assert "document.title='pwned'" in browser.page_source
        time.sleep(1)  # the image's error handler would have run by now
        assert browser.title != "pwned"
        assert browser.execute_script("return typeof window.pwned") == "undefined"
        browser.close()
        browser.switch_to.window(browser.window_handles[0])

        # and: a screenshot of the page inside the Airflow UI
        browser.switch_to.default_content()
        assert browser.current_url.startswith(f"{base}/plugin/models")
        png = browser.get_screenshot_as_png()
    finally:
        browser.quit()
    for path in (home / "screenshots" / "models_page.png", SCREENSHOT):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(SCREENSHOT.read_bytes()[16:20], "big") >= 1000  # width in the PNG header
    assert SCREENSHOT.stat().st_size > 50_000
