"""Slack alerts through an incoming webhook: Block Kit messages with a plain-text fallback, sent with
``requests``, within Slack's limits, retried on 429 (``Retry-After``) and 5xx (backoff).

The webhook URL is a secret: it is never logged, never put in an error message, never returned.
Delivery never raises, so a Slack outage cannot hide the failure being reported.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from pipelines import settings
from pipelines.quality import CheckResult, QualityReport

if TYPE_CHECKING:
    from pipelines.evaluate import Decision
    from pipelines.promote import PromotionResult

log = logging.getLogger(__name__)

TEXT_LIMIT = 3000  # characters of a section block's text
HEADER_LIMIT = 150  # characters of a header block's text
FALLBACK_LIMIT = 4000  # Slack truncates a message's top-level text beyond 40,000; keep notifications short
MAX_BLOCKS = 50


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {"text": clip(self.text, FALLBACK_LIMIT), "blocks": self.blocks[:MAX_BLOCKS]}


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None


class SlackWebhook:
    """Posts messages to one incoming webhook. ``repr`` and logs never show the URL."""

    def __init__(
        self,
        url: str,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the Slack webhook URL must start with https:// (or http:// for a local test server)")
        self._url = url
        self.timeout, self.max_attempts, self.backoff, self.max_wait = timeout, max_attempts, backoff, max_wait
        self._sleep = sleep

    def __repr__(self) -> str:
        return "SlackWebhook(url=<hidden>)"

    def send(self, message: SlackMessage) -> Delivery:
        """Post once, retrying 429 and 5xx answers and network errors; never raises."""
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self.max_attempts + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                with _quiet_http_logs():
                    response = requests.post(self._url, json=message.payload(), timeout=self.timeout)
            except requests.RequestException as exc:
                status, error = None, type(exc).__name__  # the exception text would contain the URL
            else:
                status = response.status_code
                if status < 300:
                    log.info("Slack alert delivered (attempt %d)", attempt)
                    return Delivery(True, attempt, status)
                error = clip(response.text.strip(), 200) or f"HTTP {status}"
                if status == 429:
                    wait = _retry_after(response.headers.get("Retry-After"), wait)
                elif status < 500:
                    break
            if attempt < self.max_attempts:
                log.warning("Slack answered %s (%s); retrying in %.1f s", status, error, min(wait, self.max_wait))
                self._sleep(min(wait, self.max_wait))
        log.error("Slack alert not delivered after %d attempt(s): %s %s", attempt, status, error)
        return Delivery(False, attempt, status, error)


def _retry_after(header: str | None, default: float) -> float:
    try:
        return max(float(header), 0.0) if header is not None else default
    except ValueError:
        return default


@contextmanager
def _quiet_http_logs() -> Iterator[None]:
    """urllib3 logs request paths at DEBUG level; a webhook's path is its secret."""
    logger = logging.getLogger("urllib3.connectionpool")
    level = logger.level
    logger.setLevel(max(level, logging.INFO))
    try:
        yield
    finally:
        logger.setLevel(level)


def webhook_from_env() -> SlackWebhook | None:
    """The CLI's webhook: ``SLACK_WEBHOOK_URL``, or None when alerts are off."""
    url = os.environ.get("SLACK_WEBHOOK_URL", "").strip()
    return SlackWebhook(url) if url else None


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, TEXT_LIMIT)}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_LIMIT)}}


def _context(*parts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(p, TEXT_LIMIT)} for p in parts[:10]]}


def _links(run_url: str | None, docs_url: str | None) -> list[str]:
    links = [f"<{run_url}|Airflow run>" if run_url else "", f"<{docs_url}|Data Docs>" if docs_url else ""]
    return [link for link in links if link]


def _check_lines(checks: list[CheckResult], top_n: int) -> tuple[list[str], int]:
    shown = [f"• `{c.expectation}`" + (f" on `{c.column}`" if c.column else "") + f": {c.observed}" for c in checks]
    return shown[:top_n], max(len(checks) - top_n, 0)


def quality_alert(
    model: str,
    logical_date: str,
    run_id: str | None,
    report: QualityReport,
    top_n: int = 10,
    run_url: str | None = None,
    docs_url: str | None = None,
) -> SlackMessage:
    """The run stopped at the quality gate: which critical expectations failed, with observed values."""
    lines, more = _check_lines(report.critical, top_n)
    tail = [f"…and {more} more"] if more else []
    title = f"Quality gate failed: {model} {logical_date}"
    summary = f"{len(report.critical)} critical expectation(s) of suite `{report.suite}` failed. Nothing was trained; the champion is unchanged."
    fallback = "\n".join([title, summary, *lines, *tail])
    blocks = [
        _header(f":rotating_light: {title}"),
        _section(summary),
        _section("\n".join([*lines, *tail])),
        _context(f"model *{model}*", f"date {logical_date}", f"run `{run_id or 'cli'}`", *_links(run_url, docs_url)),
    ]
    return SlackMessage(fallback, blocks)


def warnings_alert(
    model: str, logical_date: str, run_id: str | None, report: QualityReport, top_n: int = 10
) -> SlackMessage:
    """A quiet note: warning-level expectations failed, the run goes on."""
    lines, more = _check_lines(report.warnings, top_n)
    tail = [f"…and {more} more"] if more else []
    title = f"{model} {logical_date}: {len(report.warnings)} quality warning(s), run continues"
    return SlackMessage(
        "\n".join([title, *lines, *tail]),
        [_section(f"*{title}*\n" + "\n".join([*lines, *tail])), _context(f"run `{run_id or 'cli'}`")],
    )


def failure_alert(
    model: str,
    logical_date: str,
    run_id: str | None,
    stage: str,
    error: str,
    run_url: str | None = None,
) -> SlackMessage:
    """Any other failure (source down, training error): the stage and the error's first lines."""
    title = f"Retraining failed: {model} {logical_date} at {stage}"
    detail = "\n".join(error.strip().splitlines()[:15])
    return SlackMessage(
        f"{title}\n{detail}",
        [
            _header(f":x: {title}"),
            _section(f"```{clip(detail, TEXT_LIMIT - 6)}```"),
            _context(f"model *{model}*", f"date {logical_date}", f"run `{run_id or 'cli'}`", *_links(run_url, None)),
        ],
    )


def docs_link(path: str | None) -> str | None:
    """A Data Docs page as a link: under ``PIPELINES_DOCS_BASE_URL`` when the state folder is served."""
    if not path:
        return None
    base = os.environ.get("PIPELINES_DOCS_BASE_URL", "").rstrip("/")
    local_root = settings.home().as_uri()
    return f"{base}{path.removeprefix(local_root)}" if base and path.startswith(local_root) else path


def drift_alert(model: str, logical_date: str, extra: dict[str, Any], run_url: str | None = None) -> SlackMessage:
    """Drift confirmed, a retrain is on its way: which inputs moved and by how much."""
    moved = [
        f"• `{name}`: " + ", ".join(f"{key} {value:.3f}" for key, value in stats.items())
        for name, stats in extra.get("statistics", {}).items()
    ]
    prediction = extra.get("prediction_psi")
    title = f"Drift confirmed: {model} {logical_date}, retraining"
    summary = (
        f"Window {extra.get('window_start')}..{extra.get('window_end')} against champion v{extra.get('champion_version')}: "
        f"{len(moved)} feature(s) moved"
        + (f", prediction PSI {prediction:.3f}" if prediction is not None else "")
        + f". {extra.get('confirmation', '')}."
    )
    return SlackMessage(
        "\n".join([title, summary, *moved]),
        [
            _header(f":chart_with_upwards_trend: {title}"),
            _section(summary),
            _section("\n".join(moved) or "no single feature over its threshold (prediction drift)"),
            _context(f"model *{model}*", *_links(run_url, None)),
        ],
    )


def rollback_alert(model: str, result: PromotionResult, actor: str, run_url: str | None = None) -> SlackMessage:
    """The champion was moved back: from which version to which, by whom and why."""
    title = f"Rollback: {model} champion is v{result.version} again"
    summary = f"v{result.previous_champion_version} -> v{result.version}, by {actor}. " + " ".join(result.reasons)
    return SlackMessage(
        f"{title}\n{summary}",
        [
            _header(f":rewind: {title}"),
            _section(summary),
            _context(f"model *{model}*", *_links(run_url, None)),
        ],
    )


def approval_alert(decision: Decision, approve_url: str | None) -> SlackMessage:
    """A promotion the policy allows waits for a human: the comparison and where to answer."""
    title = f"Approval needed: {decision.model} v{decision.challenger_version} would become champion"
    body = approval_markdown(decision)
    link = [f"<{approve_url}|Approve or reject in Airflow>"] if approve_url else []
    return SlackMessage(
        f"{title}\n{body}",
        [_header(f":raising_hand: {title}"), _section(body), _context(f"model *{decision.model}*", *link)],
    )


def approval_markdown(decision: Decision) -> str:
    """The body of an approval request: metrics side by side and every check, as plain bullet lines that
    read the same in Airflow's Markdown and in Slack."""
    champion = decision.champion_metrics or {}
    against = f"champion v{decision.champion_version}" if decision.champion_version else "no champion yet"
    metrics = [
        f"- {name}: {champion[name]:.4f} -> {value:.4f}" if name in champion else f"- {name}: {value:.4f}"
        for name, value in decision.challenger_metrics.items()
    ]
    checks = [f"- {check}" for check in decision.checks]
    return "\n".join(
        [
            f"Challenger v{decision.challenger_version} against {against}, on the same "
            f"{decision.holdout_rows} holdout rows (snapshot {decision.snapshot_hash[:12]}).",
            "",
            "Holdout metrics" + (" (champion -> challenger):" if champion else ":"),
            *metrics,
            "",
            "Policy checks:",
            *checks,
        ]
    )
