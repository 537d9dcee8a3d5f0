"""Between the register and the matcher: a party's facts and items as the matcher's `MatchRecord`, that
record as stored JSON, and the matcher's answers as protobuf messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Protocol
from uuid import UUID

from crm.parties.v1 import parties_pb2 as pb
from services.parties.domain.matching import ORGANIZATION, PERSON, Decision, MatchRecord, PairScore

DECISION_PB = {
    Decision.DUPLICATE: pb.DUPLICATE_DECISION_DUPLICATE,
    Decision.POSSIBLE_DUPLICATE: pb.DUPLICATE_DECISION_POSSIBLE_DUPLICATE,
    Decision.DISTINCT: pb.DUPLICATE_DECISION_DISTINCT,
}


class ItemLike(Protocol):
    section: str
    key1: str
    key2: str


def record_for(
    party_id: UUID | str, kind: str, facts: Mapping[str, Any], items: Iterable[ItemLike]
) -> MatchRecord | None:
    """The matcher's view of a party from its current facts and open items; None for a group (groups are
    never duplicates of anyone in the matcher's sense)."""
    if kind not in (PERSON, ORGANIZATION):
        return None
    phones, emails, ids, addresses = [], [], [], []
    for item in items:
        if item.section == "contact_point":
            target = {"PHONE": phones, "EMAIL": emails, "POSTAL_ADDRESS": addresses}.get(item.key1)
            if target is not None and item.key2 and item.key2 not in target:
                target.append(item.key2)
        elif item.section == "identifier" and (item.key1, item.key2) not in ids:
            ids.append((item.key1, item.key2))
    common: dict[str, Any] = {
        "phones": tuple(phones),
        "emails": tuple(emails),
        "identifiers": tuple(ids),
        "addresses": tuple(addresses),
    }
    if kind == PERSON:
        native = facts.get("person.name.last_name") or facts.get("person.name.first_name")
        prefix = "person.name." if native else "person.latin_name."
        birth = facts.get("person.birth_date")
        return MatchRecord(
            party_id=str(party_id),
            kind=PERSON,
            last_name=facts.get(prefix + "last_name") or "",
            first_name=facts.get(prefix + "first_name") or "",
            patronymic=facts.get(prefix + "patronymic") or "",
            birth_date=date.fromisoformat(birth) if birth else None,
            gender=(facts.get("person.gender") or "").lower(),
            **common,
        )
    return MatchRecord(
        party_id=str(party_id),
        kind=ORGANIZATION,
        legal_name=facts.get("organization.legal_name") or "",
        short_name=facts.get("organization.short_name") or "",
        legal_form=facts.get("organization.legal_form") or "",
        **common,
    )


def to_json(record: MatchRecord) -> dict[str, Any]:
    return {
        "kind": record.kind,
        "last_name": record.last_name,
        "first_name": record.first_name,
        "patronymic": record.patronymic,
        "legal_name": record.legal_name,
        "short_name": record.short_name,
        "legal_form": record.legal_form,
        "birth_date": record.birth_date.isoformat() if record.birth_date else None,
        "gender": record.gender,
        "phones": list(record.phones),
        "emails": list(record.emails),
        "identifiers": [list(i) for i in record.identifiers],
        "addresses": list(record.addresses),
        "country": record.country,
    }


def from_json(party_id: UUID | str, data: Mapping[str, Any]) -> MatchRecord:
    birth = data.get("birth_date")
    return MatchRecord(
        party_id=str(party_id),
        kind=data["kind"],
        last_name=data.get("last_name", ""),
        first_name=data.get("first_name", ""),
        patronymic=data.get("patronymic", ""),
        legal_name=data.get("legal_name", ""),
        short_name=data.get("short_name", ""),
        legal_form=data.get("legal_form", ""),
        birth_date=date.fromisoformat(birth) if birth else None,
        gender=data.get("gender", ""),
        phones=tuple(data.get("phones", ())),
        emails=tuple(data.get("emails", ())),
        identifiers=tuple((t, v) for t, v in data.get("identifiers", ())),
        addresses=tuple(data.get("addresses", ())),
        country=data.get("country", ""),
    )


def match_pb(pair: PairScore) -> pb.DuplicateMatch:
    return pb.DuplicateMatch(
        party_id=pair.left_id,
        other_party_id=pair.right_id,
        score=round(pair.score, 3),
        probability=pair.probability,
        decision=DECISION_PB[pair.decision],
        comparisons=[
            pb.FieldComparison(field=c.field, level=c.level, weight=round(c.weight, 3)) for c in pair.comparisons
        ],
    )


def evidence(pair: PairScore) -> str:
    """The comparisons in one line, strongest first, for error messages and logs."""
    parts = sorted(pair.comparisons, key=lambda c: -abs(c.weight))
    return ", ".join(f"{c.field} {c.level} ({c.weight:+.1f})" for c in parts if c.level != "missing")
