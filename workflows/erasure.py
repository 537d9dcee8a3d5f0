"""Personal-data erasure of one party: wait out the grace period (cancellable), then anonymize.

The parties service starts this workflow by name ("PartyErasureWorkflow", id `party-erasure/<party id>`)
with a plain dict, so input and result are dicts (typed here as TypedDicts) rather than dataclasses: the
service must not import this package. The grace period is a durable Temporal timer, so it survives worker
restarts and, in tests, passes in simulated time.

Search attribute CrmStatus follows the state, so operators can list erasures by state in the Temporal UI.
It is only upserted when the starter set it (as the parties service does, together with CrmPartyId and
CrmKind): that proves the attribute is registered in the namespace. Upserting an unregistered attribute
would fail every workflow task and leave the erasure stuck, which is worse than a missing label."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Literal, NotRequired, TypedDict

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.activities import NON_RETRYABLE_TYPES, AnonymizeInput, PartiesActivities

WORKFLOW_NAME = "PartyErasureWorkflow"
CRM_STATUS = SearchAttributeKey.for_keyword("CrmStatus")

ANONYMIZE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    # No attempt limit: erasure is a legal obligation, so an outage of the parties service only delays it
    # (the retries are visible in the Temporal UI and metrics). Bad requests fail at once instead.
    maximum_attempts=0,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)

State = Literal["waiting_grace_period", "cancelled", "completed", "failed"]


class ErasureRequest(TypedDict):
    """What the parties service sends (RequestErasure)."""

    party_id: str
    grace_seconds: float
    actor: str
    source: str
    reason: str
    #: ISO 8601 UTC; the grace period is promised from this moment.
    requested_at: str


class ErasureStatus(TypedDict):
    """The "status" query answer and the workflow result; the parties service reads both."""

    state: State
    party_id: str
    #: ISO 8601 UTC: requested_at + grace period.
    scheduled_for: str
    completed_at: NotRequired[str]
    records_anonymized: NotRequired[int]
    #: False when the party had already been anonymized (e.g. by an earlier, lost attempt).
    erased_now: NotRequired[bool]
    cancelled_at: NotRequired[str]
    cancel_reason: NotRequired[str]
    error: NotRequired[str]


@workflow.defn(name=WORKFLOW_NAME)
class PartyErasureWorkflow:
    @workflow.init
    def __init__(self, request: ErasureRequest) -> None:
        # Set up in init so that a query arriving before run() starts (the service queries right after
        # starting) already sees the schedule.
        self._grace = timedelta(seconds=float(request["grace_seconds"]))
        scheduled = datetime.fromisoformat(request["requested_at"]) + self._grace
        self._status = ErasureStatus(
            state="waiting_grace_period", party_id=request["party_id"], scheduled_for=scheduled.isoformat()
        )
        self._cancel_reason: str | None = None
        self._cancellable = True

    @workflow.run
    async def run(self, request: ErasureRequest) -> ErasureStatus:
        try:
            if self._grace > timedelta(0):
                await workflow.wait_condition(lambda: self._cancel_reason is not None, timeout=self._grace)
        except TimeoutError:
            pass  # the grace period is over
        except asyncio.CancelledError:
            # A Temporal cancellation (UI, CLI) during the grace period means the same as the signal.
            self._cancel_reason = self._cancel_reason or "workflow cancellation requested"
        if self._cancel_reason is not None:
            return self._cancelled()
        # From here on a cancel signal is ignored: the anonymization may already be committed.
        self._cancellable = False
        return await self._anonymize(request)

    @workflow.query(name="status")
    def status(self) -> ErasureStatus:
        return self._status

    @workflow.signal(name="cancel")
    def cancel(self, reason: str) -> None:
        if not self._cancellable:
            workflow.logger.warning("cancel signal ignored: the grace period is over", extra={"reason": reason})
            return
        if self._cancel_reason is None:
            self._cancel_reason = reason or "cancelled"

    def _cancelled(self) -> ErasureStatus:
        self._status["cancelled_at"] = workflow.now().isoformat()
        self._status["cancel_reason"] = self._cancel_reason or ""
        self._set_state("cancelled")
        return self._status

    async def _anonymize(self, request: ErasureRequest) -> ErasureStatus:
        try:
            result = await workflow.execute_activity_method(
                PartiesActivities.anonymize_party,
                AnonymizeInput(
                    party_id=request["party_id"], erasure_id=workflow.info().workflow_id, reason=request["reason"]
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=ANONYMIZE_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause or exc
            self._status["error"] = str(cause)
            self._set_state("failed")
            # Failing the execution (not returning a "failed" result) makes it count as a failed workflow
            # in the UI and in the SDK metrics, where alerts look.
            error_type = cause.type if isinstance(cause, ApplicationError) else None
            raise ApplicationError(
                f"erasure of party {request['party_id']} failed: {cause}", type=error_type, non_retryable=True
            ) from exc
        self._status["completed_at"] = result["erased_at"]
        self._status["records_anonymized"] = result["records_anonymized"]
        self._status["erased_now"] = result["erased_now"]
        self._set_state("completed")
        return self._status

    def _set_state(self, state: State) -> None:
        self._status["state"] = state
        if CRM_STATUS in workflow.info().typed_search_attributes:
            workflow.upsert_search_attributes([CRM_STATUS.value_set(state)])
