"""Translation between stored records and the contract's messages. Kept apart from the servicer so that
the gRPC edge stays a thin dispatcher and the gateway's tests can rely on one canonical shape."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from services.parties.store.rows import FactRow, ItemRow, PartyRow, PartyState, RelationshipRow

KIND_TO_STR = {pb.PARTY_KIND_PERSON: "person", pb.PARTY_KIND_ORGANIZATION: "organization", pb.PARTY_KIND_GROUP: "group"}
STR_TO_KIND = {v: k for k, v in KIND_TO_STR.items()}
#: What anonymized personal values read as.
ERASED = "[erased]"


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """IDENTIFIER_TYPE_INN -> "INN"; returns "" for the _UNSPECIFIED value or unknown numbers."""
    try:
        name = enum.Name(value)
    except ValueError:
        return ""
    short = name.removeprefix(prefix)
    return "" if short == "UNSPECIFIED" else short


def enum_value(enum: Any, short: str, prefix: str) -> int:
    if not short:
        return 0
    try:
        return int(enum.Value(prefix + short))
    except ValueError:
        return 0


def to_date(d: common_pb2.Date) -> date:
    return date(d.year, d.month, d.day)


def is_set(d: common_pb2.Date) -> bool:
    return bool(d.year or d.month or d.day)


def date_pb(d: date | str | None) -> common_pb2.Date | None:
    if d is None or d == "":
        return None
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return common_pb2.Date(year=d.year, month=d.month, day=d.day)


PARTY_STATUS = {
    "active": pb.PARTY_STATUS_ACTIVE,
    "erased": pb.PARTY_STATUS_ERASED,
    "merged": pb.PARTY_STATUS_MERGED,
}


def ts_pb(t: datetime | None) -> Timestamp | None:
    if t is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(t.astimezone(UTC))
    return ts


def from_ts(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def validity_pb(valid_from: date, valid_to: date | None) -> pb.Validity:
    v = pb.Validity(valid_from=date_pb(valid_from))
    if valid_to is not None:
        v.valid_to.CopyFrom(date_pb(valid_to))
    return v


def record_pb(recorded_at: datetime, actor: str, source: str) -> pb.RecordInfo:
    return pb.RecordInfo(recorded_at=ts_pb(recorded_at), actor=actor, source=source)


def _name(facts: dict[str, Any], prefix: str) -> pb.PersonName:
    return pb.PersonName(
        last_name=facts.get(f"{prefix}.last_name", ""),
        first_name=facts.get(f"{prefix}.first_name", ""),
        patronymic=facts.get(f"{prefix}.patronymic", ""),
    )


def identifier_pb(item: ItemRow) -> pb.Identifier:
    d = item.data
    msg = pb.Identifier(
        identifier_id=str(item.item_id),
        type=enum_value(pb.IdentifierType, d.get("type", ""), "IDENTIFIER_TYPE_"),
        value=d.get("value", ERASED if d.get("erased") else ""),
        other_type=d.get("other_type", ""),
        issuer=d.get("issuer", ""),
        validity=validity_pb(item.valid_from, item.valid_to),
        recorded=record_pb(item.recorded_at, item.actor, item.source),
    )
    if d.get("issued_on"):
        msg.issued_on.CopyFrom(date_pb(d["issued_on"]))
    return msg


def contact_point_pb(item: ItemRow) -> pb.ContactPoint:
    d = item.data
    msg = pb.ContactPoint(
        contact_point_id=str(item.item_id),
        type=enum_value(pb.ContactPointType, item.key1, "CONTACT_POINT_TYPE_"),
        purpose=enum_value(pb.ContactPurpose, d.get("purpose", ""), "CONTACT_PURPOSE_"),
        primary=bool(d.get("primary")),
        verified=bool(d.get("verified")),
        validity=validity_pb(item.valid_from, item.valid_to),
        recorded=record_pb(item.recorded_at, item.actor, item.source),
    )
    if "phone" in d:
        msg.phone = d["phone"]
    elif "email" in d:
        msg.email = d["email"]
    elif "address" in d:
        msg.address.CopyFrom(pb.PostalAddress(**d["address"]))
    elif "messenger" in d:
        m = d["messenger"]
        msg.messenger.CopyFrom(
            pb.MessengerHandle(messenger=enum_value(pb.Messenger, m["messenger"], "MESSENGER_"), handle=m["handle"])
        )
    elif d.get("erased"):
        # Anonymized: the value is gone; show the placeholder where the value of this type goes, as for identifiers.
        if item.key1 == "PHONE":
            msg.phone = ERASED
        elif item.key1 == "EMAIL":
            msg.email = ERASED
        elif item.key1 == "POSTAL_ADDRESS":
            msg.address.CopyFrom(pb.PostalAddress(full_text=ERASED))
        elif item.key1 == "MESSENGER":
            msg.messenger.CopyFrom(pb.MessengerHandle(handle=ERASED))
    return msg


def role_pb(item: ItemRow) -> pb.Role:
    return pb.Role(
        role_id=str(item.item_id),
        role_type=item.key1,
        validity=validity_pb(item.valid_from, item.valid_to),
        recorded=record_pb(item.recorded_at, item.actor, item.source),
    )


def consent_pb(item: ItemRow) -> pb.Consent:
    d = item.data
    return pb.Consent(
        channel=enum_value(pb.Channel, d.get("channel", ""), "CHANNEL_"),
        purpose=enum_value(pb.ConsentPurpose, d.get("purpose", ""), "CONSENT_PURPOSE_"),
        status=enum_value(pb.ConsentStatus, d.get("status", ""), "CONSENT_STATUS_"),
        evidence=d.get("evidence", ""),
        recorded=record_pb(item.recorded_at, item.actor, item.source),
    )


def attribute_value_pb(code: str, value: Any, value_type: str) -> pb.AttributeValue:
    msg = pb.AttributeValue(code=code)
    if value is None:
        return msg
    if value == "[erased]":
        msg.text_value = value
    elif value_type == "NUMBER":
        msg.number_value = int(value)
    elif value_type == "DECIMAL":
        msg.decimal_value = str(value)
    elif value_type == "DATE":
        msg.date_value.CopyFrom(date_pb(value))
    elif value_type == "BOOL":
        msg.bool_value = bool(value)
    elif value_type == "ENUM":
        msg.enum_value = str(value)
    else:
        msg.text_value = str(value)
    return msg


def preferences_pb(facts: dict[str, Any]) -> pb.ContactPreferences:
    msg = pb.ContactPreferences(
        do_not_contact=bool(facts.get("preferences.do_not_contact", False)),
        time_zone=facts.get("preferences.time_zone", ""),
        preferred_channel=enum_value(pb.Channel, facts.get("preferences.preferred_channel", ""), "CHANNEL_"),
        preferred_language=facts.get("preferences.preferred_language", ""),
    )
    quiet = facts.get("preferences.quiet_hours")
    if isinstance(quiet, dict):
        msg.quiet_hours.CopyFrom(pb.QuietHours(start=quiet.get("start", ""), end=quiet.get("end", "")))
    return msg


def party_pb(state: PartyState, attribute_types: dict[str, str], group_members: list[UUID] | None = None) -> pb.Party:
    p, facts = state.party, state.facts
    msg = pb.Party(
        party_id=str(p.party_id),
        kind=STR_TO_KIND[p.kind],
        status=PARTY_STATUS[p.status],
        version=p.version,
        display_name=p.display_name,
        created_at=ts_pb(p.created_at),
        updated_at=ts_pb(p.updated_at),
        preferences=preferences_pb(facts),
    )
    if p.kind == "person":
        person = pb.Person(
            name=_name(facts, "person.name"),
            latin_name=_name(facts, "person.latin_name"),
            gender=enum_value(pb.Gender, facts.get("person.gender", ""), "GENDER_"),
        )
        bd = facts.get("person.birth_date")
        if bd and bd != "[erased]":
            person.birth_date.CopyFrom(date_pb(bd))
        msg.person.CopyFrom(person)
    elif p.kind == "organization":
        msg.organization.CopyFrom(
            pb.Organization(
                legal_name=facts.get("organization.legal_name", ""),
                short_name=facts.get("organization.short_name", ""),
                legal_form=facts.get("organization.legal_form", ""),
            )
        )
    else:
        msg.group.CopyFrom(
            pb.Group(
                name=facts.get("group.name", ""),
                description=facts.get("group.description", ""),
                member_party_ids=[str(m) for m in group_members or []],
            )
        )
    msg.identifiers.extend(identifier_pb(i) for i in state.section("identifier"))
    msg.contact_points.extend(contact_point_pb(i) for i in state.section("contact_point"))
    msg.roles.extend(role_pb(i) for i in state.section("role"))
    for field, value in sorted(facts.items()):
        if field.startswith("attributes."):
            code = field.removeprefix("attributes.")
            msg.attributes.append(attribute_value_pb(code, value, attribute_types.get(code, "TEXT")))
    return msg


def summary_pb(p: PartyRow, extras: dict[str, Any] | None = None) -> pb.PartySummary:
    extras = extras or {}
    msg = pb.PartySummary(
        party_id=str(p.party_id),
        kind=STR_TO_KIND[p.kind],
        status=PARTY_STATUS[p.status],
        display_name=p.display_name,
        primary_phone=extras.get("phone", ""),
        primary_email=extras.get("email", ""),
        role_types=extras.get("roles", []),
        created_at=ts_pb(p.created_at),
    )
    if p.birth_date:
        msg.birth_date.CopyFrom(date_pb(p.birth_date))
    return msg


def relationship_pb(r: RelationshipRow) -> pb.Relationship:
    return pb.Relationship(
        relationship_id=str(r.relationship_id),
        relationship_type=r.rel_type,
        from_party_id=str(r.from_party),
        to_party_id=str(r.to_party),
        validity=validity_pb(r.valid_from, r.valid_to),
        recorded=record_pb(r.recorded_at, r.actor, r.source),
    )


def history_entry(
    value: Any,
    valid_from: date,
    valid_to: date | None,
    recorded_at: datetime,
    superseded_at: datetime | None,
    actor: str,
    source: str,
    reason: str,
) -> pb.HistoryEntry:
    import json

    entry = pb.HistoryEntry(
        value_json=json.dumps(value, ensure_ascii=False, default=str),
        validity=validity_pb(valid_from, valid_to),
        recorded_at=ts_pb(recorded_at),
        actor=actor,
        source=source,
        reason=reason,
    )
    if superseded_at is not None:
        entry.superseded_at.CopyFrom(ts_pb(superseded_at))
    return entry


def fact_history_pb(row: FactRow) -> pb.HistoryEntry:
    return history_entry(
        row.value, row.valid_from, row.valid_to, row.recorded_at, row.superseded_at, row.actor, row.source, row.reason
    )


def item_history_pb(row: ItemRow) -> pb.HistoryEntry:
    return history_entry(
        {**row.data, "key": row.key1},
        row.valid_from,
        row.valid_to,
        row.recorded_at,
        row.superseded_at,
        row.actor,
        row.source,
        row.reason,
    )


def relationship_history_pb(row: RelationshipRow) -> pb.HistoryEntry:
    value = {"type": row.rel_type, "from_party_id": str(row.from_party), "to_party_id": str(row.to_party)}
    return history_entry(
        value, row.valid_from, row.valid_to, row.recorded_at, row.superseded_at, row.actor, row.source, row.reason
    )


def vehicle_pb(row: Any, mileage: list[Any]) -> pb.Vehicle:
    vehicle_id, vin, make, model, model_year, purchase_date, warranty_end = row
    msg = pb.Vehicle(vehicle_id=str(vehicle_id), vin=vin, make=make, model=model, model_year=model_year or 0)
    if purchase_date:
        msg.purchase_date.CopyFrom(date_pb(purchase_date))
    if warranty_end:
        msg.warranty_end.CopyFrom(date_pb(warranty_end))
    for _vid, km, read_on, recorded_at, actor, source in mileage:
        msg.mileage.append(
            pb.MileageReading(kilometres=km, read_on=date_pb(read_on), recorded=record_pb(recorded_at, actor, source))
        )
    return msg


def ownership_pb(item: ItemRow, vehicle: pb.Vehicle) -> pb.VehicleOwnership:
    return pb.VehicleOwnership(
        ownership_id=str(item.item_id),
        party_id=str(item.party_id),
        ownership_type=enum_value(pb.OwnershipType, item.data.get("ownership_type", ""), "OWNERSHIP_TYPE_"),
        vehicle=vehicle,
        validity=validity_pb(item.valid_from, item.valid_to),
        recorded=record_pb(item.recorded_at, item.actor, item.source),
    )


def attribute_definition_pb(row: Any) -> pb.AttributeDefinition:
    code, name, value_type, applies_to, validation, status, created_at, retired_at = row
    import json

    v = json.loads(validation) if isinstance(validation, str) else (validation or {})
    msg = pb.AttributeDefinition(
        code=code,
        name=name,
        value_type=enum_value(pb.AttributeValueType, value_type, "ATTRIBUTE_VALUE_TYPE_"),
        applies_to=[STR_TO_KIND[k] for k in applies_to],
        validation=pb.AttributeValidation(
            max_length=v.get("max_length", 0),
            pattern=v.get("pattern", ""),
            min=v.get("min", ""),
            max=v.get("max", ""),
            allowed_values=v.get("allowed_values", []),
        ),
        status=pb.ATTRIBUTE_STATUS_RETIRED if status == "retired" else pb.ATTRIBUTE_STATUS_ACTIVE,
        created_at=ts_pb(created_at),
    )
    if retired_at:
        msg.retired_at.CopyFrom(ts_pb(retired_at))
    return msg


def role_type_pb(row: Any) -> pb.RoleType:
    code, name, applies_to, system = row
    return pb.RoleType(code=code, name=name, applies_to=[STR_TO_KIND[k] for k in applies_to], system=system)


def relationship_type_pb(row: Any) -> pb.RelationshipType:
    code, name, inverse, symmetric, from_kinds, to_kinds, from_roles, to_roles, system = row
    return pb.RelationshipType(
        code=code,
        name=name,
        inverse_name=inverse,
        symmetric=symmetric,
        from_kinds=[STR_TO_KIND[k] for k in from_kinds],
        to_kinds=[STR_TO_KIND[k] for k in to_kinds],
        from_roles=list(from_roles),
        to_roles=list(to_roles),
        system=system,
    )
