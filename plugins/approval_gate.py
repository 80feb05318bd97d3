"""The approval step of the retrain DAGs: the standard provider's ApprovalOperator, with its answer kept.

On "Reject" the operator skips its downstream tasks by raising, so its return value never reaches XCom;
this subclass pushes the answer (who chose what) first, under ``ANSWER_KEY``, for whichever task records it.
It also ends the request's body with what the person answering needs besides the comparison: the data window,
the deadline and the default taken then, who may answer, what waits meanwhile, and links to the model card,
MLflow and the run.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.standard.operators.hitl import ApprovalOperator

if TYPE_CHECKING:
    from pipelines.decision.promote import Approval

ANSWER_KEY = "answer"


class RecordedApprovalOperator(ApprovalOperator):
    """ApprovalOperator whose answer is in XCom whether it was Approve or Reject, and whose request says when
    it expires and what happens then.
    """

    def execute(self, context: Any) -> Any:
        """End the request's body with the notes for whoever answers (see the module docstring), then ask."""
        deadline = datetime.now(UTC) + self.response_timeout if self.response_timeout else None
        default = (self.defaults or [self.REJECT])[0]
        approvers = [str(user["name"]) for user in self.assigned_users or []]
        notes = request_notes(context, deadline, default, approvers)
        self.body = f"{self.body}\n\n{notes}" if self.body else notes
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Push the answer to XCom before a Reject can skip downstream, then finish as the ApprovalOperator does."""
        if "error" not in event:
            answer = {"chosen_options": event["chosen_options"], "responded_by_user": event["responded_by_user"]}
            context["ti"].xcom_push(key=ANSWER_KEY, value=answer)
        return super().execute_complete(context, event)


def approval_of(context: Any, task_id: str = "approve") -> Approval | None:
    """The answer given to ``task_id`` in this run as an Approval; None when nobody was asked.

    An answer without a user is the configured default, taken at the timeout.
    """
    from pipelines.decision.promote import Approval

    answer = context["ti"].xcom_pull(task_ids=task_id, key=ANSWER_KEY)
    if not answer:
        return None
    user = answer.get("responded_by_user") or {}
    actor = user.get("name") or user.get("id") or "timeout"
    return Approval(approved=answer["chosen_options"] == [ApprovalOperator.APPROVE], actor=str(actor))


def request_notes(context: Any, deadline: datetime | None, default: str, approvers: list[str]) -> str:
    """Markdown for the end of an approval request: data window, deadline and default, who may answer, what
    waits meanwhile, and links (model card on the Models page, the version in MLflow, this run).
    """
    from slack_alerts import airflow_url

    ti, dag_id, run_id = context["ti"], context["dag_run"].dag_id, context["run_id"]
    decision = ti.xcom_pull(task_ids="evaluate") or {}
    snapshot = ti.xcom_pull(task_ids="ingest") or {}
    model, version = str(decision.get("model", "")), decision.get("challenger_version")
    lines = []
    if snapshot:
        start, holdout, end = (date.fromisoformat(snapshot[k]) for k in ("window_start", "holdout_start", "window_end"))
        last = timedelta(days=1)
        lines.append(
            f"**Data**: training {start} to {holdout - last}, holdout {holdout} to {end - last} "
            f"(the days before the run's logical date, {end}), {snapshot.get('rows', '?')} rows."
        )
    then = (
        f"v{version} becomes champion, recorded as approved by `timeout`"
        if default == ApprovalOperator.APPROVE
        else "the champion stays, recorded as refused by `timeout`"
    )
    when = f"by {deadline:%Y-%m-%d %H:%M} UTC" if deadline else "at any time: this request never expires"
    lines.append(
        f"**Answer {when}.** Unanswered, the default applies: **{default}** ({then}); the form preselects it "
        "for that reason."
    )
    who = ", ".join(f"`{user}`" for user in approvers) if approvers else "anyone who may change this DAG's runs"
    lines.append(f"**Who may answer**: {who}.")
    lines.append(
        f"**Waiting meanwhile**: this run holds `{dag_id}`'s only run slot; manual, nightly and drift runs of it "
        "start after the answer."
    )
    root, mlflow = airflow_url().rstrip("/"), os.environ.get("MLFLOW_UI_URL", "http://localhost:5000").rstrip("/")
    named, number = quote(model, safe=""), quote(str(version), safe="")
    links = [
        f"[model card]({root}/models/{named}/versions/{number}/card/index.html)",
        f"[{model} on the Models page]({root}/models/{named})",
        f"[v{version} in MLflow]({mlflow}/#/models/{named}/versions/{number})",
        f"[this run]({root}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')})",
    ]
    lines.append("**Links**: " + " · ".join(links))
    return "\n\n".join(lines)
