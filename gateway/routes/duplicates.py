"""Duplicates and merges for data stewards: check a party before creating it, merge and unmerge, mark two
parties as distinct, and work the review cases (list the open ones, compare a pair side by side, decide).

A decision goes to the case's Temporal workflow as a validated update; once the case was escalated,
only a senior steward (role senior_data_steward, or admin) may decide it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from crm.parties.v1 import parties_pb2 as pb
from gateway.auth import DataOfficer, Editor, Principal
from gateway.convert import enum_from_str, fill, to_data
from gateway.models.common import DuplicateCaseStatus
from gateway.models.duplicates import (
    DecisionIn,
    DuplicateCase,
    DuplicateCasesPage,
    DuplicateCaseView,
    DuplicateCheck,
    MergeIn,
    MergeOptions,
    MergeResult,
    Merges,
    NotDuplicateIn,
    UnmergeIn,
    UnmergeResult,
)
from gateway.models.parties import PartyCreate
from gateway.problems import documented, validation_problem
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS, PartyId
from gateway.upstream import Parties, call

router = APIRouter(prefix=API_PREFIX, tags=["duplicates"], responses=COMMON_PROBLEMS)
SENIOR_ROLES = frozenset({"senior_data_steward", "admin"})


def _merge_options(request: Any, body: MergeOptions) -> None:
    data = body.model_dump(exclude_none=True)
    for name in ("default_rule", "field_choices", "trusted_sources"):
        if name in data:
            fill(request, {name: data[name]})


def _is_senior(principal: Principal) -> bool:
    return bool(principal.roles & SENIOR_ROLES)


@router.post("/duplicates/check")
async def check_duplicates(body: PartyCreate, principal: Editor, parties: Parties) -> DuplicateCheck:
    """Who would this party duplicate? Scores and explanations, best first; nothing is written."""
    errors = body.profile_errors()
    if errors:
        raise validation_problem(errors)
    candidate = fill(pb.CreatePartyRequest(), body.model_dump(exclude={"kind"}))
    result = await call(
        parties.CheckDuplicates, pb.CheckDuplicatesRequest(candidate=candidate), fields={"candidate": "body"}
    )
    return DuplicateCheck.model_validate(to_data(result))


@router.get("/parties/{party_id}/duplicates", responses=documented(404, 409))
async def duplicates_of(party_id: PartyId, principal: DataOfficer, parties: Parties) -> DuplicateCheck:
    """The register's duplicates and possible duplicates of a party, explained."""
    result = await call(parties.CheckDuplicates, pb.CheckDuplicatesRequest(party_id=party_id), default="path")
    return DuplicateCheck.model_validate(to_data(result))


@router.post("/parties/{party_id}/merges", status_code=201, responses=documented(404, 409))
async def merge_into(party_id: PartyId, body: MergeIn, principal: DataOfficer, parties: Parties) -> MergeResult:
    """Merges another party into this one (the survivor): fields by the rules or your choices; all its
    roles, relationships, identifiers, contacts, consents and vehicles move here."""
    request = pb.MergePartiesRequest(
        survivor_party_id=party_id, merged_party_id=body.merged_party_id, context=principal.context()
    )
    _merge_options(request, body)
    result = await call(parties.MergeParties, request, fields={"survivor_party_id": "path.party_id"})
    return MergeResult.model_validate(to_data(result))


@router.get("/parties/{party_id}/merges", responses=documented(404))
async def list_merges(party_id: PartyId, principal: DataOfficer, parties: Parties) -> Merges:
    """The merges a party took part in, newest first (the audit trail)."""
    result = await call(parties.ListMerges, pb.ListMergesRequest(party_id=party_id), default="path")
    return Merges.model_validate(to_data(result))


@router.post("/merges/{merge_id}/unmerge", responses=documented(404, 409))
async def unmerge(
    merge_id: str, principal: DataOfficer, parties: Parties, body: UnmergeIn | None = None
) -> UnmergeResult:
    """Undoes a merge: both parties read exactly as before, and are remembered as not duplicates."""
    context = principal.context()
    if body is not None and body.reason:
        context.reason = body.reason
    result = await call(
        parties.UnmergeParties, pb.UnmergePartiesRequest(merge_id=merge_id, context=context), default="path"
    )
    return UnmergeResult.model_validate(to_data(result))


@router.post("/parties/{party_id}/not-duplicates", status_code=204, responses=documented(404))
async def mark_not_duplicate(party_id: PartyId, body: NotDuplicateIn, principal: DataOfficer, parties: Parties) -> None:
    """Records that two parties are distinct: no review case will open for the pair."""
    await call(
        parties.MarkNotDuplicate,
        pb.MarkNotDuplicateRequest(party_id=party_id, other_party_id=body.other_party_id, context=principal.context()),
        fields={"party_id": "path.party_id"},
    )


@router.get("/duplicate-cases")
async def list_cases(
    principal: DataOfficer,
    parties: Parties,
    status: Annotated[DuplicateCaseStatus | None, Query(description="Default: open.")] = None,
    party_id: Annotated[str | None, Query(description="Only cases about this party.")] = None,
    escalated_only: Annotated[bool, Query(description="Only cases escalated to senior stewards.")] = False,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token: Annotated[str, Query(max_length=200)] = "",
) -> DuplicateCasesPage:
    """Review cases of possible duplicates, oldest first."""
    request = pb.ListDuplicateCasesRequest(
        party_id=party_id or "", escalated_only=escalated_only, page={"page_size": page_size, "page_token": page_token}
    )
    if status is not None:
        request.status = enum_from_str(pb.DuplicateCaseStatus.DESCRIPTOR, status.value)
    result = await call(parties.ListDuplicateCases, request, default="query")
    data = to_data(result)
    return DuplicateCasesPage(
        cases=data.get("cases", []),
        next_page_token=result.page.next_page_token,
        total=result.page.total_size,
    )


@router.get("/duplicate-cases/{case_id}", responses=documented(404))
async def get_case(case_id: str, principal: DataOfficer, parties: Parties) -> DuplicateCaseView:
    """A case with both parties side by side and the explained score."""
    result = await call(parties.GetDuplicateCase, pb.GetDuplicateCaseRequest(case_id=case_id), default="path")
    return DuplicateCaseView.model_validate(to_data(result))


@router.post("/duplicate-cases/{case_id}/decision", responses=documented(404, 409))
async def decide_case(case_id: str, body: DecisionIn, principal: DataOfficer, parties: Parties) -> DuplicateCase:
    """Decides a case: merge (naming the survivor, optionally choosing fields) or not a duplicate. The
    case's workflow validates the decision (a closed case, a survivor outside the pair, an escalated case
    decided by a non-senior steward are refused with the reason) and applies it."""
    context = principal.context()
    if body.note:
        context.reason = body.note
    request = pb.DecideDuplicateCaseRequest(
        case_id=case_id,
        resolution=enum_from_str(pb.DuplicateCaseResolution.DESCRIPTOR, body.resolution.value),
        survivor_party_id=body.survivor_party_id,
        senior=_is_senior(principal),
        context=context,
    )
    _merge_options(request, body)
    result = await call(parties.DecideDuplicateCase, request, fields={"case_id": "path.case_id"})
    return DuplicateCase.model_validate(to_data(result.case))
