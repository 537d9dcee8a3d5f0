"""The approval and signing of one participant's individual plan document for a period: one workflow
per participant and period (`plan-approval/<period>/<participant>`), started by the commissions
service's SubmitPlanDocument, alive across the document's versions until it is signed or withdrawn.

Decisions arrive as the validated update "decide" (the rules are `approval_steps`); each is recorded in
the commissions service (audit trail, document status, notifications) by an activity whose request id
is fixed by the workflow's own event counter, so a retried or replayed activity never records twice.
Every step reminds its assignee after the first SLA and escalates to the assignee's manager after the
second. Search attributes (CrmKind, CrmParticipantId, CrmPeriod, CrmStep, CrmStatus) make the
approvals searchable in the Temporal UI, e.g. ``CrmKind = 'plan-approval' AND CrmStep = 'finance'``.
Input and result are plain dicts: the service starts it by name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.activities import NON_RETRYABLE_TYPES
    from workflows.approval_steps import ApprovalState, Decision, DecisionRefused, build_chain
    from workflows.commissions_activities import CommissionsActivities, PlanStepInput

WORKFLOW_NAME = "PlanApprovalWorkflow"
CRM_STATUS = SearchAttributeKey.for_keyword("CrmStatus")
CRM_STEP = SearchAttributeKey.for_keyword("CrmStep")
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,  # the service being down only delays the approval
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
PAST = {
    "approve": "approved",
    "return": "returned",
    "reject": "rejected",
    "accept": "accepted",
    "withdraw": "withdrawn",
    "resubmit": "resubmitted",
}


def workflow_id(period: str, participant_id: str) -> str:
    return f"plan-approval/{period}/{participant_id}"


class ApprovalInput(TypedDict):
    participant_id: str
    period: str
    version: int
    author: str
    #: [{"step", "assignee", "escalation_assignee"}], ending with the participant's step.
    chain: list[dict[str, Any]]
    reminder_seconds: float
    escalation_seconds: float


@workflow.defn(name=WORKFLOW_NAME)
class PlanApprovalWorkflow:
    @workflow.init
    def __init__(self, inp: ApprovalInput) -> None:
        self._input = inp
        self._state = ApprovalState(author=inp["author"], version=int(inp["version"]), chain=build_chain(inp["chain"]))
        self._changes = 0  # applied decisions: what the SLA timers wait on
        self._events = 0  # recorded steps: numbers the activities' request ids
        self._applying = False
        self._submitted = False  # the submission is recorded: decisions are recorded after it

    @workflow.run
    async def run(self, inp: ApprovalInput) -> dict[str, Any]:
        reminder = timedelta(seconds=float(inp["reminder_seconds"]))
        escalation = max(timedelta(seconds=float(inp["escalation_seconds"])) - reminder, timedelta(0))
        first = self._state.chain[0]
        await self._record("submitted", self._state.author, "", notify=[first.assignee])
        self._submitted = True
        while not self._state.closed:
            seen = self._changes
            if await self._changed_within(seen, reminder):
                continue
            step = self._state.current
            assert step is not None
            await self._record("reminded", "system:plan-approval", "", notify=[step.assignee], step=step.step)
            if await self._changed_within(seen, escalation):
                continue
            if step.escalation_assignee:
                self._state = self._state.escalate()
                await self._record(
                    "escalated",
                    "system:plan-approval",
                    f"no decision within the SLA: {step.escalation_assignee} may decide too",
                    notify=[step.escalation_assignee, step.assignee],
                    step=step.step,
                )
            await workflow.wait_condition(lambda seen=seen: self._changes != seen)
        await workflow.wait_condition(workflow.all_handlers_finished)
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
        step: str | None = None,
        state: ApprovalState | None = None,
    ) -> dict[str, Any]:
        """Records a step with the state it leads to (``state``, default the current one)."""
        self._events += 1
        state = state or self._state
        request = PlanStepInput(
            request_id=f"{workflow.info().workflow_id}/{workflow.info().run_id}/{self._events}",
            participant_id=self._input["participant_id"],
            period=self._input["period"],
            version=state.version,
            step=step if step is not None else state.current_step,
            action=action,
            actor=actor,
            comment=comment,
            current_step=state.current_step,
            status=state.status,
            notify=[n for n in notify if n],
        )
        result = await workflow.execute_activity_method(
            CommissionsActivities.record_plan_step,
            request,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
        self._publish(state)
        return result

    def _publish(self, state: ApprovalState) -> None:
        attributes = workflow.info().typed_search_attributes
        updates = []
        if CRM_STATUS in attributes:
            updates.append(CRM_STATUS.value_set(state.status))
        if CRM_STEP in attributes:
            updates.append(CRM_STEP.value_set(state.current_step or "done"))
        if updates:
            workflow.upsert_search_attributes(updates)

    @workflow.update(name="decide")
    async def decide(self, data: dict[str, Any]) -> dict[str, Any]:
        decision = Decision.of(data)
        new_version = int(data["new_version"]) if data.get("new_version") else None
        self._applying = True
        try:
            # A decision sent right after the submission waits until "submitted" is recorded: the two
            # activities would race, and a "submitted" recorded last would put the document back at the
            # first step in the service (and after the decision in the audit trail).
            await workflow.wait_condition(lambda: self._submitted)
            before = self._state
            after = before.apply(decision, new_version=new_version)
            notify = self._notify(before, after, decision)
            step = before.current_step if decision.action != "resubmit" else after.current_step
            await self._record(
                PAST[decision.action], decision.actor, decision.comment, notify=notify, step=step, state=after
            )
            if after.status == "distributed" and before.status != "distributed":
                await self._record(
                    "distributed",
                    "system:plan-approval",
                    "",
                    notify=[self._input["participant_id"]],
                    step=step,
                    state=after,
                )
        except ActivityError as exc:
            cause = exc.cause or exc
            raise ApplicationError(f"the decision could not be recorded: {cause}", non_retryable=True) from exc
        finally:
            self._applying = False
        # The state changes only once the decision is recorded: the run loop and the SLA timers see
        # either the old state or the recorded new one, never a decision half-applied.
        self._state = after
        self._changes += 1
        return self.summary()

    @decide.validator
    def validate_decision(self, data: dict[str, Any]) -> None:
        if self._applying:
            raise ValueError("another decision is being recorded; try again")
        new_version = int(data["new_version"]) if data.get("new_version") else None
        try:
            self._state.check(Decision.of(data), new_version=new_version)
        except DecisionRefused as exc:
            raise ValueError(str(exc)) from None

    def _notify(self, before: ApprovalState, after: ApprovalState, decision: Decision) -> list[str]:
        if after.status == "returned":
            return [after.author]
        if after.status == "accepted":
            return [after.author]
        if after.status == "withdrawn":
            step = before.current
            return [step.assignee] if step is not None else []
        step = after.current
        return [step.assignee] if step is not None and after.status != "distributed" else []

    @workflow.query(name="status")
    def status(self) -> dict[str, Any]:
        return self.summary()

    def summary(self) -> dict[str, Any]:
        s = self._state
        step = s.current
        return {
            "participant_id": self._input["participant_id"],
            "period": self._input["period"],
            "version": s.version,
            "status": s.status,
            "current_step": s.current_step,
            "assignee": "" if step is None else step.assignee,
            "escalated": s.escalated,
            "comment": s.comment,
            "trail": list(s.trail),
        }
