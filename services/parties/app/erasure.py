"""Personal-data erasure. A subject's request becomes a Temporal workflow (`party-erasure/<party id>`)
that waits out a grace period, cancellable by signal, and then calls AnonymizeParty. The service names
the workflow by string so it does not depend on the workflows package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import FailedPrecondition, Unavailable, Violations
from services.parties import convert, validation
from services.parties.app.assets import AssetsMixin
from services.parties.metrics import ERASURES

WORKFLOW = "PartyErasureWorkflow"
MAX_GRACE = timedelta(days=365)
#: Profile facts that are personal data (all of a person's profile and contact preferences).
PERSONAL_FACTS = [
    *(f"person.{p}.{n}" for p in ("name", "latin_name") for n in ("last_name", "first_name", "patronymic")),
    "person.gender",
    "person.birth_date",
    "preferences.time_zone",
    "preferences.quiet_hours",
    "preferences.preferred_language",
]


def erasure_id(party_id: UUID) -> str:
    return f"party-erasure/{party_id}"


class ErasureMixin(AssetsMixin):
    async def _client(self) -> Any:
        if self.temporal is None:
            raise Unavailable("erasure requests need the workflow engine, which is not configured")
        try:
            return await self.temporal()
        except Exception as exc:
            raise Unavailable(f"the workflow engine is unreachable: {exc}") from exc

    async def request_erasure(self, req: pb.RequestErasureRequest) -> pb.RequestErasureResponse:
        from temporalio.common import (
            SearchAttributeKey,
            SearchAttributePair,
            TypedSearchAttributes,
            WorkflowIDConflictPolicy,
        )

        v = Violations()
        who = validation.context(req.context, v)
        pid = validation.party_id(req.party_id, v)
        default = timedelta(days=self.settings.erasure_grace_period_days if self.settings else 30)
        grace = req.grace_period.ToTimedelta() if req.HasField("grace_period") else default
        if grace < timedelta(0) or grace > MAX_GRACE:
            v.add("grace_period", "must be between 0 and 365 days")
        v.raise_if_any()
        assert pid is not None
        async with self.tx() as repo:
            party = await repo.get_party(pid)
        if party.status == "erased":
            raise FailedPrecondition(f"party {pid} has already been erased")
        if party.kind != "person":
            raise FailedPrecondition(f"only persons have personal data to erase; party {pid} is a {party.kind}")
        client = await self._client()
        requested = datetime.now(UTC)
        handle = await client.start_workflow(
            WORKFLOW,
            {
                "party_id": str(pid),
                "grace_seconds": grace.total_seconds(),
                "actor": who.actor,
                "source": who.source,
                "reason": who.reason,
                "requested_at": requested.isoformat(),
            },
            id=erasure_id(pid),
            task_queue=self.settings.temporal_task_queue if self.settings else "crm-workflows",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(SearchAttributeKey.for_keyword("CrmPartyId"), str(pid)),
                    SearchAttributePair(SearchAttributeKey.for_keyword("CrmStatus"), "waiting_grace_period"),
                    SearchAttributePair(SearchAttributeKey.for_keyword("CrmKind"), "party-erasure"),
                ]
            ),
        )
        status = await handle.query("status")
        scheduled = datetime.fromisoformat(status["scheduled_for"])
        return pb.RequestErasureResponse(erasure_id=handle.id, scheduled_for=convert.ts_pb(scheduled))

    async def cancel_erasure(self, req: pb.CancelErasureRequest) -> pb.CancelErasureResponse:
        from temporalio.service import RPCError, RPCStatusCode

        v = Violations()
        who = validation.context(req.context, v)
        pid = validation.party_id(req.party_id, v)
        v.raise_if_any()
        assert pid is not None
        status = await self._status(pid)
        if status["state"] != "waiting_grace_period":
            raise FailedPrecondition(f"no erasure is waiting for party {pid} (state: {status['state']})")
        client = await self._client()
        handle = client.get_workflow_handle(erasure_id(pid))
        try:
            await handle.signal("cancel", who.reason or "cancelled by request")
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # it finished between the status read and the signal
                raise FailedPrecondition(f"no erasure is waiting for party {pid}") from exc
            raise
        # The workflow ignores a cancel that arrives after the grace period (the anonymization may be under
        # way), so confirm instead of assuming: a query sent after a signal is answered only once the
        # workflow has processed that signal.
        after = await handle.query("status")
        if after["state"] != "cancelled":
            raise FailedPrecondition(
                f"the grace period for party {pid} is over; its erasure can no longer be cancelled"
            )
        return pb.CancelErasureResponse(state=pb.ERASURE_STATE_CANCELLED)

    async def get_erasure_status(self, req: pb.GetErasureStatusRequest) -> pb.GetErasureStatusResponse:
        v = Violations()
        pid = validation.party_id(req.party_id, v)
        v.raise_if_any()
        assert pid is not None
        status = await self._status(pid)
        out = pb.GetErasureStatusResponse(
            state=convert.enum_value(pb.ErasureState, status["state"].upper(), "ERASURE_STATE_"),
            erasure_id=status.get("erasure_id", ""),
        )
        for name in ("scheduled_for", "completed_at"):
            if status.get(name):
                getattr(out, name).CopyFrom(convert.ts_pb(datetime.fromisoformat(status[name])))
        return out

    async def _status(self, pid: UUID) -> dict[str, Any]:
        from temporalio.client import WorkflowExecutionStatus
        from temporalio.service import RPCError, RPCStatusCode

        async with self.tx() as repo:
            await repo.get_party(pid)
            audit = await repo.erasure_record(pid)
        if audit is not None:
            return {"state": "completed", "erasure_id": audit[0], "completed_at": audit[1].isoformat()}
        client = await self._client()
        handle = client.get_workflow_handle(erasure_id(pid))
        try:
            desc = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return {"state": "none"}
            raise
        if desc.status == WorkflowExecutionStatus.RUNNING:
            status = await handle.query("status")
            return {**status, "erasure_id": handle.id}
        if desc.status == WorkflowExecutionStatus.COMPLETED:
            result = await handle.result()
            return {**result, "erasure_id": handle.id}
        return {"state": "failed", "erasure_id": handle.id}

    async def anonymize_party(self, req: pb.AnonymizePartyRequest) -> pb.AnonymizePartyResponse:
        v = Violations()
        who = validation.context(req.context, v)
        pid = validation.party_id(req.party_id, v)
        if not req.erasure_id or len(req.erasure_id) > 200:
            v.add("erasure_id", "is required (at most 200 characters)")
        v.raise_if_any()
        assert pid is not None
        async with self.tx() as repo:
            party = await repo.get_party(pid, lock=True)
            if party.status == "erased":
                audit = await repo.erasure_record(pid)
                return pb.AnonymizePartyResponse(
                    erased_now=False,
                    records_anonymized=audit[2] if audit else 0,
                    erased_at=convert.ts_pb(party.erased_at),
                )
            if party.kind != "person":
                raise FailedPrecondition(f"only persons have personal data to erase; party {pid} is a {party.kind}")
            count = await repo.anonymize(pid, req.erasure_id, who, PERSONAL_FACTS)
            erased = await self.party_message(repo, pid)
            await repo.replace_stored_responses(
                pid, "CreateParty", pb.CreatePartyResponse(party=erased).SerializeToString()
            )
            party = await repo.get_party(pid)
            await self.record(repo, pid, "party.erased", ["*"], party.version, who)
        ERASURES.inc()
        return pb.AnonymizePartyResponse(
            erased_now=True, records_anonymized=count, erased_at=convert.ts_pb(party.erased_at)
        )
