"""Plain records read from the store; the service layer and converters work with these, never with
driver rows, so that storage details stay in the repository."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID


@dataclass
class PartyRow:
    party_id: UUID
    kind: str
    status: str
    version: int
    display_name: str
    birth_date: date | None
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None = None


@dataclass
class FactRow:
    row_id: int
    field: str
    value: Any
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    superseded_at: datetime | None = None
    actor: str = ""
    source: str = ""
    reason: str = ""


@dataclass
class ItemRow:
    row_id: int
    item_id: UUID
    party_id: UUID
    section: str
    key1: str
    key2: str
    data: dict[str, Any]
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    superseded_at: datetime | None = None
    actor: str = ""
    source: str = ""
    reason: str = ""
    is_unique: bool = False


@dataclass
class RelationshipRow:
    row_id: int
    relationship_id: UUID
    rel_type: str
    from_party: UUID
    to_party: UUID
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    superseded_at: datetime | None = None
    actor: str = ""
    source: str = ""
    reason: str = ""


@dataclass
class PartyState:
    """A party as of one valid date and one moment of knowledge."""

    party: PartyRow
    facts: dict[str, Any] = field(default_factory=dict)
    items: list[ItemRow] = field(default_factory=list)

    def section(self, name: str) -> list[ItemRow]:
        return [i for i in self.items if i.section == name]
