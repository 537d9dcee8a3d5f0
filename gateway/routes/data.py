"""Data-protection and data-management routes: personal-data erasure requests, the change feed and
bulk import. Reserved to admins and data stewards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from crm.parties.v1 import parties_pb2 as pb
from gateway.auth import DataOfficer
from gateway.convert import fill, to_data
from gateway.models.parties import ChangesPage, ImportRequest, ImportResult
from gateway.models.relations import ErasureRequestIn, ErasureScheduled, ErasureStatus
from gateway.problems import documented, validation_problem
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS, PartyId
from gateway.upstream import Parties, call

router = APIRouter(prefix=API_PREFIX, responses=COMMON_PROBLEMS)

#: Rows per streamed message of a bulk import.
IMPORT_BATCH = 200


@router.post("/parties/{party_id}/erasure-request", status_code=202, tags=["erasure"], responses=documented(404, 409))
async def request_erasure(
    party_id: PartyId, principal: DataOfficer, parties: Parties, body: ErasureRequestIn | None = None
) -> ErasureScheduled:
    """Schedules anonymization of a person's personal data after a grace period (cancellable)."""
    request = pb.RequestErasureRequest(party_id=party_id, context=principal.context())
    if body is not None and body.grace_period_days is not None:
        request.grace_period.FromTimedelta(timedelta(days=body.grace_period_days))
    result = await call(parties.RequestErasure, request, fields={"grace_period": "body.grace_period_days"})
    return ErasureScheduled.model_validate(to_data(result))


@router.delete("/parties/{party_id}/erasure-request", tags=["erasure"], responses=documented(404, 409))
async def cancel_erasure(party_id: PartyId, principal: DataOfficer, parties: Parties) -> ErasureStatus:
    """Cancels a waiting erasure request."""
    request = pb.CancelErasureRequest(party_id=party_id, context=principal.context())
    result = await call(parties.CancelErasure, request)
    return ErasureStatus.model_validate(to_data(result))


@router.get("/parties/{party_id}/erasure-request", tags=["erasure"], responses=documented(404))
async def get_erasure_status(party_id: PartyId, principal: DataOfficer, parties: Parties) -> ErasureStatus:
    result = await call(parties.GetErasureStatus, pb.GetErasureStatusRequest(party_id=party_id))
    return ErasureStatus.model_validate(to_data(result))


@router.get("/changes", tags=["change feed"])
async def list_changes(
    principal: DataOfficer,
    parties: Parties,
    after: Annotated[int, Query(description="The sequence of the last change already seen; 0 to start.")] = 0,
    limit: Annotated[int, Query(description="At most 1000 (default 100).")] = 0,
    party_id: Annotated[list[str] | None, Query(description="Only changes of these parties.")] = None,
) -> ChangesPage:
    """Changes after a cursor, in commit order with no gaps. Values are not carried: read the party."""
    request = pb.ListChangesRequest(after_sequence=after, limit=limit, party_ids=party_id or [])
    fields = {"after_sequence": "query.after", "party_ids": "query.party_id"}
    result = await call(parties.ListChanges, request, fields=fields, default="query")
    return ChangesPage(changes=to_data(result)["changes"], next_after=result.next_after_sequence)


@router.post("/parties/import", tags=["bulk import"])
async def import_parties(body: ImportRequest, principal: DataOfficer, parties: Parties) -> ImportResult:
    """Creates many parties: good rows go in, each bad row is reported with its field errors.

    Every row needs a request_id so that re-running an interrupted import skips what is already in."""
    errors = [e for i, row in enumerate(body.rows) for e in row.party.profile_errors(f"body.rows[{i}].party")]
    if errors:
        raise validation_problem(errors)
    context = principal.context()

    async def batches() -> AsyncIterator[pb.ImportPartiesRequest]:
        for start in range(0, len(body.rows), IMPORT_BATCH):
            message = pb.ImportPartiesRequest()
            for row in body.rows[start : start + IMPORT_BATCH]:
                item = message.rows.add(row_ref=row.row_ref)
                fill(item.party, row.party.model_dump(exclude={"kind"}))
                item.party.context.CopyFrom(context)
            yield message

    result = await call(parties.ImportParties, batches())
    return ImportResult(
        rows_received=result.rows_received,
        parties_created=result.parties_created,
        rows_already_present=result.rows_already_present,
        errors=[
            {"row_ref": e.row_ref, "errors": [{"field": v.field, "reason": v.description} for v in e.violations]}
            for e in result.errors
        ],
    )
