"""REST shapes of relationships between parties, the 360° card and personal-data erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, Strict

from gateway.models.assets import VehicleOwnership
from gateway.models.common import Day, ErasureState, Input, Output, RecordInfo, Str, Validity
from gateway.models.parties import Consent, Party, PartySummary


class RelationshipIn(Input):
    relationship_type: Str = Field(description='Code from the catalogue, e.g. "employee_of".')
    from_party_id: Str
    to_party_id: Str
    valid_from: Day | None = None
    valid_to: Day | None = None


class RelationshipEnd(Input):
    valid_to: Day | None = Field(None, description="Exclusive end date; defaults to today.")


class Relationship(Output):
    relationship_id: str
    relationship_type: str
    from_party_id: str
    to_party_id: str
    validity: Validity | None = None
    recorded: RecordInfo | None = None


class RelatedParty(Output):
    relationship: Relationship
    label: str = Field(description='The relationship read from this party\'s side, e.g. "employer of".')
    counterpart: PartySummary


class CardSection(Output):
    key: str
    title: str = ""
    unavailable_reason: str = ""


class PartyCard(Output):
    party: Party
    relationships: list[RelatedParty]
    consents: list[Consent]
    vehicles: list[VehicleOwnership]
    sections: list[CardSection] = Field(default_factory=list)


class ErasureRequestIn(Input):
    grace_period_days: Annotated[float, Strict()] | None = Field(
        None, ge=0, le=365, description="Days to wait before anonymizing; defaults to the configured period."
    )


class ErasureScheduled(Output):
    erasure_id: str
    scheduled_for: datetime | None = None


class ErasureStatus(Output):
    state: ErasureState | None = None
    erasure_id: str = ""
    scheduled_for: datetime | None = None
    completed_at: datetime | None = None
