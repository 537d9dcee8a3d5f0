"""A participant's dispute of a commission statement line or a transaction: one workflow per dispute
(`dispute/<period>/<participant>/<dispute id>`), started by the commissions service's OpenDispute.

Decisions arrive as the validated update "decide" (rules in `dispute_steps`) and are recorded in the
service (audit, status, notifications) by activities with request ids fixed by the workflow's event
counter. A resolution records an adjustment in the open period (the service picks it, idempotently),
then recalculates the participant incrementally and notifies them; a failed recalculation does not undo
the resolution (the period's next run pays the adjustment anyway) and is retried. Reminders after the
first SLA, escalation after the second, as for plan approvals.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.activities import NON_RETRYABLE_TYPES
    from workflows.commissions_activities import CommissionsActivities, DisputeStepInput, RecalculateInput
    from workflows.dispute_steps import DisputeDecision, DisputeRefused, DisputeState

WORKFLOW_NAME = "DisputeWorkflow"
CRM_STATUS = SearchAttributeKey.for_keyword("CrmStatus")
CRM_STEP = SearchAttributeKey.for_keyword("CrmStep")
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
RECALCULATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=20,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
PAST = {
    "approve": "approved",
    "reject": "rejected",
    "request_info": "info_requested",
    "provide_info": "info_provided",
    "resolve": "resolved",
    "withdraw": "withdrawn",
}


def workflow_id(period: str, participant_id: str, dispute_id: str) -> str:
    return f"dispute/{period}/{participant_id}/{dispute_id}"


class DisputeInput(TypedDict):
    dispute_id: str
    participant_id: str
    period: str
    manager: str
    manager_escalation: str
    reminder_seconds: float
    escalation_seconds: float


@workflow.defn(name=WORKFLOW_NAME)
class DisputeWorkflow:
    @workflow.init
    def __init__(self, inp: DisputeInput) -> None:
        self._input = inp
        self._state = DisputeState(
            participant_id=inp["participant_id"], manager=inp["manager"], manager_escalation=inp["manager_escalation"]
        )
        self._changes = 0
        self._events = 0
        self._applying = False
        self._opened = False  # the opening is recorded: decisions are recorded after it
        self._recalculated: dict[str, Any] | None = None

    @workflow.run
    async def run(self, inp: DisputeInput) -> dict[str, Any]:
        reminder = timedelta(seconds=float(inp["reminder_seconds"]))
        escalation = max(timedelta(seconds=float(inp["escalation_seconds"])) - reminder, timedelta(0))
        await self._record("opened", inp["participant_id"], "", notify=[self._state.assignee])
        self._opened = True
        while not self._state.closed:
            seen = self._changes
            if await self._changed_within(seen, reminder):
                continue
            assignee = self._state.assignee
            await self._record("reminded", "system:dispute", "", notify=[assignee])
            if await self._changed_within(seen, escalation):
                continue
            target = self._state.escalation_assignee
            if target:
                self._state = self._state.escalate()
                await self._record(
                    "escalated",
                    "system:dispute",
                    f"no decision within the SLA: {target} may decide too",
                    notify=[target, assignee],
                )
            await workflow.wait_condition(lambda seen=seen: self._changes != seen)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._state.status == "resolved":
            try:
                self._recalculated = await workflow.execute_activity_method(
                    CommissionsActivities.recalculate_participant,
                    RecalculateInput(
                        request_id=f"{workflow.info().workflow_id}/{workflow.info().run_id}/recalculate",
                        dispute_id=inp["dispute_id"],
                        participant_id=inp["participant_id"],
                    ),
                    start_to_close_timeout=timedelta(minutes=10),
                    retry_policy=RECALCULATION_RETRY,
                )
            except ActivityError as exc:
                # The adjustment is recorded: the period's next run pays it. Say why it is not shown yet.
                self._recalculated = {"error": str(exc.cause or exc)}
        return self.summary()

    async def _changed_within(self, seen: int, wait: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self._changes != seen, timeout=wait)
        except TimeoutError:
            return self._changes != seen
        return True

    async def _record(
        self,
        action: str,
        actor: str,
        comment: str,
        *,
        notify: list[str],
        amount_minor: int = 0,
        cls: str = "",
        state: DisputeState | None = None,
    ) -> dict[str, Any]:
        """Records a step with the state it leads to (``state``, default the current one)."""
        self._events += 1
        state = state or self._state
        result = await workflow.execute_activity_method(
            CommissionsActivities.record_dispute_step,
            DisputeStepInput(
                request_id=f"{workflow.info().workflow_id}/{workflow.info().run_id}/{self._events}",
                dispute_id=self._input["dispute_id"],
                action=action,
                actor=actor,
                comment=comment,
                status=state.status,
                assignee=state.assignee,
                notify=[n for n in notify if n],
                amount_minor=amount_minor,
                overpayment_class=cls,
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RETRY,
        )
        attributes = workflow.info().typed_search_attributes
        updates = []
        if CRM_STATUS in attributes:
            updates.append(CRM_STATUS.value_set(state.status))
        if CRM_STEP in attributes:
            updates.append(CRM_STEP.value_set(state.assignee or "done"))
        if updates:
            workflow.upsert_search_attributes(updates)
        return result

    @workflow.update(name="decide")
    async def decide(self, data: dict[str, Any]) -> dict[str, Any]:
        decision = DisputeDecision.of(data)
        self._applying = True
        try:
            # A decision sent right after the opening waits until "opened" is recorded: the two activities
            # would race, and an "opened" recorded last would put the dispute back to open in the service.
            await workflow.wait_condition(lambda: self._opened)
            after = self._state.apply(decision)
            notify = [self._input["participant_id"]] if decision.action != "provide_info" else []
            if after.assignee and after.assignee != self._input["participant_id"]:
                notify.append(after.assignee)
            if decision.action == "withdraw" and self._state.assignee not in ("", self._input["participant_id"]):
                notify.append(self._state.assignee)  # whoever had it to decide learns it is gone
            await self._record(
                PAST[decision.action],
                decision.actor,
                decision.comment,
                notify=notify,
                amount_minor=decision.amount_minor if decision.action == "resolve" else 0,
                cls=decision.overpayment_class if decision.action == "resolve" else "",
                state=after,
            )
        except ActivityError as exc:
            cause = exc.cause or exc
            raise ApplicationError(f"the decision could not be recorded: {cause}", non_retryable=True) from exc
        finally:
            self._applying = False
        self._state = after
        self._changes += 1
        return self.summary()

    @decide.validator
    def validate_decision(self, data: dict[str, Any]) -> None:
        if self._applying:
            raise ValueError("another decision is being recorded; try again")
        try:
            self._state.check(DisputeDecision.of(data))
        except DisputeRefused as exc:
            raise ValueError(str(exc)) from None

    @workflow.query(name="status")
    def status(self) -> dict[str, Any]:
        return self.summary()

    def summary(self) -> dict[str, Any]:
        return {
            "dispute_id": self._input["dispute_id"],
            "status": self._state.status,
            "assignee": self._state.assignee,
            "escalated": self._state.escalated,
            "recalculated": self._recalculated,
        }
