"""``python -m pipelines VERB``: the library without Airflow, for ops and debugging."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pipelines.errors import PipelinesError

Verb = Callable[[argparse.Namespace], int]


def _day(text: str) -> Any:
    from pipelines.data.windows import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be a whole number of at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every verb, with its options and help."""
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    seed = verbs.add_parser("seed", help="write the synthetic demo dataset into the source database")
    seed.add_argument("--source-url", help="SQLAlchemy URL (default: the demo model's source)")
    seed.add_argument("--start", type=_day, default=None, help="first day, YYYY-MM-DD (default 2026-01-01)")
    seed.add_argument("--days", type=_positive, default=120)
    seed.add_argument("--rows-per-day", type=_positive, default=400)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument(
        "--scenario",
        help="break the data on purpose in the most recent days, e.g. null-spike or drift "
        "(see README, 'The bad-input catalogue'; an unknown name lists them all)",
    )
    seed.add_argument("--scenario-days", type=_positive, help="how many recent days the scenario touches")

    for name, text in (
        ("ingest", "snapshot one window (debugging)"),
        ("validate", "snapshot and run the quality gate (debugging)"),
        ("retrain", "run the whole chain in this process"),
    ):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("--model", default="demo")
        verb.add_argument("--as-of", type=_day, required=True, help="the run's date, YYYY-MM-DD")
        verb.add_argument("--source-url", help="override the model's source URL")
        verb.add_argument("--training-days", type=_positive)
        verb.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        if name == "retrain":
            verb.add_argument("--dry-run", action="store_true", help="evaluate but never promote")
            verb.add_argument(
                "--approve", action="store_true", help="approve the promotion, when the config requires approval"
            )

    drift = verbs.add_parser("drift", help="compare recent data with the champion's reference profile")
    drift.add_argument("--model", default="demo")
    drift.add_argument("--as-of", type=_day, required=True, help="check the window_days before this date")
    drift.add_argument("--source-url", help="override the model's source URL")
    drift.add_argument("--record", action="store_true", help="remember the check (consecutive/cooldown) and log it")
    drift.add_argument("--json", action="store_true")

    score = verbs.add_parser("score", help="score the days before a date with the champion into the predictions table")
    score.add_argument("--model", default="demo")
    score.add_argument("--as-of", type=_day, required=True, help="score the scoring.window_days before this date")
    score.add_argument("--source-url", help="override the URL of the rows to score")
    score.add_argument("--target-url", help="override the predictions database's URL")
    score.add_argument("--json", action="store_true")

    performance = verbs.add_parser(
        "performance", help="measure the champion's predictions (realized and estimated) and check it for decay"
    )
    performance.add_argument("--model", default="demo")
    performance.add_argument("--as-of", type=_day, required=True, help="measure the predictions before this date")
    performance.add_argument("--source-url", help="override the URL of the scored rows (and their labels)")
    performance.add_argument("--target-url", help="override the predictions database's URL")
    performance.add_argument("--record", action="store_true", help="remember the check (consecutive/cooldown), log it")
    performance.add_argument("--json", action="store_true")

    cadence = verbs.add_parser("cadence", help="how fast the metric decays with model age; how often to retrain")
    cadence.add_argument("--model", default="demo")
    cadence.add_argument("--as-of", type=_day, required=True, help="labels are in for every day before this date")
    cadence.add_argument("--source-url", help="override the model's source URL (replay)")
    cadence.add_argument("--weeks", type=_positive, default=6, help="weeks of age each replayed model is judged on")
    cadence.add_argument("--models", type=_positive, default=4, help="models replayed, a week apart")
    cadence.add_argument("--replay", action="store_true", help="replay even when past versions would do")
    cadence.add_argument("--json", action="store_true")

    backfill = verbs.add_parser("backfill", help="backfill the retrain DAG through the Airflow REST API and wait")
    backfill.add_argument("--model", default="demo")
    backfill.add_argument("--from", dest="first", type=_day, required=True, help="first date, YYYY-MM-DD")
    backfill.add_argument("--to", dest="last", type=_day, required=True, help="last date (inclusive), YYYY-MM-DD")
    backfill.add_argument("--timeout", type=_positive, default=3600, help="seconds to wait (default 3600)")
    backfill.add_argument("--unpause", action="store_true", help="unpause the DAG first if it is paused")
    backfill.add_argument("--json", action="store_true")

    status = verbs.add_parser("status", help="champion, challenger, previous champion, the promotion ledger")
    status.add_argument("--model", default="demo")
    status.add_argument("--json", action="store_true")

    rollback = verbs.add_parser("rollback", help="point the champion back at an earlier version")
    rollback.add_argument("--model", default="demo")
    rollback.add_argument("--to-version", type=_positive)
    rollback.add_argument("--reason", default="manual rollback")
    rollback.add_argument("--json", action="store_true")

    alerts = verbs.add_parser("alerts", help="check Slack alerts: send a test message and say what was used")
    alerts.add_argument("action", choices=["test"], help="test: one message through each configured webhook")
    alerts.add_argument("--model", default="demo")
    alerts.add_argument("--conn-id", help="the Airflow connection (default: $PIPELINES_SLACK_CONN_ID or slack_default)")
    alerts.add_argument("--json", action="store_true")

    promote = verbs.add_parser(
        "promote", help="make a version champion by hand, re-admitting it if a rollback holds it out"
    )
    promote.add_argument("--model", default="demo")
    promote.add_argument("--version", type=_positive, required=True)
    promote.add_argument("--reason", required=True, help="why, for the ledger")
    promote.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; a ``PipelinesError`` or a store that did not answer is one line on stderr and exit 1."""
    args = build_parser().parse_args(argv)
    try:
        return int(_VERBS[args.verb](args))
    except PipelinesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        unreachable = _environment_failure(exc)
        if unreachable is None:
            raise
        print(f"error: {unreachable}", file=sys.stderr)
        return 1


def _environment_failure(exc: Exception) -> str | None:
    """One line for a store or server that failed to answer (MLflow, a database, HTTP); None for anything else.

    Only libraries the verb imported can have raised, so none is imported here just to be ruled out.
    """
    from pipelines.data.source_errors import first_line

    sa, mlflow_errors = sys.modules.get("sqlalchemy"), sys.modules.get("mlflow.exceptions")
    if sa is not None and isinstance(exc, sa.exc.DBAPIError):
        return f"a database did not answer: {first_line(exc.orig or exc)}"
    if mlflow_errors is not None and isinstance(exc, mlflow_errors.MlflowException):
        return f"MLflow failed: {first_line(exc)[:400]}"
    if isinstance(exc, OSError):  # requests' errors too: its RequestException is an OSError
        return f"{type(exc).__name__}: {str(exc)[:400]}"
    return None


def _lazy(module: str, function: str) -> Verb:
    """The verb ``function`` of ``pipelines.commands.<module>``, imported when it runs: the parser and ``--help``
    pay for no verb's libraries, and each verb only for its own.
    """

    def run(args: argparse.Namespace) -> int:
        verb: Verb = getattr(importlib.import_module(f"pipelines.commands.{module}"), function)
        return verb(args)

    return run


_VERBS: dict[str, Verb] = {
    "seed": _lazy("runs", "seed_command"),
    "ingest": _lazy("runs", "stage_command"),
    "validate": _lazy("runs", "stage_command"),
    "retrain": _lazy("runs", "retrain_command"),
    "drift": _lazy("runs", "drift_command"),
    "score": _lazy("feedback", "score_command"),
    "performance": _lazy("feedback", "performance_command"),
    "cadence": _lazy("feedback", "cadence_command"),
    "backfill": _lazy("runs", "backfill_command"),
    "status": _lazy("champion", "status_command"),
    "rollback": _lazy("champion", "rollback_command"),
    "alerts": _lazy("champion", "alerts_command"),
    "promote": _lazy("champion", "promote_command"),
}
