"""The message for each pipeline event: what it says, Slack's limits, and every value escaped."""

from __future__ import annotations

import json
import re

from pipelines.alerts.event_messages import (
    approval_alert,
    decay_alert,
    drift_alert,
    failure_alert,
    quality_alert,
    rollback_alert,
    warnings_alert,
)
from pipelines.alerts.links import task_log_url
from pipelines.alerts.mrkdwn import HEADER_LIMIT, TEXT_LIMIT
from pipelines.alerts.webhook import SlackWebhook
from pipelines.decision.promote import PromotionResult
from pipelines.decision.verdict import Check, Decision
from pipelines.quality.report import CheckResult, QualityReport


def failed_report(n: int, observed: str = "12 unexpected (3.00%)") -> QualityReport:
    checks = [CheckResult("expect_column_values_to_be_between", f"col_{i}", "critical", observed) for i in range(n)]
    return QualityReport("demo", False, 80, checks, [])


def test_quality_alert_lists_top_n_with_observed_values_and_counts_the_rest():
    message = quality_alert("demo", "2026-04-01", "manual__1", failed_report(14), top_n=10, docs_url="file:///d.html")
    payload = message.payload()
    text = json.dumps(payload)
    assert "`expect_column_values_to_be_between` on `col_0`: 12 unexpected (3.00%)" in payload["text"]
    assert "col_9" in text and "col_10" not in text
    assert "…and 4 more" in payload["text"]
    assert "<file:///d.html|Data Docs>" in text and "manual__1" in text and "2026-04-01" in text


def test_every_block_honours_slacks_length_limits():
    report = failed_report(40, observed="x" * 5000)
    payload = quality_alert("m" * 300, "2026-04-01", "r", report, top_n=40).payload()
    assert len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_LIMIT
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= TEXT_LIMIT
    assert len(payload["text"]) <= 4000
    failure = failure_alert("demo", "2026-04-01", "r", "train", "boom\n" * 5000).payload()
    assert all(len(b["text"]["text"]) <= TEXT_LIMIT for b in failure["blocks"] if b["type"] == "section")


def test_warnings_alert_is_a_single_quiet_section():
    report = QualityReport(
        "demo", True, 80, [], [CheckResult("expect_column_values_to_not_be_null", "nps", "warning", "15%")]
    )
    payload = warnings_alert("demo", "2026-04-01", "r", report).payload()
    assert [b["type"] for b in payload["blocks"]] == ["section", "context"]
    assert "1 quality warning(s), run continues" in payload["text"]


# Data is never code


HOSTILE = ["<!channel>", "<http://x|click>", "<script>alert(1)</script>", "a & b > c"]


def links_in(text: str) -> list[str]:
    """Everything Slack would parse as a link, mention or command: each ``<...>``."""
    return re.findall(r"<([^<>]*)>", text)


def test_hostile_values_reach_slack_escaped_and_our_links_still_work(slack):
    # given a quality report whose observed values and column names are hostile
    checks = [CheckResult("expect_column_values_to_be_in_set", f"col{value}", "critical", value) for value in HOSTILE]
    report = QualityReport("demo", False, 80, checks, [])
    run_url = task_log_url("https://airflow.example.com/af", "retrain_demo", "manual__1", "validate", -1, 1)
    message = quality_alert("demo", "2026-04-01", "run<!here>", report, run_url=run_url, docs_url="file:///d&x.html")
    # when it is delivered to the webhook server
    assert SlackWebhook(slack.url).send(message).delivered
    received = slack.texts()[0]
    # then nothing from the data is a link or mention, every value shows escaped, and our two links work
    assert "<!channel>" not in received and "<!here>" not in received and "<script>" not in received
    assert "&lt;!channel&gt;" in received and "&lt;http://x|click&gt;" in received
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in received and "a &amp; b &gt; c" in received
    parsed = [found for text in _texts(slack.messages[0]) for found in links_in(text)]
    assert set(parsed) == {f"{run_url}|Airflow run", "file:///d&amp;x.html|Data Docs"}


def _texts(payload: dict) -> list[str]:
    """Every text field Slack renders in a payload."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        texts += [block["text"]["text"]] if "text" in block else [e["text"] for e in block.get("elements", [])]
    return texts


def test_every_message_escapes_values_from_data_config_and_exceptions():
    bad = "<!channel> & <http://x|click>"
    report = QualityReport(bad, False, 1, [], [CheckResult(bad, bad, "warning", bad)])
    decision = Decision(bad, True, 2, 1, [Check(bad, True, bad)], {bad: 0.9}, {bad: 0.8}, holdout_rows=3)
    result = PromotionResult(bad, "rolled_back", 1, 1, 2, [bad])
    drift = {"statistics": {bad: {"psi": 0.3}}, "window_start": bad, "confirmation": bad, "prediction_psi": 0.2}
    messages = [
        quality_alert(bad, bad, bad, QualityReport(bad, False, 1, report.warnings, []), run_url="https://a/b"),
        warnings_alert(bad, bad, bad, report),
        failure_alert(bad, bad, bad, bad, f"ValueError: {bad}\n{bad}", run_url="https://a/b"),
        drift_alert(bad, bad, drift, run_url="https://a/b"),
        decay_alert(bad, bad, {"findings": [bad], "confirmation": bad}, "https://a/b", "https://a/b/plot"),
        rollback_alert(bad, result, bad, run_url="https://a/b"),
        approval_alert(decision, "https://a/b?x=1&y=<2>"),
        approval_alert(decision, "https://a/b", f"Answer by 2026-12-01 02:00 UTC; then {bad}"),
    ]
    for message in messages:
        payload = message.payload()
        assert "<!channel>" not in json.dumps(payload)
        for text in _texts(payload):
            assert all(found.startswith("https://a/b") for found in links_in(text)), text
    assert "<https://a/b?x=1&amp;y=&lt;2&gt;|Approve or reject in Airflow>" in json.dumps(messages[-2].payload())
    # the request as Airflow shows it (deadline, default, links) reaches Slack whole, escaped
    assert "Answer by 2026-12-01 02:00 UTC; then &lt;!channel&gt;" in json.dumps(messages[-1].payload())


def test_decay_alert_says_what_fell_and_links_the_plot():
    extra = {
        "champion_version": 3,
        "confirmation": "decay in 2 consecutive checks",
        "findings": ["realized roc_auc 0.6012 (1050 rows, 2026-03-02..2026-03-08) is below the floor 0.7000"],
    }
    message = decay_alert("demo", "2026-03-12", extra, "https://air/run", "https://mlflow/#/plot.png")
    text = json.dumps(message.payload())
    assert "Performance decay confirmed: demo 2026-03-12, retraining" in message.text
    assert "Champion v3: decay in 2 consecutive checks." in message.text
    assert "below the floor 0.7000" in message.text
    assert "<https://mlflow/#/plot.png|performance plot>" in text
