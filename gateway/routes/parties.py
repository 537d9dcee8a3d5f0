"""Parties: create, read (as of a date, as known at a moment), change the profile, search, the 360°
card and the history of a field."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from crm.parties.v1 import parties_pb2 as pb
from gateway.auth import Editor, Reader
from gateway.convert import date_pb, enum_from_str, fill, to_data, ts_pb
from gateway.models.common import IdentifierType, PartyKind, SearchOrder, set_paths
from gateway.models.parties import PROFILES, FieldHistory, Party, PartyCreate, PartyPatch, SearchResult
from gateway.models.relations import PartyCard
from gateway.problems import documented, validation_problem
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS, ExpectedVersion, PartyId, set_etag
from gateway.upstream import Parties, call

router = APIRouter(prefix=API_PREFIX, tags=["parties"], responses=COMMON_PROBLEMS)


def _party(response: Response, message: pb.Party) -> Party:
    set_etag(response, message.version)
    return Party.model_validate(to_data(message))


@router.post("/parties", status_code=201, responses=documented(409))
async def create_party(
    body: PartyCreate,
    principal: Editor,
    parties: Parties,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=128, description="Your key for this create: a retry with it returns the same party."),
    ] = None,
) -> Party:
    """Creates a person, organization or group with its initial identifiers, contacts, roles, consents."""
    errors = body.profile_errors()
    if errors:
        raise validation_problem(errors)
    request = fill(pb.CreatePartyRequest(), body.model_dump(exclude={"kind"}))
    request.request_id = idempotency_key or ""
    request.context.CopyFrom(principal.context())
    result = await call(parties.CreateParty, request)
    response.headers["Location"] = f"/api/v1/parties/{result.party.party_id}"
    return _party(response, result.party)


@router.get("/parties/{party_id}", responses=documented(404))
async def get_party(
    party_id: PartyId,
    principal: Reader,
    parties: Parties,
    response: Response,
    as_of: Annotated[date | None, Query(description="Business date to read the party as of (default today).")] = None,
    known_at: Annotated[datetime | None, Query(description="Read what the system knew at this moment.")] = None,
) -> Party:
    request = pb.GetPartyRequest(party_id=party_id)
    date_pb(as_of, request.as_of)
    if known_at is not None:
        ts_pb(known_at, request.known_at)
    result = await call(parties.GetParty, request, default="query")
    if result.merged_party_id:
        # The party was merged into another: the answer is the survivor, which lives at its own address.
        response.headers["Content-Location"] = f"{API_PREFIX}/parties/{result.party.party_id}"
        response.headers["X-Merged-Party-Id"] = result.merged_party_id
    return _party(response, result.party)


@router.patch("/parties/{party_id}", responses=documented(404, 409))
async def update_party(
    party_id: PartyId,
    body: PartyPatch,
    principal: Editor,
    parties: Parties,
    version: ExpectedVersion,
    response: Response,
) -> Party:
    """Changes profile fields from valid_from on (a past date records a correction)."""
    given = [p for p in PROFILES if getattr(body, p) is not None]
    if len(given) != 1:
        raise validation_problem([("body", "give exactly one of person, organization or group")])
    which = given[0]
    profile = getattr(body, which)
    paths = set_paths(profile)
    if not paths:
        raise validation_problem([(f"body.{which}", "names no field to change")])
    request = pb.UpdatePartyRequest(party_id=party_id, expected_version=version)
    fill(getattr(request, which), profile.model_dump(exclude_none=True))
    getattr(request, which).SetInParent()
    request.update_mask.paths.extend(paths)
    date_pb(body.valid_from, request.valid_from)
    request.context.CopyFrom(principal.context())
    result = await call(parties.UpdateParty, request, fields={"update_mask": f"body.{which}"})
    return _party(response, result.party)


@router.get("/parties")
async def search_parties(
    principal: Reader,
    parties: Parties,
    q: Annotated[str | None, Query(description="Fuzzy name, Cyrillic or Latin, typos tolerated.")] = None,
    phone: str | None = None,
    email: str | None = None,
    identifier_type: IdentifierType | None = None,
    identifier_value: str | None = None,
    kind: PartyKind | None = None,
    role: Annotated[str | None, Query(description="Only parties currently holding this role.")] = None,
    order: SearchOrder | None = None,
    page_size: Annotated[int, Query(description="At most 100 (default 20).")] = 0,
    page_token: str | None = None,
) -> SearchResult:
    """Finds parties by name, phone, e-mail or identifier; narrows by kind and role."""
    request = pb.SearchPartiesRequest(
        query=q or "",
        phone=phone or "",
        email=email or "",
        identifier_value=identifier_value or "",
        role_type=role or "",
    )
    if identifier_type is not None:
        request.identifier_type = enum_from_str(pb.IdentifierType.DESCRIPTOR, identifier_type)
    if kind is not None:
        request.kind = enum_from_str(pb.PartyKind.DESCRIPTOR, kind)
    if order is not None:
        request.order_by = enum_from_str(pb.SearchOrder.DESCRIPTOR, order)
    request.page.page_size = page_size
    request.page.page_token = page_token or ""
    fields = {"query": "query.q", "role_type": "query.role", "order_by": "query.order", "page": "query"}
    result = await call(parties.SearchParties, request, fields=fields, default="query")
    data = to_data(result)
    return SearchResult(hits=data["hits"], next_page_token=result.page.next_page_token)


@router.get("/parties/{party_id}/card", responses=documented(404))
async def get_party_card(
    party_id: PartyId,
    principal: Reader,
    parties: Parties,
    as_of: Annotated[date | None, Query(description="Business date (default today).")] = None,
) -> PartyCard:
    """The 360° card: the party with its relationships, consents and vehicles."""
    request = pb.GetPartyCardRequest(party_id=party_id)
    date_pb(as_of, request.as_of)
    result = await call(parties.GetPartyCard, request, default="query")
    return PartyCard.model_validate(to_data(result.card))


@router.get("/parties/{party_id}/history", responses=documented(404))
async def get_field_history(
    party_id: PartyId,
    principal: Reader,
    parties: Parties,
    field: Annotated[
        str,
        Query(
            max_length=200,
            description='A profile path ("person.name.last_name"), "attributes.<code>", or an item '
            '("identifiers/<id>", "contact_points/<id>", "consents/<CHANNEL>/<PURPOSE>").',
        ),
    ],
) -> FieldHistory:
    """Every recorded version of one field, with valid time and record time."""
    collection, _, rest = field.partition("/")
    if collection == "consents":  # the API spells enums in lower case, the contract in upper case
        field = f"{collection}/{rest.upper()}"
    request = pb.GetFieldHistoryRequest(party_id=party_id, field=field)
    result = await call(parties.GetFieldHistory, request, default="query")
    entries = []
    for entry in result.entries:
        data = to_data(entry)
        data["value"] = json.loads(data.pop("value_json") or "null")
        entries.append(data)
    return FieldHistory.model_validate({"field": result.field, "entries": entries})
