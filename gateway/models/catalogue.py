"""REST shapes of the run-time catalogues: attribute definitions, role types, relationship types."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from gateway.models.common import (
    AttributeStatus,
    AttributeValueType,
    Bool,
    Input,
    Int,
    Output,
    PartyKind,
    Str,
)


class AttributeValidation(Input):
    max_length: Int = Field(0, description="text: maximum length in characters.")
    pattern: Str = Field("", description="text: a regular expression the whole value must match.")
    min: Str = Field("", description="number and decimal: inclusive lower bound as a decimal string.")
    max: Str = Field("", description="number and decimal: inclusive upper bound.")
    allowed_values: list[Str] = Field(default_factory=list, description="enum: the allowed values.")


class AttributeDefinitionIn(Input):
    code: Str = Field(description='Stable machine name, e.g. "loyalty_tier".')
    name: Str
    value_type: AttributeValueType
    applies_to: list[PartyKind] = Field(default_factory=list, description="The kinds that may hold it.")
    validation: AttributeValidation | None = None


class AttributeDefinition(Output):
    code: str
    name: str = ""
    value_type: AttributeValueType | None = None
    applies_to: list[PartyKind] = Field(default_factory=list)
    validation: AttributeValidation | None = None
    status: AttributeStatus | None = None
    created_at: datetime | None = None
    retired_at: datetime | None = None


class AttributeDefinitions(Output):
    definitions: list[AttributeDefinition]


class RoleTypeIn(Input):
    code: Str
    name: Str
    applies_to: list[PartyKind] = Field(default_factory=list, description="Empty: every kind.")


class RoleType(RoleTypeIn):
    system: bool = False


class RoleTypes(Output):
    role_types: list[RoleType]


class RelationshipTypeIn(Input):
    code: Str
    name: Str = Field(description='Reading from the "from" end, e.g. "employee of".')
    inverse_name: Str = Field("", description='Reading from the "to" end, e.g. "employer of".')
    symmetric: Bool = False
    from_kinds: list[PartyKind] = Field(default_factory=list)
    to_kinds: list[PartyKind] = Field(default_factory=list)
    from_roles: list[Str] = Field(default_factory=list)
    to_roles: list[Str] = Field(default_factory=list)


class RelationshipType(RelationshipTypeIn):
    system: bool = False


class RelationshipTypes(Output):
    relationship_types: list[RelationshipType]
