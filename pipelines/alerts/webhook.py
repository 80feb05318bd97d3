"""Delivery to a Slack incoming webhook with ``requests``: retried on 429 (``Retry-After``) and 5xx (backoff),
all within one total deadline per delivery.

The webhook URL is a secret: it is never logged, never put in an error message, never returned.
Delivery never raises, so a Slack outage cannot hide the failure being reported.
"""

from __future__ import annotations

import email.utils
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from pipelines.alerts.mrkdwn import SlackMessage, clip
from pipelines.errors import PipelinesError


class WebhookError(PipelinesError, ValueError):
    """A configured Slack webhook that cannot be used (no scheme, no token)."""


log = logging.getLogger(__name__)

DEFAULT_DEADLINE = 30.0  # seconds for one delivery: connect, every read, every retry and wait
_WORKER = "slack-webhook"  # name of the threads that post; urllib3 records from them are dropped


@dataclass(frozen=True)
class Delivery:
    """How one delivery ended: delivered or not, after how many attempts, Slack's last answer, how long."""

    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class _Answer:
    status: int | None
    error: str | None
    retry_after: str | None = None


class _HideWorkerRecords(logging.Filter):
    """urllib3 logs request paths (at DEBUG) and retried URLs; a webhook's path is its secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != _WORKER


for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry"):
    if not any(isinstance(f, _HideWorkerRecords) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_HideWorkerRecords())


class SlackWebhook:
    """Posts messages to one incoming webhook. ``repr`` and logs show only :attr:`endpoint`, never the URL.

    ``deadline`` bounds a whole delivery in wall-clock seconds (connect, all reads, retries and waits), even
    against a server that answers one byte at a time; ``timeout`` bounds each connect and each read.
    """

    def __init__(
        self,
        url: str,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
        deadline: float = DEFAULT_DEADLINE,
        proxy: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise WebhookError("the Slack webhook URL must start with https:// (or http:// for a local test server)")
        self._url = url
        self.timeout, self.max_attempts, self.backoff, self.deadline = timeout, max_attempts, backoff, deadline
        self._proxies = {"http": proxy, "https": proxy} if proxy else None
        self._sleep, self._clock = sleep, clock

    def __repr__(self) -> str:
        return f"SlackWebhook({self.endpoint})"

    @property
    def endpoint(self) -> str:
        """Scheme and host of the webhook, its secret path masked: safe to print."""
        return masked(self._url)

    def same_url(self, other: SlackWebhook) -> bool:
        """Whether ``other`` posts to the same URL (compared without revealing it)."""
        return self._url == other._url

    def send(self, message: SlackMessage) -> Delivery:
        """Post once, retrying 429 and 5xx answers and network errors within the deadline; never raises."""
        payload = message.payload()
        started = self._clock()
        end = started + self.deadline
        status: int | None = None
        error: str | None = None
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            answer = self._post(payload, end - self._clock())
            status, error = answer.status, answer.error
            if status is not None and status < 300:
                log.info("Slack alert delivered (attempt %d)", attempt)
                return Delivery(True, attempt, status, None, self._clock() - started)
            if status is not None and status < 500 and status != 429:
                break
            hinted = retry_after_seconds(answer.retry_after) if status == 429 else None
            wait = self.backoff * 2 ** (attempt - 1) if hinted is None else hinted
            left = end - self._clock()
            if attempt == self.max_attempts or left <= 0:
                break
            if wait >= left:
                error = f"{error}; no time left to retry within the {self.deadline:g} s deadline"
                break
            log.warning("Slack answered %s (%s); retrying in %.1f s", status, error, wait)
            self._sleep(wait)
        log.error("Slack alert not delivered after %d attempt(s): %s %s", attempt, status, error)
        return Delivery(False, attempt, status, error, self._clock() - started)

    def _post(self, payload: dict[str, Any], budget: float) -> _Answer:
        """One POST in a worker thread, waited for at most ``budget`` seconds of wall-clock time."""
        if budget <= 0:
            return _Answer(None, f"deadline of {self.deadline:g} s exceeded")
        answers: list[_Answer] = []
        per_step = min(self.timeout, budget)

        def post() -> None:
            try:
                with requests.post(
                    self._url, json=payload, timeout=per_step, stream=True, proxies=self._proxies
                ) as response:
                    body = response.raw.read(2048, decode_content=True) or b""
                    text = clip(body.decode("utf-8", "replace").strip(), 200)
                    code = response.status_code
                    answers.append(_Answer(code, text or f"HTTP {code}", response.headers.get("Retry-After")))
            except Exception as exc:  # delivery never raises; only the type: the text would contain the URL
                answers.append(_Answer(None, type(exc).__name__))

        worker = threading.Thread(target=post, name=_WORKER, daemon=True)
        worker.start()
        worker.join(budget)
        if worker.is_alive() or not answers:
            return _Answer(None, f"deadline of {self.deadline:g} s exceeded")
        return answers[0]


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delay-seconds or an HTTP-date, never negative (``inf`` for
    an endless one); None when absent or unreadable (``nan``, garbage), so the caller's backoff applies.
    """
    if header is None:
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return None if math.isnan(seconds) else max(seconds, 0.0)


def masked(url: str) -> str:
    """``url``'s scheme and host with the path (the webhook's secret) replaced by ``***``."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}/***"
