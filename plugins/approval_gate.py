"""The approval step of the retrain DAGs: the standard provider's ApprovalOperator, with its answer kept.

On "Reject" the operator skips its downstream tasks by raising, so its return value never reaches XCom;
this subclass pushes the answer (who chose what) first, under ``ANSWER_KEY``, for whichever task records it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

if TYPE_CHECKING:
    from pipelines.promote import Approval

ANSWER_KEY = "answer"


class RecordedApprovalOperator(ApprovalOperator):
    """ApprovalOperator whose answer is in XCom whether it was Approve or Reject."""

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event:
            answer = {"chosen_options": event["chosen_options"], "responded_by_user": event["responded_by_user"]}
            context["ti"].xcom_push(key=ANSWER_KEY, value=answer)
        return super().execute_complete(context, event)


def approval_of(context: Any, task_id: str = "approve") -> Approval | None:
    """The answer given to ``task_id`` in this run as an Approval; None when nobody was asked.

    An answer without a user is the configured default, taken at the timeout.
    """
    from pipelines.promote import Approval

    answer = context["ti"].xcom_pull(task_ids=task_id, key=ANSWER_KEY)
    if not answer:
        return None
    user = answer.get("responded_by_user") or {}
    actor = user.get("name") or user.get("id") or "timeout"
    return Approval(approved=answer["chosen_options"] == [ApprovalOperator.APPROVE], actor=str(actor))
