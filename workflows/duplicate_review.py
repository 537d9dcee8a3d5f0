"""The review of a possible duplicate: one workflow per case (`duplicate-review/<party id>/<party id>`,
started by the parties service when a create or update finds a possible duplicate).

It waits for a data steward's decision, delivered as the validated update "decide" (merge, with the
survivor and field choices, or "not a duplicate"); reminds after the first SLA and escalates to a senior
steward after the second, when only a senior's decision is accepted. The decision is applied through the
parties service's ResolveDuplicateCase with a request id fixed for the run, so a retried activity never
merges twice. Search attributes (CrmPartyIds, CrmScore, CrmStatus, CrmKind) let stewards and admins find
cases in the Temporal UI. Input and result are plain dicts: the service starts it by name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.activities import NON_RETRYABLE_TYPES, CaseSummary, PartiesActivities, ResolveInput

WORKFLOW_NAME = "DuplicateReviewWorkflow"
CRM_STATUS = SearchAttributeKey.for_keyword("CrmStatus")
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,  # the service being down only delays a decision
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
RESOLUTIONS = ("merge", "not_duplicate")


class ReviewCase(TypedDict):
    case_id: str
    party_id: str
    other_party_id: str
    score: float
    reminder_seconds: float
    escalation_seconds: float


@workflow.defn(name=WORKFLOW_NAME)
class DuplicateReviewWorkflow:
    @workflow.init
    def __init__(self, case: ReviewCase) -> None:
        self._case = case
        self._stage = "open"  # open -> reminded -> escalated
        self._applying = False
        self._outcome: CaseSummary | None = None

    @workflow.run
    async def run(self, case: ReviewCase) -> CaseSummary:
        reminder = timedelta(seconds=float(case["reminder_seconds"]))
        escalation = max(timedelta(seconds=float(case["escalation_seconds"])) - reminder, timedelta(0))
        for stage, wait in (("reminded", reminder), ("escalated", escalation)):
            if await self._decided_within(wait):
                break
            summary = await self._note(stage)
            if summary["status"] != "open":
                # Closed elsewhere meanwhile (a party was merged or erased): nothing left to decide.
                self._outcome = summary
                break
        await workflow.wait_condition(lambda: self._outcome is not None)
        assert self._outcome is not None
        self._set_status(self._outcome["status"])
        return self._outcome

    async def _decided_within(self, wait: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: self._outcome is not None, timeout=wait)
        except TimeoutError:
            return self._outcome is not None
        return True

    async def _note(self, stage: str) -> CaseSummary:
        self._stage = stage
        self._set_status(stage)
        return await workflow.execute_activity_method(
            PartiesActivities.note_duplicate_case_sla,
            {"case_id": self._case["case_id"], "stage": stage},
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )

    @workflow.update(name="decide")
    async def decide(self, decision: dict[str, Any]) -> CaseSummary:
        self._applying = True
        request = ResolveInput(
            request_id=f"{workflow.info().workflow_id}/{workflow.info().run_id}/decide",
            case_id=self._case["case_id"],
            resolution=decision["resolution"],
            survivor_party_id=decision.get("survivor_party_id", ""),
            default_rule=int(decision.get("default_rule", 0)),
            field_choices=list(decision.get("field_choices", [])),
            trusted_sources=list(decision.get("trusted_sources", [])),
            actor=decision["actor"],
            source=decision.get("source", ""),
            reason=decision.get("reason", ""),
        )
        try:
            summary = await workflow.execute_activity_method(
                PartiesActivities.resolve_duplicate_case,
                request,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RETRY,
            )
        except ActivityError as exc:
            self._applying = False
            cause = exc.cause or exc
            # The service refused the decision (e.g. a party changed meanwhile): the case stays open for
            # another decision, and the steward sees why.
            raise ApplicationError(f"the decision could not be applied: {cause}", non_retryable=True) from exc
        self._outcome = summary
        return summary

    @decide.validator
    def validate_decision(self, decision: dict[str, Any]) -> None:
        """Refuses, before anything is recorded in history, a decision that cannot apply to this case now."""
        if self._outcome is not None:
            raise ValueError(f"the case is already closed ({self._outcome['status']})")
        if self._applying:
            raise ValueError("another decision is being applied")
        if decision.get("case_id") != self._case["case_id"]:
            raise ValueError(f"this workflow follows case {self._case['case_id']}, not {decision.get('case_id')}")
        if decision.get("resolution") not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        pair = (self._case["party_id"], self._case["other_party_id"])
        if decision["resolution"] == "merge" and decision.get("survivor_party_id") not in pair:
            raise ValueError("a merge's survivor must be one of the case's two parties")
        if not decision.get("actor"):
            raise ValueError("the deciding steward must be named (context.actor)")
        if self._stage == "escalated" and not decision.get("senior"):
            raise ValueError("the case was escalated: only a senior steward may decide it now")

    @workflow.query(name="status")
    def status(self) -> dict[str, Any]:
        return {"case_id": self._case["case_id"], "stage": self._stage, "outcome": self._outcome}

    def _set_status(self, status: str) -> None:
        if CRM_STATUS in workflow.info().typed_search_attributes:
            workflow.upsert_search_attributes([CRM_STATUS.value_set(status)])
