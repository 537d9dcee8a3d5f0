"""The run-time catalogues: anyone signed in may read them (forms need them); only admins change them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from crm.parties.v1 import parties_pb2 as pb
from gateway.auth import CatalogueAdmin, Reader
from gateway.convert import fill, to_data
from gateway.models.catalogue import (
    AttributeDefinition,
    AttributeDefinitionIn,
    AttributeDefinitions,
    RelationshipType,
    RelationshipTypeIn,
    RelationshipTypes,
    RoleType,
    RoleTypeIn,
    RoleTypes,
)
from gateway.problems import documented
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS
from gateway.upstream import Parties, call

router = APIRouter(
    prefix=f"{API_PREFIX}/catalogue", tags=["catalogue"], responses={**COMMON_PROBLEMS, **documented(409)}
)


@router.get("/attributes")
async def list_attribute_definitions(
    principal: Reader, parties: Parties, include_retired: bool = False
) -> AttributeDefinitions:
    result = await call(
        parties.ListAttributeDefinitions, pb.ListAttributeDefinitionsRequest(include_retired=include_retired)
    )
    return AttributeDefinitions.model_validate(to_data(result))


@router.post("/attributes", status_code=201)
async def define_attribute(
    body: AttributeDefinitionIn, principal: CatalogueAdmin, parties: Parties
) -> AttributeDefinition:
    """Defines a new party attribute (its type, the kinds it applies to, its validation)."""
    request = pb.DefineAttributeRequest(context=principal.context())
    fill(request.definition, body.model_dump())
    result = await call(parties.DefineAttribute, request, fields={"definition": "body"})
    return AttributeDefinition.model_validate(to_data(result.definition))


@router.post("/attributes/{code}/retire", responses=documented(404))
async def retire_attribute(
    code: Annotated[str, Path(description="The attribute's code.")], principal: CatalogueAdmin, parties: Parties
) -> AttributeDefinition:
    """Stops accepting new values; recorded values and their history stay readable."""
    request = pb.RetireAttributeRequest(code=code, context=principal.context())
    result = await call(parties.RetireAttribute, request, fields={"code": "path.code"})
    return AttributeDefinition.model_validate(to_data(result.definition))


@router.get("/role-types")
async def list_role_types(principal: Reader, parties: Parties) -> RoleTypes:
    result = await call(parties.ListRoleTypes, pb.ListRoleTypesRequest())
    return RoleTypes.model_validate(to_data(result))


@router.post("/role-types", status_code=201)
async def define_role_type(body: RoleTypeIn, principal: CatalogueAdmin, parties: Parties) -> RoleType:
    request = pb.DefineRoleTypeRequest(context=principal.context())
    fill(request.role_type, body.model_dump())
    result = await call(parties.DefineRoleType, request, fields={"role_type": "body"})
    return RoleType.model_validate(to_data(result.role_type))


@router.get("/relationship-types")
async def list_relationship_types(principal: Reader, parties: Parties) -> RelationshipTypes:
    result = await call(parties.ListRelationshipTypes, pb.ListRelationshipTypesRequest())
    return RelationshipTypes.model_validate(to_data(result))


@router.post("/relationship-types", status_code=201)
async def define_relationship_type(
    body: RelationshipTypeIn, principal: CatalogueAdmin, parties: Parties
) -> RelationshipType:
    request = pb.DefineRelationshipTypeRequest(context=principal.context())
    fill(request.relationship_type, body.model_dump())
    result = await call(parties.DefineRelationshipType, request, fields={"relationship_type": "body"})
    return RelationshipType.model_validate(to_data(result.relationship_type))
