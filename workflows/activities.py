"""Activities: the only place where workflows touch the outside world, here the services over gRPC.

Activities are methods of a class so that one gRPC channel per worker is opened lazily and reused by
every activity execution (a channel per call would pay a TCP and HTTP/2 handshake each time). gRPC
errors are translated into Temporal ApplicationErrors whose `type` is the status code name, so the
retry policy can tell a bad request (never worth retrying) from an outage (retry with backoff)."""

from __future__ import annotations

from datetime import UTC
from typing import Any, TypedDict

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors
from temporalio import activity
from temporalio.exceptions import ApplicationError

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from crm_runtime.settings import Settings

#: Who the parties service records as the author of an erasure (the subject's request is in the reason).
ERASURE_ACTOR = "system:erasure-workflow"
ERASURE_SOURCE = "crm-workflows"
#: Status codes that say the request itself is wrong: retrying cannot help, so the workflow fails fast.
NON_RETRYABLE_CODES = frozenset(
    {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT}
)
NON_RETRYABLE_TYPES = sorted(code.name for code in NON_RETRYABLE_CODES)
#: Per-call deadline; below the activity's start-to-close timeout so the activity sees a clean error.
RPC_TIMEOUT_SECONDS = 20.0


class AnonymizeInput(TypedDict):
    party_id: str
    #: The erasure request (workflow id), recorded in the parties service's audit trail.
    erasure_id: str
    reason: str


class AnonymizeResult(TypedDict):
    erased_now: bool
    records_anonymized: int
    #: ISO 8601 UTC.
    erased_at: str


class ResolveInput(TypedDict):
    request_id: str
    case_id: str
    #: "merge" or "not_duplicate".
    resolution: str
    survivor_party_id: str
    default_rule: int
    #: [{"field": ..., "take": MergeSide number}]
    field_choices: list[dict[str, Any]]
    trusted_sources: list[str]
    actor: str
    source: str
    reason: str


class SlaInput(TypedDict):
    case_id: str
    #: "reminded" or "escalated".
    stage: str


class CaseSummary(TypedDict):
    case_id: str
    #: "open", "merged", "not_duplicate" or "withdrawn".
    status: str
    merge_id: str
    decided_by: str


def rpc_error(method: str, exc: grpc.aio.AioRpcError) -> ApplicationError:
    code = exc.code()
    return ApplicationError(
        f"{method} failed with {code.name}: {exc.details()}",
        type=code.name,
        non_retryable=code in NON_RETRYABLE_CODES,
    )


class PartiesActivities:
    """Activities calling the parties service; one instance (and one channel) per worker."""

    def __init__(self, settings: Settings) -> None:
        self._address = settings.parties_address
        self._channel: grpc.aio.Channel | None = None
        self._stub: parties_pb2_grpc.PartiesServiceStub | None = None

    def _parties(self) -> parties_pb2_grpc.PartiesServiceStub:
        # Created on first use, inside the worker's event loop (a grpc.aio channel is bound to its loop).
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self._address, interceptors=aio_client_interceptors())
            self._stub = parties_pb2_grpc.PartiesServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = None

    @activity.defn(name="anonymize_party")
    async def anonymize_party(self, request: AnonymizeInput) -> AnonymizeResult:
        """Anonymizes the party; AnonymizeParty is idempotent, so a retry after a lost reply is safe."""
        try:
            resp = await self._parties().AnonymizeParty(
                pb.AnonymizePartyRequest(
                    party_id=request["party_id"],
                    erasure_id=request["erasure_id"],
                    context=common_pb2.ChangeContext(
                        actor=ERASURE_ACTOR, source=ERASURE_SOURCE, reason=request.get("reason", "")
                    ),
                ),
                timeout=RPC_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error("AnonymizeParty", exc) from exc
        activity.logger.info(
            "party anonymized" if resp.erased_now else "party had already been anonymized",
            extra={"party_id": request["party_id"], "records_anonymized": resp.records_anonymized},
        )
        return AnonymizeResult(
            erased_now=resp.erased_now,
            records_anonymized=resp.records_anonymized,
            erased_at=resp.erased_at.ToDatetime(tzinfo=UTC).isoformat(),
        )

    # -- duplicate review ------------------------------------------------------------------------------

    @activity.defn(name="resolve_duplicate_case")
    async def resolve_duplicate_case(self, request: ResolveInput) -> CaseSummary:
        """Applies a steward's decision; the request id is fixed per workflow run, so a retry after a lost
        reply returns the first answer instead of merging twice."""
        choices = [pb.FieldChoice(field=c["field"], take=c["take"]) for c in request.get("field_choices", [])]
        try:
            resp = await self._parties().ResolveDuplicateCase(
                pb.ResolveDuplicateCaseRequest(
                    request_id=request["request_id"],
                    case_id=request["case_id"],
                    resolution=RESOLUTIONS[request["resolution"]],
                    survivor_party_id=request.get("survivor_party_id", ""),
                    default_rule=request.get("default_rule", 0),
                    field_choices=choices,
                    trusted_sources=request.get("trusted_sources", []),
                    context=common_pb2.ChangeContext(
                        actor=request["actor"], source=request.get("source", ""), reason=request.get("reason", "")
                    ),
                ),
                timeout=RPC_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error("ResolveDuplicateCase", exc) from exc
        return case_summary(resp.case)

    @activity.defn(name="note_duplicate_case_sla")
    async def note_duplicate_case_sla(self, request: SlaInput) -> CaseSummary:
        """Records a reminder or an escalation on the case (shown in the stewards' lists) and returns the
        case, whose status tells the workflow whether the question still stands."""
        stage = {
            "reminded": pb.DUPLICATE_CASE_SLA_STAGE_REMINDED,
            "escalated": pb.DUPLICATE_CASE_SLA_STAGE_ESCALATED,
        }[request["stage"]]
        try:
            resp = await self._parties().NoteDuplicateCaseSla(
                pb.NoteDuplicateCaseSlaRequest(case_id=request["case_id"], stage=stage), timeout=RPC_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error("NoteDuplicateCaseSla", exc) from exc
        activity.logger.warning(
            "duplicate case %s: %s", request["stage"], request["case_id"], extra={"case_id": request["case_id"]}
        )
        return case_summary(resp.case)


RESOLUTIONS = {
    "merge": pb.DUPLICATE_CASE_RESOLUTION_MERGE,
    "not_duplicate": pb.DUPLICATE_CASE_RESOLUTION_NOT_DUPLICATE,
}


def case_summary(case: pb.DuplicateCase) -> CaseSummary:
    return CaseSummary(
        case_id=case.case_id,
        status=pb.DuplicateCaseStatus.Name(case.status).removeprefix("DUPLICATE_CASE_STATUS_").lower(),
        merge_id=case.merge_id,
        decided_by=case.decided_by,
    )
