"""Relationships between parties, and vehicles with their owners, lessees and drivers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from crm.parties.v1 import parties_pb2 as pb
from gateway.auth import Editor, Reader
from gateway.convert import date_pb, fill, to_data
from gateway.models.assets import (
    MileageIn,
    Vehicle,
    VehicleDetails,
    VehicleOwnership,
    VehicleRegistration,
    VehicleTransfer,
)
from gateway.models.relations import Relationship, RelationshipEnd, RelationshipIn
from gateway.problems import documented
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS, PartyId
from gateway.upstream import Parties, call

router = APIRouter(prefix=API_PREFIX, responses={**COMMON_PROBLEMS, **documented(404, 409)})

VehicleId = Annotated[str, Path(description="The vehicle's id (a UUID).")]


@router.post("/relationships", status_code=201, tags=["relationships"])
async def create_relationship(body: RelationshipIn, principal: Editor, parties: Parties) -> Relationship:
    """Relates two parties (e.g. a person "employee_of" an organization) from valid_from on."""
    request = fill(pb.CreateRelationshipRequest(context=principal.context()), body.model_dump())
    result = await call(parties.CreateRelationship, request)
    return Relationship.model_validate(to_data(result.relationship))


@router.post("/relationships/{relationship_id}/end", tags=["relationships"])
async def end_relationship(
    relationship_id: str, principal: Editor, parties: Parties, body: RelationshipEnd | None = None
) -> Relationship:
    request = pb.EndRelationshipRequest(relationship_id=relationship_id, context=principal.context())
    date_pb(body.valid_to if body else None, request.valid_to)
    fields = {"relationship_id": "path.relationship_id"}
    result = await call(parties.EndRelationship, request, fields=fields)
    return Relationship.model_validate(to_data(result.relationship))


@router.post("/parties/{party_id}/vehicles", status_code=201, tags=["vehicles"])
async def register_vehicle(
    party_id: PartyId, body: VehicleRegistration, principal: Editor, parties: Parties
) -> VehicleOwnership:
    """Registers a vehicle (by VIN) as owned, leased or driven by the party."""
    request = fill(pb.RegisterVehicleRequest(party_id=party_id, context=principal.context()), body.model_dump())
    result = await call(parties.RegisterVehicle, request)
    return VehicleOwnership.model_validate(to_data(result.ownership))


@router.post("/vehicles/{vehicle_id}/transfer", tags=["vehicles"])
async def transfer_vehicle(
    vehicle_id: VehicleId, body: VehicleTransfer, principal: Editor, parties: Parties
) -> VehicleOwnership:
    """Moves the vehicle to another party; the previous ownership ends on the transfer date."""
    request = fill(pb.TransferVehicleRequest(vehicle_id=vehicle_id, context=principal.context()), body.model_dump())
    result = await call(parties.TransferVehicle, request, fields={"vehicle_id": "path.vehicle_id"})
    return VehicleOwnership.model_validate(to_data(result.ownership))


@router.post("/vehicles/{vehicle_id}/mileage", status_code=201, tags=["vehicles"])
async def record_mileage(vehicle_id: VehicleId, body: MileageIn, principal: Editor, parties: Parties) -> Vehicle:
    request = fill(pb.RecordMileageRequest(vehicle_id=vehicle_id, context=principal.context()), body.model_dump())
    result = await call(parties.RecordMileage, request, fields={"vehicle_id": "path.vehicle_id"})
    return Vehicle.model_validate(to_data(result.vehicle))


@router.get("/vehicles/{id_or_vin}", tags=["vehicles"])
async def get_vehicle(
    id_or_vin: Annotated[str, Path(description="The vehicle's id (a UUID) or its VIN.")],
    principal: Reader,
    parties: Parties,
) -> VehicleDetails:
    """A vehicle with its mileage readings and the history of who held it."""
    try:
        request = pb.GetVehicleRequest(vehicle_id=str(uuid.UUID(id_or_vin)))
    except ValueError:
        request = pb.GetVehicleRequest(vin=id_or_vin)
    fields = {"vehicle_id": "path.id_or_vin", "vin": "path.id_or_vin", "key": "path.id_or_vin"}
    result = await call(parties.GetVehicle, request, fields=fields)
    return VehicleDetails.model_validate(to_data(result))
