"""Activities of the commissions workflows: recording approval and dispute steps in the commissions
service, recalculating a participant after a resolved dispute, and drafting and submitting plan
documents in batches for a distribution.

Every call carries a request id fixed by the calling workflow, so a retry after a lost reply is
answered with the first result instead of acting twice. Status codes that say the request itself is
wrong fail fast (see `activities.rpc_error`); outages are retried with backoff.
"""

from __future__ import annotations

from typing import Any, TypedDict

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from temporalio import activity

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2
from crm_runtime.settings import Settings
from workflows.activities import NON_RETRYABLE_CODES, RPC_TIMEOUT_SECONDS, rpc_error

STATUSES = {
    "in_approval": pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL,
    "distributed": pb.PLAN_DOCUMENT_STATUS_DISTRIBUTED,
    "accepted": pb.PLAN_DOCUMENT_STATUS_ACCEPTED,
    "returned": pb.PLAN_DOCUMENT_STATUS_RETURNED,
    "withdrawn": pb.PLAN_DOCUMENT_STATUS_WITHDRAWN,
}
OVERPAYMENT = {
    "CALCULATION_ERROR": pb.OVERPAYMENT_CLASS_CALCULATION_ERROR,
    "EMPLOYEE_FAULT": pb.OVERPAYMENT_CLASS_EMPLOYEE_FAULT,
    "OTHER": pb.OVERPAYMENT_CLASS_OTHER,
}
#: A recalculation runs the period (incrementally, but possibly in full): longer than an ordinary call.
RUN_TIMEOUT_SECONDS = 540.0


class PlanStepInput(TypedDict):
    request_id: str
    participant_id: str
    period: str
    version: int
    step: str
    action: str
    actor: str
    comment: str
    current_step: str
    status: str
    notify: list[str]


class DisputeStepInput(TypedDict):
    request_id: str
    dispute_id: str
    action: str
    actor: str
    comment: str
    status: str
    assignee: str
    notify: list[str]
    amount_minor: int
    overpayment_class: str


class RecalculateInput(TypedDict):
    request_id: str
    dispute_id: str
    participant_id: str


class BatchInput(TypedDict):
    request_prefix: str
    period: str
    author: str
    participant_ids: list[str]


class BatchResult(TypedDict):
    submitted: int
    #: "participant: reason" for each participant whose document could not be drafted or submitted.
    failures: list[str]


class CommissionsActivities:
    """Activities calling the commissions service; one instance (and one channel) per worker."""

    def __init__(self, settings: Settings) -> None:
        self._address = settings.commissions_address
        self._channel: grpc.aio.Channel | None = None
        self._stub: commissions_pb2_grpc.CommissionsServiceStub | None = None

    def _api(self) -> commissions_pb2_grpc.CommissionsServiceStub:
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self._address, interceptors=aio_client_interceptors())
            self._stub = commissions_pb2_grpc.CommissionsServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    @activity.defn(name="record_plan_step")
    async def record_plan_step(self, step: PlanStepInput) -> dict[str, Any]:
        try:
            answer = await self._api().RecordPlanDocumentStep(
                pb.RecordPlanDocumentStepRequest(
                    request_id=step["request_id"],
                    participant_id=step["participant_id"],
                    period=step["period"],
                    version=step["version"],
                    step=step["step"],
                    action=step["action"],
                    actor=step["actor"],
                    comment=step["comment"],
                    current_step=step["current_step"],
                    status=STATUSES[step["status"]],
                    notify=step["notify"],
                ),
                timeout=RPC_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error("RecordPlanDocumentStep", exc) from exc
        doc = answer.document
        return {"version": doc.version, "status": pb.PlanDocumentStatus.Name(doc.status)}

    @activity.defn(name="record_dispute_step")
    async def record_dispute_step(self, step: DisputeStepInput) -> dict[str, Any]:
        amount = None
        if step["amount_minor"]:
            amount = common_pb2.Money(minor_units=step["amount_minor"])
        try:
            answer = await self._api().RecordDisputeStep(
                pb.RecordDisputeStepRequest(
                    request_id=step["request_id"],
                    dispute_id=step["dispute_id"],
                    action=step["action"],
                    actor=step["actor"],
                    comment=step["comment"],
                    status=step["status"],
                    assignee=step["assignee"],
                    notify=step["notify"],
                    adjustment=amount,
                    overpayment_class=OVERPAYMENT.get(step["overpayment_class"], pb.OVERPAYMENT_CLASS_UNSPECIFIED),
                ),
                timeout=RPC_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error("RecordDisputeStep", exc) from exc
        dispute = answer.dispute
        return {"status": dispute.status, "adjustment_id": dispute.adjustment_id}

    @activity.defn(name="recalculate_participant")
    async def recalculate_participant(self, request: RecalculateInput) -> dict[str, Any]:
        """Runs the adjustment's period incrementally for the participant, so their statement and
        dashboard show the resolution now rather than at the next scheduled run."""
        api = self._api()
        try:
            dispute = (
                await api.GetDispute(
                    pb.GetDisputeRequest(dispute_id=request["dispute_id"]), timeout=RPC_TIMEOUT_SECONDS
                )
            ).dispute
            run = await api.RunPeriod(
                pb.RunPeriodRequest(
                    request_id=request["request_id"],
                    period=dispute.adjustment_period,
                    currency=dispute.adjustment.currency_code or "RUB",
                    mode=pb.RUN_MODE_INCREMENTAL,
                    participant_ids=[request["participant_id"]],
                ),
                timeout=RUN_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error("RunPeriod", exc) from exc
        return {"period": run.period, "run_version": run.run_version, "kind": run.kind}

    @activity.defn(name="submit_plan_batch")
    async def submit_plan_batch(self, batch: BatchInput) -> BatchResult:
        """Drafts and submits each participant's document. A participant whose request is wrong (no
        plan, unknown) is reported and skipped; an outage fails the batch, which is retried from the
        start: drafting the same terms again returns the same version and submitting an approval that
        already runs returns it, so nothing is done twice."""
        api = self._api()
        submitted, failures = 0, []
        for i, pid in enumerate(batch["participant_ids"]):
            activity.heartbeat(i)
            try:
                drafted = await api.DraftPlanDocument(
                    pb.DraftPlanDocumentRequest(
                        request_id=f"{batch['request_prefix']}/{pid}",
                        participant_id=pid,
                        period=batch["period"],
                        author=batch["author"],
                    ),
                    timeout=RPC_TIMEOUT_SECONDS,
                )
                await api.SubmitPlanDocument(
                    pb.SubmitPlanDocumentRequest(
                        participant_id=pid,
                        period=batch["period"],
                        version=drafted.document.version,
                        author=batch["author"],
                    ),
                    timeout=RPC_TIMEOUT_SECONDS,
                )
                submitted += 1
            except grpc.aio.AioRpcError as exc:
                if exc.code() in NON_RETRYABLE_CODES:
                    failures.append(f"{pid}: {exc.details()}")
                    continue
                raise rpc_error("SubmitPlanDocument", exc) from exc
        return BatchResult(submitted=submitted, failures=failures)
