"""Slack alerts through an incoming webhook: Block Kit messages with a plain-text fallback, sent with
``requests``, within Slack's limits, retried on 429 (``Retry-After``) and 5xx (backoff), all within one
total deadline per delivery.

The webhook URL is a secret: it is never logged, never put in an error message, never returned.
Delivery never raises, so a Slack outage cannot hide the failure being reported. Every value from data,
config or an exception enters a message escaped (``&``, ``<``, ``>``): data is never code.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests

from pipelines.config import settings
from pipelines.errors import PipelinesError
from pipelines.quality.gate import CheckResult, QualityReport

if TYPE_CHECKING:
    from pipelines.decision.evaluate import Decision
    from pipelines.decision.promote import PromotionResult

log = logging.getLogger(__name__)

TEXT_LIMIT = 3000  # characters of a section block's text
HEADER_LIMIT = 150  # characters of a header block's text
FALLBACK_LIMIT = 4000  # Slack truncates a message's top-level text beyond 40,000; keep notifications short
MAX_BLOCKS = 50
DEFAULT_DEADLINE = 30.0  # seconds for one delivery: connect, every read, every retry and wait
DEADLINE_ENV = "PIPELINES_SLACK_DEADLINE_SECONDS"
WEBHOOK_ENV = "SLACK_WEBHOOK_URL"
CONN_ID_ENV = "PIPELINES_SLACK_CONN_ID"
DEFAULT_CONN_ID = "slack_default"
DEFAULT_ENDPOINT = "hooks.slack.com/services"  # the Slack provider's default host for a bare token
DEFAULT_AIRFLOW_PORT = 8080
_WORKER = "slack-webhook"  # name of the threads that post; urllib3 records from them are dropped


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(value: object) -> str:
    """``value`` as Slack text that shows as written: ``&``, ``<`` and ``>`` as entities (Slack's rules), so a
    value can never mention ``<!channel>``, link, or break our formatting's links."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A Slack link to ``url`` showing ``label``: both escaped, and ``|`` in the URL encoded."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"


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
            except Exception as exc:  # noqa: BLE001 - delivery never raises; the text would contain the URL
                answers.append(_Answer(None, type(exc).__name__))

        worker = threading.Thread(target=post, name=_WORKER, daemon=True)
        worker.start()
        worker.join(budget)
        if worker.is_alive() or not answers:
            return _Answer(None, f"deadline of {self.deadline:g} s exceeded")
        return answers[0]


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delay-seconds or an HTTP-date, never negative (``inf`` for
    an endless one); None when absent or unreadable (``nan``, garbage), so the caller's backoff applies."""
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


def deadline_from_env() -> float:
    """The delivery deadline: ``PIPELINES_SLACK_DEADLINE_SECONDS``, else 30 s."""
    return _seconds(os.environ.get(DEADLINE_ENV), DEADLINE_ENV)


def _seconds(value: object, what: str) -> float:
    if value in (None, ""):
        return DEFAULT_DEADLINE
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        log.warning("%s=%r is not a positive number of seconds; using %g s", what, value, DEFAULT_DEADLINE)
        return DEFAULT_DEADLINE
    return seconds


def webhook_from_env() -> SlackWebhook | None:
    """The CLI's webhook: ``SLACK_WEBHOOK_URL``, or None when alerts are off."""
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    return SlackWebhook(url, deadline=deadline_from_env()) if url else None


def slack_conn_id() -> str:
    """The Airflow connection the DAGs post through: ``PIPELINES_SLACK_CONN_ID``, else ``slack_default``."""
    return os.environ.get(CONN_ID_ENV, "").strip() or DEFAULT_CONN_ID


@dataclass(frozen=True)
class ConnectionFields:
    """The parts of an Airflow connection that can hold a Slack webhook (read without importing Airflow)."""

    conn_id: str
    conn_type: str = ""
    host: str = ""
    schema: str = ""
    password: str = ""
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, conn_id: str, data: dict[str, Any]) -> ConnectionFields:
        """From a connection's attributes, or a row of ``airflow connections get -o json``."""
        extra = data.get("extra_dejson", data.get("extra")) or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        port = data.get("port")

        def text(key: str) -> str:
            return str(data.get(key) or "").strip()

        return cls(
            conn_id,
            text("conn_type"),
            text("host"),
            text("schema"),
            text("password"),
            int(port) if port not in (None, "") else None,
            dict(extra),
        )

    @property
    def label(self) -> str:
        return f"connection {self.conn_id} (type {self.conn_type or 'unset'})"


def webhook_url(conn: ConnectionFields) -> str:
    """The webhook URL a connection holds, read as the Slack provider's ``SlackWebhookHook`` reads its
    "Slack Incoming Webhook" connection, and as the README's HTTP recipe:

    - ``extra.webhook_url``, or a password that is a whole URL: that URL;
    - otherwise the password is the token or path (``T.../B.../...``) under the host: ``host`` with its
      scheme, or ``schema`` (default ``https``, ``http`` for an ``http`` connection) + ``host`` (default
      ``hooks.slack.com/services``) + ``port``;
    - a connection written as a URI (``https://hooks.slack.com/services/T/B/X``) has its path in ``schema``.

    Raises ValueError, saying which field to fill, when there is no webhook in it.
    """
    explicit = str(conn.extra.get("webhook_url") or "").strip()
    if explicit:
        return explicit
    token, schema, host = conn.password, conn.schema, conn.host
    if "://" in token:
        return token
    if not token and "/" in schema:
        token, schema = schema, ""
    if not token:
        raise WebhookError(
            f"{conn.label} holds no webhook: put the webhook URL, or its token T.../B.../... "
            f"under the host, in the password field (Webhook Token)"
        )
    if "://" not in host:
        scheme = schema or (conn.conn_type if conn.conn_type in ("http", "https") else "https")
        name, slash, path = (host or DEFAULT_ENDPOINT).partition("/")
        if conn.port and ":" not in name:
            name = f"{name}:{conn.port}"
        host = f"{scheme}://{name}{slash}{path}"
    return f"{host.rstrip('/')}/{token.lstrip('/')}".rstrip("/")


def webhook_from_connection(conn: ConnectionFields) -> SlackWebhook:
    """The webhook of a connection, with its ``timeout`` extra (the form's "Timeout") as the delivery deadline
    and its ``proxy`` extra; raises ValueError when the connection holds no usable webhook."""
    url = webhook_url(conn)
    try:
        deadline = _seconds(conn.extra.get("timeout") or os.environ.get(DEADLINE_ENV), f"{conn.conn_id} timeout")
        return SlackWebhook(url, deadline=deadline, proxy=str(conn.extra.get("proxy") or "") or None)
    except ValueError as exc:
        raise WebhookError(f"{conn.label}: {exc}") from None


class WebhookError(PipelinesError, ValueError):
    """A configured Slack webhook that cannot be used (no scheme, no token, a bad timeout)."""


class ConnectionUnreadable(PipelinesError, LookupError):
    """Airflow failed to answer when asked for a connection."""


class AirflowUnavailable(PipelinesError, LookupError):
    """Airflow is not installed here, so its connections cannot be read."""


def read_airflow_connection(conn_id: str, timeout: float = 60.0) -> ConnectionFields | None:
    """The connection as Airflow's own CLI reads it (env var, secrets backend or metadata DB), or None when it
    does not exist. A subprocess, so the library never imports Airflow; ``AIRFLOW_HOME`` defaults to the state
    folder's ``airflow/`` as in the Makefile. Raises AirflowUnavailable without Airflow, LookupError when
    Airflow fails to answer."""
    beside = Path(sys.executable).with_name("airflow")
    command = str(beside) if beside.exists() else shutil.which("airflow")
    if command is None:
        raise AirflowUnavailable("Airflow is not installed here")
    env = {**os.environ, "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME") or str(settings.home() / "airflow")}
    try:
        done = subprocess.run(
            [command, "connections", "get", conn_id, "-o", "json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConnectionUnreadable(f"`airflow connections get` failed: {type(exc).__name__}") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines() or [f"exit code {done.returncode}"]
        if said[-1].strip() == "Connection not found.":
            return None
        raise ConnectionUnreadable(f"`airflow connections get` failed: {clip(said[-1].strip(), 200)}")
    rows = next((line for line in reversed(done.stdout.splitlines()) if line.startswith("[")), "[]")
    found = json.loads(rows)
    return ConnectionFields.from_mapping(conn_id, found[0]) if found else None


@dataclass(frozen=True)
class SourceCheck:
    """What ``alerts test`` found in one place a webhook can be configured; never holds the URL."""

    source: str
    used_by: str
    configured: bool
    endpoint: str | None = None
    delivery: Delivery | None = None
    problem: str | None = None

    @property
    def failed(self) -> bool:
        """Configured, but unusable or not delivered."""
        return self.configured and not (self.delivery and self.delivery.delivered)

    def line(self) -> str:
        head = f"{self.source}, used by {self.used_by}"
        d = self.delivery
        if d is None:
            return f"{head}: " + ("ERROR: " if self.failed else "") + str(self.problem)
        answer = f"HTTP {d.status}" if d.status else ""
        outcome = f"delivered ({answer}" if d.delivered else f"NOT delivered ({answer}{': ' if answer else ''}{d.error}"
        return f"{head}: {self.endpoint}: {outcome}, {d.attempts} attempt(s), {d.seconds:.1f} s)"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


def probe_message(model: str, sources: list[str]) -> SlackMessage:
    """A harmless message that proves a webhook reaches its channel."""
    title = f"Test alert for {model}: Slack alerts reach this channel"
    detail = f"Sent by `python -m pipelines alerts test` through {' and '.join(sources)}."
    return SlackMessage(
        escape(f"{title}\n{detail}"),
        [
            _header(f":white_check_mark: {escape(title)}"),
            _section(escape(detail)),
            _context(f"model *{escape(model)}*"),
        ],
    )


def check_alerts(
    model: str,
    conn_id: str | None = None,
    read_connection: Callable[[str], ConnectionFields | None] | None = None,
) -> list[SourceCheck]:
    """Send a test message through each configured webhook, once per distinct one: ``SLACK_WEBHOOK_URL`` (the
    CLI's) and the Airflow connection (the DAGs', read by ``read_airflow_connection`` unless another reader is
    given). Says what each place holds (masked) and the outcome."""
    read = read_connection or read_airflow_connection
    found = [_env_source(), _connection_source(conn_id or slack_conn_id(), read)]
    sent: list[tuple[SlackWebhook, Delivery]] = []
    checks = []
    for check, hook in found:
        if hook is None:
            checks.append(check)
            continue
        delivery = next((d for h, d in sent if h.same_url(hook)), None)
        if delivery is None:
            names = [c.source for c, h in found if h is not None and h.same_url(hook)]
            delivery = hook.send(probe_message(model, names))
            sent.append((hook, delivery))
        checks.append(replace(check, delivery=delivery))
    return checks


def _env_source() -> tuple[SourceCheck, SlackWebhook | None]:
    source = f"environment variable {WEBHOOK_ENV}"
    try:
        hook = webhook_from_env()
    except ValueError as exc:
        return SourceCheck(source, "the CLI", True, problem=str(exc)), None
    if hook is None:
        return SourceCheck(source, "the CLI", False, problem="not set: the CLI sends no alerts"), None
    return SourceCheck(source, "the CLI", True, hook.endpoint), hook


def _connection_source(
    conn_id: str, read_connection: Callable[[str], ConnectionFields | None]
) -> tuple[SourceCheck, SlackWebhook | None]:
    source = f"connection {conn_id}"
    try:
        conn = read_connection(conn_id)
    except AirflowUnavailable as exc:
        return SourceCheck(source, "the DAGs", False, problem=f"not checked: {exc}"), None
    except LookupError as exc:
        return SourceCheck(source, "the DAGs", True, problem=str(exc)), None
    if conn is None:
        return SourceCheck(source, "the DAGs", False, problem="not found: the DAGs send no alerts"), None
    try:
        hook = webhook_from_connection(conn)
    except ValueError as exc:
        return SourceCheck(conn.label, "the DAGs", True, problem=str(exc)), None
    return SourceCheck(conn.label, "the DAGs", True, hook.endpoint), hook


def airflow_ui_url(base_url: str | None = None, port: object = None) -> str:
    """Airflow's UI root for links: ``[api] base_url`` when set (path kept), else ``http://localhost:<port>``
    with ``[api] port`` (the README's 8080 when nothing is configured)."""
    base = (base_url or "").strip().rstrip("/")
    return base or f"http://localhost:{str(port or '').strip() or DEFAULT_AIRFLOW_PORT}"


def task_log_url(root: str, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 0) -> str:
    """A task instance's page (its log) in Airflow's UI under ``root``."""
    mapped = f"/mapped/{map_index}" if map_index >= 0 else ""
    tried = f"?try_number={try_number}" if try_number > 0 else ""
    return f"{_task_path(root, dag_id, run_id, task_id)}{mapped}{tried}"


def required_actions_url(root: str, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """Where a human answers a task's approval request in Airflow's UI under ``root``."""
    return f"{_task_path(root, dag_id, run_id, task_id)}/required_actions?map_index={map_index}"


def _task_path(root: str, dag_id: str, run_id: str, task_id: str) -> str:
    parts = ("dags", dag_id, "runs", run_id, "tasks", task_id)
    return root.rstrip("/") + "/" + "/".join(quote(str(part), safe="") for part in parts)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, TEXT_LIMIT)}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_LIMIT)}}


def _context(*parts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(p, TEXT_LIMIT)} for p in parts[:10]]}


def _links(run_url: str | None, docs_url: str | None) -> list[str]:
    links = [link(run_url, "Airflow run") if run_url else "", link(docs_url, "Data Docs") if docs_url else ""]
    return [text for text in links if text]


def _check_lines(checks: list[CheckResult], top_n: int) -> tuple[list[str], int]:
    shown = [
        f"• `{escape(c.expectation)}`" + (f" on `{escape(c.column)}`" if c.column else "") + f": {escape(c.observed)}"
        for c in checks
    ]
    return shown[:top_n], max(len(checks) - top_n, 0)


def _run(run_id: str | None) -> str:
    return f"run `{escape(run_id or 'cli')}`"


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
    title = escape(f"Quality gate failed: {model} {logical_date}")
    summary = (
        f"{len(report.critical)} critical expectation(s) of suite `{escape(report.suite)}` failed. "
        "Nothing was trained; the champion is unchanged."
    )
    fallback = "\n".join([title, summary, *lines, *tail])
    blocks = [
        _header(f":rotating_light: {title}"),
        _section(summary),
        _section("\n".join([*lines, *tail])),
        _context(f"model *{escape(model)}*", f"date {escape(logical_date)}", _run(run_id), *_links(run_url, docs_url)),
    ]
    return SlackMessage(fallback, blocks)


def warnings_alert(
    model: str, logical_date: str, run_id: str | None, report: QualityReport, top_n: int = 10
) -> SlackMessage:
    """A quiet note: warning-level expectations failed, the run goes on."""
    lines, more = _check_lines(report.warnings, top_n)
    tail = [f"…and {more} more"] if more else []
    title = escape(f"{model} {logical_date}: {len(report.warnings)} quality warning(s), run continues")
    return SlackMessage(
        "\n".join([title, *lines, *tail]),
        [_section(f"*{title}*\n" + "\n".join([*lines, *tail])), _context(_run(run_id))],
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
    title = escape(f"Retraining failed: {model} {logical_date} at {stage}")
    detail = escape("\n".join(error.strip().splitlines()[:15]))
    return SlackMessage(
        f"{title}\n{detail}",
        [
            _header(f":x: {title}"),
            _section(f"```{clip(detail, TEXT_LIMIT - 6)}```"),
            _context(f"model *{escape(model)}*", f"date {escape(logical_date)}", _run(run_id), *_links(run_url, None)),
        ],
    )


def docs_link(path: str | None) -> str | None:
    """A Data Docs page as a link: on the Models page when Airflow's base URL is known (``AIRFLOW__API__BASE_URL``),
    else under ``PIPELINES_DOCS_BASE_URL`` when the state folder is served, else the ``file://`` path."""
    from pipelines.reports.models_page import docs_url

    if not path:
        return None
    airflow = os.environ.get("AIRFLOW__API__BASE_URL", "").strip()
    page = docs_url(f"{airflow_ui_url(airflow)}/models", path) if airflow else None
    if page:
        return page
    base = os.environ.get("PIPELINES_DOCS_BASE_URL", "").rstrip("/")
    local_root = settings.home().as_uri()
    return f"{base}{path.removeprefix(local_root)}" if base and path.startswith(local_root) else path


def drift_alert(model: str, logical_date: str, extra: dict[str, Any], run_url: str | None = None) -> SlackMessage:
    """Drift confirmed, a retrain is on its way: which inputs moved and by how much."""
    moved = [
        f"• `{escape(name)}`: " + ", ".join(f"{escape(key)} {value:.3f}" for key, value in stats.items())
        for name, stats in extra.get("statistics", {}).items()
    ]
    prediction = extra.get("prediction_psi")
    title = escape(f"Drift confirmed: {model} {logical_date}, retraining")
    window = f"{escape(extra.get('window_start'))}..{escape(extra.get('window_end'))}"
    summary = (
        f"Window {window} against champion v{escape(extra.get('champion_version'))}: {len(moved)} feature(s) moved"
        + (f", prediction PSI {prediction:.3f}" if prediction is not None else "")
        + f". {escape(extra.get('confirmation', ''))}."
    )
    return SlackMessage(
        "\n".join([title, summary, *moved]),
        [
            _header(f":chart_with_upwards_trend: {title}"),
            _section(summary),
            _section("\n".join(moved) or "no single feature over its threshold (prediction drift)"),
            _context(f"model *{escape(model)}*", *_links(run_url, None)),
        ],
    )


def rollback_alert(model: str, result: PromotionResult, actor: str, run_url: str | None = None) -> SlackMessage:
    """A human moved the champion (back, forward, or re-admitting a version): from which to which, who, why."""
    what = {"rolled_forward": "Roll-forward", "readmitted": "Re-admitted"}.get(result.status, "Rollback")
    title = escape(f"{what}: {model} champion is v{result.version} now")
    summary = f"v{result.previous_champion_version} -> v{result.version}, by {escape(actor)}. " + escape(
        " ".join(result.reasons)
    )
    return SlackMessage(
        f"{title}\n{summary}",
        [
            _header(f":rewind: {title}"),
            _section(summary),
            _context(f"model *{escape(model)}*", *_links(run_url, None)),
        ],
    )


def approval_alert(decision: Decision, approve_url: str | None, request: str | None = None) -> SlackMessage:
    """A promotion the policy allows waits for a human: the comparison and where to answer.

    ``request`` is the whole text of the request as Airflow shows it (window, deadline, default, links);
    without it, the comparison alone.
    """
    title = escape(f"Approval needed: {decision.model} v{decision.challenger_version} would become champion")
    body = escape(request or approval_markdown(decision))
    answer = [link(approve_url, "Approve or reject in Airflow")] if approve_url else []
    return SlackMessage(
        f"{title}\n{body}",
        [_header(f":raising_hand: {title}"), _section(body), _context(f"model *{escape(decision.model)}*", *answer)],
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
