"""Slack delivery against real HTTP servers on 127.0.0.1: retries, ``Retry-After``, a total deadline per
delivery, and a secret URL."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pipelines.alerts.mrkdwn import SlackMessage
from pipelines.alerts.webhook import SlackWebhook, retry_after_seconds
from tests.webhook_server import SECRET_PATH, DripServer

MESSAGE = SlackMessage("hello", [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])


class Sleeps(list):
    """A fake ``sleep`` that records each wait, and a ``clock`` that moves on by what was slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    def clock(self) -> float:
        return time.monotonic() + sum(self)


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


# A total deadline per delivery


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_server_that_drips_bytes_is_cut_off_at_the_delivery_deadline(phase):
    # given a server that sends one byte a second (each read well within the 10 s per-read timeout)
    with DripServer(phase=phase, interval=0.5) as server:
        webhook = SlackWebhook(server.url, timeout=10.0, deadline=3.0)
        started = time.monotonic()
        # when an alert is sent with a 3 s deadline
        delivery = webhook.send(MESSAGE)
        took = time.monotonic() - started
    # then it ends, undelivered, within the deadline, without raising or showing the URL
    assert not delivery.delivered and server.requests == 1
    assert 2.9 <= took < 3.8, took
    assert delivery.error is not None and "deadline of 3 s exceeded" in delivery.error
    assert "s3cr3t" not in delivery.error


def test_retries_stop_when_the_next_wait_would_pass_the_deadline(slack):
    for _ in range(4):
        slack.replies.append((503, {}, "unavailable", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, backoff=1.0, deadline=2.5, sleep=sleeps, clock=sleeps.clock).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 2 and delivery.status == 503
    assert sleeps == [1.0]
    assert "no time left to retry within the 2.5 s deadline" in (delivery.error or "")


# Any Retry-After value


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    ("header", "waits"),
    [
        ("7", [7.0]),
        ("nan", [0.5]),
        ("NaN", [0.5]),
        ("soon, please", [0.5]),
        ("", [0.5]),
        ("-5", [0.0]),
        ("-inf", [0.0]),
        pytest.param(http_date(-3600), [0.0], id="http-date-past"),
    ],
)
def test_a_readable_or_unreadable_retry_after_leads_to_a_wait_within_the_deadline(slack, header, waits):
    slack.replies.append((429, {"Retry-After": header}, "rate_limited", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, backoff=0.5, sleep=sleeps, clock=sleeps.clock).send(MESSAGE)
    assert delivery.delivered and delivery.attempts == 2
    assert sleeps == waits


@pytest.mark.parametrize(
    "header",
    [
        "inf",
        "Infinity",
        "1e308",
        pytest.param("9" * 400, id="400-digits"),
        "31",
        pytest.param(http_date(3600), id="http-date-in-an-hour"),
    ],
)
def test_a_retry_after_beyond_the_deadline_gives_up_at_once_without_raising(slack, header):
    slack.replies.append((429, {"Retry-After": header}, "rate_limited", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, deadline=30.0, sleep=sleeps, clock=sleeps.clock).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 1 and delivery.status == 429
    assert sleeps == []
    assert "no time left to retry" in (delivery.error or "")


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 4, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Wed, 01 Apr 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 01 Apr 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds(" 2.5 ", now) == 2.5
    assert retry_after_seconds("inf", now) == float("inf")
    for unreadable in (None, "nan", "", "Wed, 99 Foo 2026", "\x00", "1.2.3"):
        assert retry_after_seconds(unreadable, now) is None
