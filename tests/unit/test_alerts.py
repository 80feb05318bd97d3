"""Slack delivery against a real HTTP server on 127.0.0.1: limits, retries, timeouts, and a secret URL."""

from __future__ import annotations

import json
import logging

import pytest

from pipelines.alerts import (
    HEADER_LIMIT,
    TEXT_LIMIT,
    SlackMessage,
    SlackWebhook,
    failure_alert,
    quality_alert,
    warnings_alert,
)
from pipelines.quality import CheckResult, QualityReport
from tests.webhook_server import SECRET_PATH

MESSAGE = SlackMessage("hello", [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])


def failed_report(n: int, observed: str = "12 unexpected (3.00%)") -> QualityReport:
    checks = [CheckResult("expect_column_values_to_be_between", f"col_{i}", "critical", observed) for i in range(n)]
    return QualityReport("demo", False, 80, checks, [])


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


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


def test_delivers_once_on_success(slack):
    delivery = SlackWebhook(slack.url).send(MESSAGE)
    assert delivery.delivered and delivery.attempts == 1
    assert slack.messages == [MESSAGE.payload()]


def test_429_waits_for_retry_after_then_delivers(slack):
    slack.replies.append((429, {"Retry-After": "7"}, "rate_limited", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, sleep=sleeps).send(MESSAGE)
    assert delivery.delivered and delivery.attempts == 2
    assert sleeps == [7.0]
    assert len(slack.messages) == 1


def test_5xx_backs_off_exponentially_then_gives_up_without_raising(slack):
    for _ in range(4):
        slack.replies.append((503, {}, "unavailable", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, max_attempts=4, backoff=0.5, sleep=sleeps).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 4 and delivery.status == 503
    assert sleeps == [0.5, 1.0, 2.0]
    assert slack.messages == []


def test_a_4xx_answer_is_not_retried(slack):
    slack.replies.append((400, {}, "invalid_blocks", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, sleep=sleeps).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 1 and delivery.error == "invalid_blocks"
    assert sleeps == []


def test_a_timeout_is_reported_not_raised_and_hides_the_url(slack):
    slack.replies.append((200, {}, "ok", 2.0))
    delivery = SlackWebhook(slack.url, timeout=0.3, max_attempts=1).send(MESSAGE)
    assert not delivery.delivered
    assert delivery.error is not None and "Timeout" in delivery.error
    assert SECRET_PATH not in (delivery.error or "")


def test_an_unreachable_server_is_reported_not_raised():
    delivery = SlackWebhook(f"http://127.0.0.1:9{SECRET_PATH}", max_attempts=2, sleep=Sleeps()).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 2 and delivery.error == "ConnectionError"


def test_the_webhook_url_never_reaches_logs_or_repr(slack, caplog):
    caplog.set_level(logging.DEBUG)
    slack.replies.append((500, {}, "oops", 0.0))
    webhook = SlackWebhook(slack.url, sleep=Sleeps())
    webhook.send(MESSAGE)
    SlackWebhook(f"http://127.0.0.1:9{SECRET_PATH}", max_attempts=1).send(MESSAGE)
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in repr(webhook)
    assert "Slack alert delivered" in caplog.text


def test_a_webhook_url_that_is_not_http_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="must start with https://"):
        SlackWebhook("hooks.slack.com/services/x")
