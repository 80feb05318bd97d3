"""``rollback_<model>`` for every config in ``configs/``: move the champion back in one step, by hand.

Triggered manually (the Trigger form shows the ``version`` and ``reason`` Params). The alias moves under the
promotion lock, the ledger records who did it and why, and Slack is told. Nothing runs on a schedule.
"""

from __future__ import annotations

from typing import Any

from _common import lineage_of, manual_move, post_rollback, start_date, stops
from airflow.sdk import DAG, Param, dag, get_current_context, task
from slack_alerts import SlackAlertNotifier

from pipelines.config.loading import load_all
from pipelines.config.model import ModelConfig
from pipelines.jobs import steps


def build_rollback_dag(cfg: ModelConfig) -> DAG:
    """One manual rollback DAG for one model config."""

    @dag(
        dag_id=f"rollback_{cfg.name}",
        description=f"Roll {cfg.name}'s champion back to the previous champion or a chosen version",
        schedule=None,
        start_date=start_date(cfg),
        catchup=False,
        max_active_runs=1,
        tags=["rollback", cfg.name],
        default_args={
            "start_date": start_date(cfg),  # `airflow dags trigger` then refuses earlier logical dates
            "owner": cfg.owner,
            "retries": 0,
            "on_failure_callback": SlackAlertNotifier(),
        },
        params={
            "version": Param(
                None,
                type=["null", "integer"],
                minimum=1,
                description="The version to make champion; empty means the previous champion.",
            ),
            "reason": Param("rollback from Airflow", type="string", minLength=3, description="Why, for the ledger."),
            "readmit": Param(
                False,
                type="boolean",
                description="Re-admit a version that an earlier rollback holds out of every automatic promotion.",
            ),
        },
        doc_md=f"""
### Roll back `{cfg.name}`
Points the `champion` alias of `{cfg.name}` back at the previous champion, or at the version given in the
`version` Param, in one step. The move is recorded in the promotion ledger (who, when, why) and posted to
Slack. `python -m pipelines rollback --model {cfg.name} [--to-version N]` does the same from a shell.

A rollback holds: the version moved away from is never promoted again by a nightly, drift or backfill run,
even on the same data. To make it champion again, run this DAG with its `version` and `readmit` set
(or `python -m pipelines promote --model {cfg.name} --version N --reason TEXT`); that too is recorded.
Moving to a newer version is recorded as a roll-forward.
""",
    )
    def rollback() -> None:
        @task
        def move_champion() -> dict[str, Any]:
            context = get_current_context()
            with stops():
                result = steps.move_champion(cfg, lineage_of(context), *manual_move(context))
            post_rollback(cfg, result, context)
            return result.to_dict()

        move_champion()

    return rollback()


for _cfg in load_all():
    globals()[f"rollback_{_cfg.name}"] = build_rollback_dag(_cfg)
