"""The items of a party that come and go over time: identifiers, contact points, roles, attribute
values, consents and contact preferences. Ending an item (DELETE) records its end date; nothing is
ever erased from history by these routes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from crm.parties.v1 import parties_pb2 as pb
from gateway.auth import Editor
from gateway.convert import date_pb, fill, to_data
from gateway.models.common import Channel, ConsentPurpose
from gateway.models.parties import (
    CONTACT_VALUES,
    AttributeValuesResult,
    AttributeValuesSet,
    ConsentResult,
    ConsentState,
    ContactPointAdd,
    ContactPointPatch,
    ContactPointResult,
    ContactPreferencesPatch,
    IdentifierAdd,
    IdentifierResult,
    PreferencesResult,
    RoleAssign,
    RoleResult,
)
from gateway.problems import Problem, documented, validation_problem
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS, ExpectedVersion, PartyId, set_etag
from gateway.upstream import Parties, call

router = APIRouter(prefix=API_PREFIX, tags=["party items"], responses={**COMMON_PROBLEMS, **documented(404, 409)})

R = TypeVar("R", bound=BaseModel)


def _answer(response: Response, model: type[R], result: Any) -> R:
    """Every item command answers with the party's new version, which is also the new ETag."""
    set_etag(response, result.party_version)
    return model.model_validate(to_data(result))


ValidTo = Annotated[date | None, Query(description="Exclusive end date; defaults to today.")]


# -- identifiers ---------------------------------------------------------------------------------


@router.post("/parties/{party_id}/identifiers", status_code=201)
async def add_identifier(
    party_id: PartyId,
    body: IdentifierAdd,
    principal: Editor,
    parties: Parties,
    response: Response,
    version: ExpectedVersion,
) -> IdentifierResult:
    request = pb.AddIdentifierRequest(party_id=party_id, expected_version=version, context=principal.context())
    fill(request.identifier, body.model_dump(exclude={"valid_from"}))
    date_pb(body.valid_from, request.valid_from)
    result = await call(parties.AddIdentifier, request, fields={"identifier": "body"})
    return _answer(response, IdentifierResult, result)


@router.delete("/parties/{party_id}/identifiers/{identifier_id}")
async def end_identifier(
    party_id: PartyId,
    identifier_id: str,
    principal: Editor,
    parties: Parties,
    response: Response,
    version: ExpectedVersion,
    valid_to: ValidTo = None,
) -> IdentifierResult:
    """Ends the identifier (it stays in the history)."""
    request = pb.EndIdentifierRequest(
        party_id=party_id, identifier_id=identifier_id, expected_version=version, context=principal.context()
    )
    date_pb(valid_to, request.valid_to)
    result = await call(parties.EndIdentifier, request, fields={"identifier_id": "path.identifier_id"}, default="query")
    return _answer(response, IdentifierResult, result)


# -- contact points ------------------------------------------------------------------------------


@router.post("/parties/{party_id}/contact-points", status_code=201)
async def add_contact_point(
    party_id: PartyId,
    body: ContactPointAdd,
    principal: Editor,
    parties: Parties,
    response: Response,
    version: ExpectedVersion,
) -> ContactPointResult:
    request = pb.AddContactPointRequest(party_id=party_id, expected_version=version, context=principal.context())
    fill(request.contact_point, body.model_dump(exclude={"valid_from"}))
    date_pb(body.valid_from, request.valid_from)
    result = await call(parties.AddContactPoint, request, fields={"contact_point": "body"})
    return _answer(response, ContactPointResult, result)


@router.patch("/parties/{party_id}/contact-points/{contact_point_id}")
async def update_contact_point(
    party_id: PartyId,
    contact_point_id: str,
    body: ContactPointPatch,
    principal: Editor,
    parties: Parties,
    response: Response,
    version: ExpectedVersion,
) -> ContactPointResult:
    """Changes purpose, primary, verified or the value; fields not sent keep their current values.

    The current state is read first and the change is sent with that version (or your If-Match), so
    a concurrent change cannot be overwritten unseen."""
    changes = body.model_dump(exclude_unset=True, exclude={"valid_from"})
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise validation_problem([(f"body.{name}", "cannot be null") for name in nulls])
    current = await call(parties.GetParty, pb.GetPartyRequest(party_id=party_id))
    found = [c for c in current.party.contact_points if c.contact_point_id == contact_point_id]
    if not found:
        raise Problem(404, "not-found", "Not found", f"contact point {contact_point_id} not found on party {party_id}")
    merged = pb.ContactPoint()
    merged.CopyFrom(found[0])
    if any(name in changes for name in CONTACT_VALUES):
        merged.ClearField("value")
    fill(merged, changes)
    for name in ("contact_point_id", "validity", "recorded"):
        merged.ClearField(name)
    request = pb.UpdateContactPointRequest(
        party_id=party_id,
        contact_point_id=contact_point_id,
        contact_point=merged,
        expected_version=version or current.party.version,
        context=principal.context(),
    )
    date_pb(body.valid_from, request.valid_from)
    fields = {"contact_point": "body", "contact_point_id": "path.contact_point_id"}
    result = await call(parties.UpdateContactPoint, request, fields=fields)
    return _answer(response, ContactPointResult, result)


@router.delete("/parties/{party_id}/contact-points/{contact_point_id}")
async def end_contact_point(
    party_id: PartyId,
    contact_point_id: str,
    principal: Editor,
    parties: Parties,
    response: Response,
    version: ExpectedVersion,
    valid_to: ValidTo = None,
) -> ContactPointResult:
    request = pb.EndContactPointRequest(
        party_id=party_id, contact_point_id=contact_point_id, expected_version=version, context=principal.context()
    )
    date_pb(valid_to, request.valid_to)
    fields = {"contact_point_id": "path.contact_point_id"}
    result = await call(parties.EndContactPoint, request, fields=fields, default="query")
    return _answer(response, ContactPointResult, result)


# -- roles ---------------------------------------------------------------------------------------


@router.post("/parties/{party_id}/roles", status_code=201)
async def assign_role(
    party_id: PartyId,
    body: RoleAssign,
    principal: Editor,
    parties: Parties,
    response: Response,
    version: ExpectedVersion,
) -> RoleResult:
    request = fill(pb.AssignRoleRequest(party_id=party_id, expected_version=version), body.model_dump())
    request.context.CopyFrom(principal.context())
    result = await call(parties.AssignRole, request)
    return _answer(response, RoleResult, result)


@router.delete("/parties/{party_id}/roles/{role_id}")
async def end_role(
    party_id: PartyId,
    role_id: str,
    principal: Editor,
    parties: Parties,
    response: Response,
    version: ExpectedVersion,
    valid_to: ValidTo = None,
) -> RoleResult:
    request = pb.EndRoleRequest(party_id=party_id, role_id=role_id, expected_version=version)
    request.context.CopyFrom(principal.context())
    date_pb(valid_to, request.valid_to)
    result = await call(parties.EndRole, request, fields={"role_id": "path.role_id"}, default="query")
    return _answer(response, RoleResult, result)


# -- attributes, consents, preferences -----------------------------------------------------------


@router.put("/parties/{party_id}/attributes")
async def set_attribute_values(
    party_id: PartyId,
    body: AttributeValuesSet,
    principal: Editor,
    parties: Parties,
    response: Response,
    version: ExpectedVersion,
) -> AttributeValuesResult:
    """Sets the given attribute values from valid_from on; a value with no *_value clears it."""
    request = fill(pb.SetAttributeValuesRequest(party_id=party_id, expected_version=version), body.model_dump())
    request.context.CopyFrom(principal.context())
    result = await call(parties.SetAttributeValues, request)
    return _answer(response, AttributeValuesResult, result)


@router.put("/parties/{party_id}/consents/{channel}/{purpose}")
async def set_consent(
    party_id: PartyId,
    channel: Channel,
    purpose: ConsentPurpose,
    body: ConsentState,
    principal: Editor,
    parties: Parties,
    response: Response,
) -> ConsentResult:
    """Records the party's consent (granted or withdrawn) for one channel and purpose."""
    request = pb.SetConsentRequest(party_id=party_id, context=principal.context())
    fill(request.consent, {"channel": channel, "purpose": purpose, **body.model_dump()})
    fields = {"consent": "body", "consent.channel": "path.channel", "consent.purpose": "path.purpose"}
    result = await call(parties.SetConsent, request, fields=fields)
    return _answer(response, ConsentResult, result)


@router.patch("/parties/{party_id}/preferences")
async def set_contact_preferences(
    party_id: PartyId, body: ContactPreferencesPatch, principal: Editor, parties: Parties, response: Response
) -> PreferencesResult:
    """Changes the contact preferences sent (null clears one); the others keep their values."""
    mask = sorted(body.model_fields_set)
    if not mask:
        raise validation_problem([("body", "names no preference to change")])
    request = pb.SetContactPreferencesRequest(party_id=party_id, context=principal.context())
    fill(request.preferences, body.model_dump(exclude_none=True))
    request.update_mask.paths.extend(mask)
    result = await call(parties.SetContactPreferences, request, fields={"preferences": "body"})
    return _answer(response, PreferencesResult, result)
