"""Checks and normalizes incoming messages before anything is written. Every problem is collected with
the path of its field (the contract's names, e.g. "identifiers[1].value"), so the caller learns all
that is wrong at once, and a request that fails here changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import Violations
from services.parties.convert import KIND_TO_STR, enum_name, to_date
from services.parties.domain import contacts, identifiers, names, preferences, text
from services.parties.domain.errors import DomainValueError
from services.parties.store.repository import Actor

MAX_REQUEST_ID = 128
MAX_ITEMS = 50
MIN_DATE = date(1800, 1, 1)
MAX_DATE = date(2200, 12, 31)


@dataclass
class NewItem:
    section: str
    key1: str
    key2: str
    data: dict[str, Any]
    is_unique: bool = False
    valid_from: date | None = None
    valid_to: date | None = None
    field: str = ""


@dataclass
class Profile:
    """Profile facts of one kind, plus what the party row keeps for search and display."""

    kind: str
    facts: dict[str, Any] = field(default_factory=dict)


def context(ctx: common_pb2.ChangeContext, v: Violations) -> Actor:
    out = []
    for name, limit in (("actor", 200), ("source", 100), ("reason", 1000)):
        try:
            out.append(text.clean_text(getattr(ctx, name), max_length=limit))
        except DomainValueError as exc:
            v.add(f"context.{name}", str(exc))
            out.append("")
    return Actor(*out)


def request_id(value: str, v: Violations, path: str = "request_id") -> str:
    if len(value) > MAX_REQUEST_ID:
        v.add(path, f"at most {MAX_REQUEST_ID} characters")
    elif value and not value.isprintable():
        v.add(path, "must be printable characters")
    return value


def party_id(value: str, v: Violations, path: str = "party_id", required: bool = True) -> uuid.UUID | None:
    if not value:
        if required:
            v.add(path, "is required")
        return None
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError):
        v.add(path, "must be a UUID")
        return None


def day(d: common_pb2.Date, v: Violations, path: str, default: date | None = None) -> date | None:
    if not (d.year or d.month or d.day):
        return default
    try:
        out = to_date(d)
    except ValueError:
        v.add(path, f"{d.year:04d}-{d.month:02d}-{d.day:02d} is not a calendar date")
        return default
    if not MIN_DATE <= out <= MAX_DATE:
        v.add(path, f"must be between {MIN_DATE} and {MAX_DATE}")
    return out


def _clean(value: str, v: Violations, path: str, max_length: int) -> str:
    try:
        return text.clean_text(value, max_length=max_length)
    except DomainValueError as exc:
        v.add(path, str(exc))
        return ""


def _name_part(value: str, v: Violations, path: str) -> str:
    try:
        return names.clean_name_part(value)
    except DomainValueError as exc:
        v.add(path, str(exc))
        return ""


PERSON_NAME_PARTS = ("last_name", "first_name", "patronymic")


def person(p: pb.Person, v: Violations, path: str, today: date, partial: set[str] | None = None) -> Profile:
    """partial: the update mask's paths (None on create, where a full profile is required)."""
    facts: dict[str, Any] = {}

    def wanted(sub: str) -> bool:
        return partial is None or sub in partial

    for prefix in ("name", "latin_name"):
        for part in PERSON_NAME_PARTS:
            sub = f"{prefix}.{part}"
            if wanted(sub):
                facts[f"person.{sub}"] = _name_part(getattr(getattr(p, prefix), part), v, f"{path}.{sub}")
    if partial is None:
        has_native = facts["person.name.last_name"] or facts["person.name.first_name"]
        has_latin = facts["person.latin_name.last_name"] or facts["person.latin_name.first_name"]
        if not (has_native or has_latin):
            v.add(f"{path}.name", "a last or first name is required (in name or latin_name)")
    if wanted("gender"):
        facts["person.gender"] = enum_name(pb.Gender, p.gender, "GENDER_") or None
        if p.gender and facts["person.gender"] is None:
            v.add(f"{path}.gender", f"unknown value {p.gender}")
    if wanted("birth_date"):
        bd = day(p.birth_date, v, f"{path}.birth_date")
        if bd and bd > today:
            v.add(f"{path}.birth_date", "cannot be in the future")
        facts["person.birth_date"] = bd.isoformat() if bd else None
    return Profile("person", {k: (val if val != "" else None) for k, val in facts.items()})


def organization(o: pb.Organization, v: Violations, path: str, partial: set[str] | None = None) -> Profile:
    facts: dict[str, Any] = {}
    for sub, limit in (("legal_name", 500), ("short_name", 200), ("legal_form", 50)):
        if partial is None or sub in partial:
            facts[f"organization.{sub}"] = _clean(getattr(o, sub), v, f"{path}.{sub}", limit) or None
    if partial is None and not (facts["organization.legal_name"] or facts["organization.short_name"]):
        v.add(f"{path}.legal_name", "a legal or short name is required")
    return Profile("organization", facts)


def group(g: pb.Group, v: Violations, path: str, partial: set[str] | None = None) -> Profile:
    facts: dict[str, Any] = {}
    for sub, limit in (("name", 200), ("description", 2000)):
        if partial is None or sub in partial:
            facts[f"group.{sub}"] = _clean(getattr(g, sub), v, f"{path}.{sub}", limit) or None
    if partial is None and not facts["group.name"]:
        v.add(f"{path}.name", "is required")
    return Profile("group", facts)


def display_and_search(kind: str, facts: dict[str, Any]) -> tuple[str, str]:
    """The party row's display name and fuzzy-search key, from the current profile facts."""
    f = {k: (val or "") for k, val in facts.items()}
    if kind == "person":
        native = names.person_display_name(
            f.get("person.name.last_name", ""), f.get("person.name.first_name", ""), f.get("person.name.patronymic", "")
        )
        latin = names.person_display_name(
            f.get("person.latin_name.last_name", ""),
            f.get("person.latin_name.first_name", ""),
            f.get("person.latin_name.patronymic", ""),
        )
        display = native or latin
        key = names.search_key(native, latin if latin != native else "")
    elif kind == "organization":
        display = names.organization_display_name(
            f.get("organization.legal_form", ""),
            f.get("organization.short_name", ""),
            f.get("organization.legal_name", ""),
        )
        key = names.search_key(f.get("organization.short_name", ""), f.get("organization.legal_name", ""))
    else:
        display = f.get("group.name", "")
        key = names.search_key(display)
    return display[:500], key[:2000]


SOLE_PROPRIETOR_FORMS = frozenset({"ИП", "IP"})
#: What a sole proprietor (ИП) registered as an organization may hold: the owner's taxpayer number and
#: the OGRNIP are the business's identifiers; OGRN and KPP belong to legal entities only.
SOLE_PROPRIETOR_IDS = frozenset({"INN", "OGRNIP", "OTHER"})


def holder_kind(kind: str, legal_form: str | None) -> str:
    """ "sole_proprietor" for an organization whose legal form is ИП, else the party's kind."""
    form = (legal_form or "").strip().upper().replace(".", "")
    return "sole_proprietor" if kind == "organization" and form in SOLE_PROPRIETOR_FORMS else kind


def identifier(ident: pb.Identifier, v: Violations, path: str, kind: str) -> NewItem | None:
    id_type = enum_name(pb.IdentifierType, ident.type, "IDENTIFIER_TYPE_")
    if not id_type:
        v.add(f"{path}.type", "is required")
        return None
    try:
        value = identifiers.normalize_identifier(id_type, ident.value, ident.other_type)
    except DomainValueError as exc:
        v.add(f"{path}.value", f"{id_type}: {exc}")
        return None
    allowed = identifiers.identifier_kinds(id_type, value)
    sole = kind == "sole_proprietor"
    fits = (id_type in SOLE_PROPRIETOR_IDS and "person" in allowed) if sole else kind in allowed
    if not fits:
        article = "an" if kind[0] in "aeiou" else "a"
        v.add(
            f"{path}.type",
            f"{article} {kind.replace('_', ' ')} cannot hold this {id_type} (of {len(value)} characters)",
        )
        return None
    other_type = ident.other_type.strip().upper() if id_type == "OTHER" else ""
    data: dict[str, Any] = {"type": id_type, "value": value}
    if other_type:
        data["other_type"] = other_type
    issuer = _clean(ident.issuer, v, f"{path}.issuer", 300)
    if issuer:
        data["issuer"] = issuer
    issued = day(ident.issued_on, v, f"{path}.issued_on")
    if issued:
        data["issued_on"] = issued.isoformat()
    key1 = f"OTHER:{other_type}" if other_type else id_type
    return NewItem("identifier", key1, value, data, is_unique=id_type in identifiers.UNIQUE_TYPES, field=path)


def contact_point(cp: pb.ContactPoint, v: Violations, path: str) -> NewItem | None:
    which = cp.WhichOneof("value")
    if which is None:
        v.add(f"{path}.value", "one of phone, email, address or messenger is required")
        return None
    expected = {
        "phone": pb.CONTACT_POINT_TYPE_PHONE,
        "email": pb.CONTACT_POINT_TYPE_EMAIL,
        "address": pb.CONTACT_POINT_TYPE_POSTAL_ADDRESS,
        "messenger": pb.CONTACT_POINT_TYPE_MESSENGER,
    }[which]
    if cp.type and cp.type != expected:
        v.add(f"{path}.type", f"does not match the {which} value given")
        return None
    purpose = enum_name(pb.ContactPurpose, cp.purpose, "CONTACT_PURPOSE_")
    if cp.purpose and not purpose:
        v.add(f"{path}.purpose", f"unknown value {cp.purpose}")
    data: dict[str, Any] = {"purpose": purpose or "PERSONAL", "primary": cp.primary, "verified": cp.verified}
    try:
        if which == "phone":
            key2 = contacts.normalize_phone(cp.phone)
            data["phone"] = key2
            data["region"] = contacts.phone_region(key2)
        elif which == "email":
            key2 = contacts.normalize_email(cp.email)
            data["email"] = key2
        elif which == "address":
            a = cp.address
            parts = contacts.normalize_address(
                a.country_code, a.postal_code, a.region, a.city, a.street, a.house, a.flat, a.full_text
            )
            data["address"] = parts
            key2 = contacts.address_key(parts)
        else:
            messenger = enum_name(pb.Messenger, cp.messenger.messenger, "MESSENGER_")
            if not messenger:
                v.add(f"{path}.messenger.messenger", "is required")
                return None
            handle = contacts.normalize_messenger_handle(messenger, cp.messenger.handle)
            data["messenger"] = {"messenger": messenger, "handle": handle}
            key2 = f"{messenger}:{handle}"
    except DomainValueError as exc:
        v.add(f"{path}.{which}", str(exc))
        return None
    type_name = enum_name(pb.ContactPointType, expected, "CONTACT_POINT_TYPE_")
    return NewItem("contact_point", type_name, key2[:1000], data, field=path)


def consent(c: pb.Consent, v: Violations, path: str) -> NewItem | None:
    channel = enum_name(pb.Channel, c.channel, "CHANNEL_")
    purpose = enum_name(pb.ConsentPurpose, c.purpose, "CONSENT_PURPOSE_")
    status = enum_name(pb.ConsentStatus, c.status, "CONSENT_STATUS_")
    for name, value in (("channel", channel), ("purpose", purpose), ("status", status)):
        if not value:
            v.add(f"{path}.{name}", "is required")
    evidence = _clean(c.evidence, v, f"{path}.evidence", 500)
    if not (channel and purpose and status):
        return None
    data = {"channel": channel, "purpose": purpose, "status": status, "evidence": evidence}
    return NewItem("consent", f"{channel}/{purpose}", status, data, field=path)


PREFERENCE_PATHS = ("do_not_contact", "time_zone", "quiet_hours", "preferred_channel", "preferred_language")


def preference_facts(p: pb.ContactPreferences, v: Violations, path: str, mask: set[str] | None) -> dict[str, Any]:
    """mask None means "every field that is set" (create) and an explicit list means exactly those."""
    out: dict[str, Any] = {}

    def wanted(name: str, is_set: bool) -> bool:
        return (mask is None and is_set) or (mask is not None and name in mask)

    if wanted("do_not_contact", p.do_not_contact):
        out["preferences.do_not_contact"] = p.do_not_contact
    if wanted("time_zone", bool(p.time_zone)):
        try:
            out["preferences.time_zone"] = preferences.validate_time_zone(p.time_zone) if p.time_zone else None
        except DomainValueError as exc:
            v.add(f"{path}.time_zone", str(exc))
    if wanted("quiet_hours", p.HasField("quiet_hours")):
        if p.HasField("quiet_hours") and (p.quiet_hours.start or p.quiet_hours.end):
            try:
                preferences.parse_quiet_hours(p.quiet_hours.start, p.quiet_hours.end)
                out["preferences.quiet_hours"] = {"start": p.quiet_hours.start, "end": p.quiet_hours.end}
            except DomainValueError as exc:
                v.add(f"{path}.quiet_hours", str(exc))
        else:
            out["preferences.quiet_hours"] = None
    if wanted("preferred_channel", bool(p.preferred_channel)):
        channel = enum_name(pb.Channel, p.preferred_channel, "CHANNEL_")
        if p.preferred_channel and not channel:
            v.add(f"{path}.preferred_channel", f"unknown value {p.preferred_channel}")
        out["preferences.preferred_channel"] = channel or None
    if wanted("preferred_language", bool(p.preferred_language)):
        try:
            lang = p.preferred_language
            out["preferences.preferred_language"] = preferences.validate_language(lang) if lang else None
        except DomainValueError as exc:
            v.add(f"{path}.preferred_language", str(exc))
    if mask is not None:
        for name in mask - set(PREFERENCE_PATHS):
            v.add("update_mask", f"unknown path {name!r}")
    return out


def kind_of(message: Any) -> str:
    return KIND_TO_STR.get(message, "")


def role_code(value: str, v: Violations, path: str) -> str:
    code = value.strip().lower()
    if not code:
        v.add(path, "is required")
    elif len(code) > 64 or not code.replace("_", "").isalnum() or not code.isascii():
        v.add(path, "must be a catalogue code of at most 64 lower-case letters, digits and underscores")
    return code


def page_size(requested: int, v: Violations, path: str, default: int, maximum: int) -> int:
    if requested < 0:
        v.add(path, "cannot be negative")
        return default
    if requested > maximum:
        v.add(path, f"at most {maximum}")
        return maximum
    return requested or default


def check_count(items: Any, v: Violations, path: str, maximum: int = MAX_ITEMS) -> None:
    if len(items) > maximum:
        v.add(path, f"at most {maximum} entries")
