"""The Slack message for each pipeline event: the quality gate stopped a run, quality warnings, a failed stage,
confirmed drift, a human moving the champion, a promotion waiting for approval. Every value is escaped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.alerts.mrkdwn import TEXT_LIMIT, SlackMessage, clip, context, escape, header, link, section
from pipelines.quality.report import CheckResult, QualityReport

if TYPE_CHECKING:
    from pipelines.decision.promote import PromotionResult
    from pipelines.decision.verdict import Decision


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
        header(f":rotating_light: {title}"),
        section(summary),
        section("\n".join([*lines, *tail])),
        context(f"model *{escape(model)}*", f"date {escape(logical_date)}", _run(run_id), *_links(run_url, docs_url)),
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
        [section(f"*{title}*\n" + "\n".join([*lines, *tail])), context(_run(run_id))],
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
            header(f":x: {title}"),
            section(f"```{clip(detail, TEXT_LIMIT - 6)}```"),
            context(f"model *{escape(model)}*", f"date {escape(logical_date)}", _run(run_id), *_links(run_url, None)),
        ],
    )


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
            header(f":chart_with_upwards_trend: {title}"),
            section(summary),
            section("\n".join(moved) or "no single feature over its threshold (prediction drift)"),
            context(f"model *{escape(model)}*", *_links(run_url, None)),
        ],
    )


def decay_alert(
    model: str, logical_date: str, extra: dict[str, Any], run_url: str | None = None, plot_url: str | None = None
) -> SlackMessage:
    """Decay confirmed, a retrain is on its way: which measured value fell, by how much, with the plot."""
    title = escape(f"Performance decay confirmed: {model} {logical_date}, retraining")
    summary = f"Champion v{escape(extra.get('champion_version'))}: {escape(extra.get('confirmation', ''))}."
    found = [f"• {escape(line)}" for line in extra.get("findings", [])]
    links = [*_links(run_url, None), *([link(plot_url, "performance plot")] if plot_url else [])]
    return SlackMessage(
        "\n".join([title, summary, *found]),
        [
            header(f":chart_with_downwards_trend: {title}"),
            section(summary),
            section("\n".join(found) or "no finding listed"),
            context(f"model *{escape(model)}*", *links),
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
            header(f":rewind: {title}"),
            section(summary),
            context(f"model *{escape(model)}*", *_links(run_url, None)),
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
        [header(f":raising_hand: {title}"), section(body), context(f"model *{escape(decision.model)}*", *answer)],
    )


def approval_markdown(decision: Decision) -> str:
    """The body of an approval request: metrics side by side and every check, as plain bullet lines that
    read the same in Airflow's Markdown and in Slack.
    """
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
