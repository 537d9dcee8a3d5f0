"""REST shapes of parties and their items (identifiers, contact points, roles, attributes, consents,
preferences). Field names are the contract's, so the service's field violations map one to one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field, model_validator

from gateway.models.common import (
    Bool,
    Channel,
    ConsentPurpose,
    ConsentStatus,
    ContactPointType,
    ContactPurpose,
    Day,
    Gender,
    IdentifierType,
    Input,
    Int,
    Messenger,
    Output,
    PartyKind,
    PartyStatus,
    RecordInfo,
    Str,
    Validity,
    only_one,
)

PROFILES = ("person", "organization", "group")

# -- profiles ------------------------------------------------------------------------------------


class PersonName(Input):
    last_name: Str = ""
    first_name: Str = ""
    patronymic: Str = ""


class Person(Input):
    name: PersonName | None = Field(None, description="In the native script (Cyrillic for Russian citizens).")
    latin_name: PersonName | None = Field(None, description="The Latin spelling, as in a foreign passport.")
    gender: Gender | None = None
    birth_date: Day | None = None


class Organization(Input):
    legal_name: Str = ""
    short_name: Str = ""
    legal_form: Str = Field("", description='e.g. "ООО", "АО", "ИП", "GmbH".')


class Group(Input):
    name: Str = ""
    description: Str = ""
    member_party_ids: list[Str] = Field(
        default_factory=list, description="On create, each listed party becomes a member; read-only afterwards."
    )


# -- items ---------------------------------------------------------------------------------------


class IdentifierIn(Input):
    type: IdentifierType
    value: Str
    other_type: Str = Field("", description='Scheme of an "other" identifier, e.g. "DE-STEUER-ID".')
    issuer: Str = ""
    issued_on: Day | None = None


class Identifier(Output):
    identifier_id: str
    type: IdentifierType | None = None
    value: str = ""
    other_type: str = ""
    issuer: str = ""
    issued_on: date | None = None
    validity: Validity | None = None
    recorded: RecordInfo | None = None


class PostalAddress(Input):
    country_code: Str = Field("", description='ISO 3166-1 alpha-2, e.g. "RU".')
    postal_code: Str = ""
    region: Str = ""
    city: Str = ""
    street: Str = ""
    house: Str = ""
    flat: Str = ""
    full_text: Str = ""


class MessengerHandle(Input):
    messenger: Messenger
    handle: Str


CONTACT_VALUES = ("phone", "email", "address", "messenger")


class ContactPointIn(Input):
    type: ContactPointType | None = Field(None, description="Optional: implied by the value given.")
    purpose: ContactPurpose | None = None
    primary: Bool = False
    verified: Bool = False
    phone: Str | None = None
    email: Str | None = None
    address: PostalAddress | None = None
    messenger: MessengerHandle | None = None

    @model_validator(mode="after")
    def _one_value(self) -> ContactPointIn:
        only_one(self, CONTACT_VALUES, "value (phone, email, address or messenger)")
        return self


class ContactPointPatch(Input):
    """Only the fields sent change; the type of a contact point is fixed."""

    purpose: ContactPurpose | None = None
    primary: Bool | None = None
    verified: Bool | None = None
    phone: Str | None = None
    email: Str | None = None
    address: PostalAddress | None = None
    messenger: MessengerHandle | None = None
    valid_from: Day | None = None

    @model_validator(mode="after")
    def _one_value(self) -> ContactPointPatch:
        only_one(self, CONTACT_VALUES, "value (phone, email, address or messenger)")
        return self


class ContactPoint(Output):
    contact_point_id: str
    type: ContactPointType | None = None
    purpose: ContactPurpose | None = None
    primary: bool = False
    verified: bool = False
    phone: str | None = None
    email: str | None = None
    address: PostalAddress | None = None
    messenger: MessengerHandle | None = None
    validity: Validity | None = None
    recorded: RecordInfo | None = None


class Role(Output):
    role_id: str
    role_type: str
    validity: Validity | None = None
    recorded: RecordInfo | None = None


ATTRIBUTE_VALUES = ("text_value", "number_value", "decimal_value", "date_value", "bool_value", "enum_value")


class AttributeValueIn(Input):
    """One value per attribute; giving none of the *_value fields clears the attribute."""

    code: Str
    text_value: Str | None = None
    number_value: Int | None = None
    decimal_value: Str | None = Field(None, description='An exact decimal as a string, e.g. "12.50".')
    date_value: Day | None = None
    bool_value: Bool | None = None
    enum_value: Str | None = None

    @model_validator(mode="after")
    def _one_value(self) -> AttributeValueIn:
        only_one(self, ATTRIBUTE_VALUES, "value")
        return self


class AttributeValue(Output):
    code: str
    text_value: str | None = None
    number_value: int | None = None
    decimal_value: str | None = None
    date_value: date | None = None
    bool_value: bool | None = None
    enum_value: str | None = None
    validity: Validity | None = None
    recorded: RecordInfo | None = None


class ConsentIn(Input):
    channel: Channel
    purpose: ConsentPurpose
    status: ConsentStatus
    evidence: Str = Field("", description="A signed form number, a web form, a call recording id...")


class ConsentState(Input):
    """The body of PUT .../consents/{channel}/{purpose}."""

    status: ConsentStatus
    evidence: Str = ""


class Consent(Output):
    channel: Channel | None = None
    purpose: ConsentPurpose | None = None
    status: ConsentStatus | None = None
    evidence: str = ""
    recorded: RecordInfo | None = None


class QuietHours(Input):
    start: Str = Field("", description='Local time "HH:MM".')
    end: Str = ""


class ContactPreferences(Input):
    do_not_contact: Bool = False
    time_zone: Str = Field("", description='IANA time zone, e.g. "Europe/Moscow".')
    quiet_hours: QuietHours | None = None
    preferred_channel: Channel | None = None
    preferred_language: Str = Field("", description='BCP 47 tag, e.g. "ru".')


class ContactPreferencesPatch(Input):
    """Only the fields sent change; null clears a field."""

    do_not_contact: Bool | None = None
    time_zone: Str | None = None
    quiet_hours: QuietHours | None = None
    preferred_channel: Channel | None = None
    preferred_language: Str | None = None


# -- parties -------------------------------------------------------------------------------------


class PartyCreate(Input):
    kind: PartyKind
    person: Person | None = None
    organization: Organization | None = None
    group: Group | None = None
    identifiers: list[IdentifierIn] = Field(default_factory=list)
    contact_points: list[ContactPointIn] = Field(default_factory=list)
    role_types: list[Str] = Field(default_factory=list, description='Role codes, e.g. "customer".')
    attributes: list[AttributeValueIn] = Field(default_factory=list)
    consents: list[ConsentIn] = Field(default_factory=list)
    preferences: ContactPreferences | None = None
    valid_from: Day | None = Field(None, description="Business date from which the facts hold; defaults to today.")

    def profile_errors(self, prefix: str = "body") -> list[tuple[str, str]]:
        """The profile must be the one of the kind: {"kind": "person", "person": {...}}."""
        kind = self.kind.value
        wrong = [(f"{prefix}.{p}", f"does not fit kind {kind!r}") for p in PROFILES if p != kind and getattr(self, p)]
        if getattr(self, kind) is None:
            wrong.append((f"{prefix}.{kind}", f"is required for kind {kind!r}"))
        return wrong


class PersonNamePatch(Input):
    last_name: Str | None = None
    first_name: Str | None = None
    patronymic: Str | None = None


class PersonPatch(Input):
    name: PersonNamePatch | None = None
    latin_name: PersonNamePatch | None = None
    gender: Gender | None = None
    birth_date: Day | None = None


class OrganizationPatch(Input):
    legal_name: Str | None = None
    short_name: Str | None = None
    legal_form: Str | None = None


class GroupPatch(Input):
    name: Str | None = None
    description: Str | None = None


class PartyPatch(Input):
    """Profile fields to change (only those sent; null clears). Send If-Match: <version> to be safe."""

    person: PersonPatch | None = None
    organization: OrganizationPatch | None = None
    group: GroupPatch | None = None
    valid_from: Day | None = Field(None, description="The change holds from this date on; defaults to today.")


class Party(Output):
    party_id: str
    kind: PartyKind | None = None
    status: PartyStatus | None = None
    version: int = 0
    display_name: str = ""
    person: Person | None = None
    organization: Organization | None = None
    group: Group | None = None
    identifiers: list[Identifier] = Field(default_factory=list)
    contact_points: list[ContactPoint] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    attributes: list[AttributeValue] = Field(default_factory=list)
    preferences: ContactPreferences | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PartySummary(Output):
    party_id: str
    kind: PartyKind | None = None
    status: PartyStatus | None = None
    display_name: str = ""
    birth_date: date | None = None
    primary_phone: str = ""
    primary_email: str = ""
    role_types: list[str] = Field(default_factory=list)
    created_at: datetime | None = None


class SearchHit(Output):
    party: PartySummary
    score: float = Field(description="Name similarity from 0 to 1 (1 for exact phone, e-mail or identifier).")


class SearchResult(Output):
    hits: list[SearchHit]
    next_page_token: str = Field("", description="Pass as page_token for the next page; empty on the last.")


# -- change results ------------------------------------------------------------------------------


class IdentifierResult(Output):
    identifier: Identifier
    party_version: int


class ContactPointResult(Output):
    contact_point: ContactPoint
    party_version: int


class RoleResult(Output):
    role: Role
    party_version: int


class AttributeValuesResult(Output):
    values: list[AttributeValue]
    party_version: int


class ConsentResult(Output):
    consent: Consent
    party_version: int


class PreferencesResult(Output):
    preferences: ContactPreferences
    party_version: int


# -- request bodies of item commands -------------------------------------------------------------


class IdentifierAdd(IdentifierIn):
    valid_from: Day | None = None


class ContactPointAdd(ContactPointIn):
    valid_from: Day | None = None


class RoleAssign(Input):
    role_type: Str
    valid_from: Day | None = None
    valid_to: Day | None = None


class AttributeValuesSet(Input):
    values: list[AttributeValueIn]
    valid_from: Day | None = None


# -- history, card, changes, import --------------------------------------------------------------


class HistoryEntry(Output):
    value: Any = Field(None, description="The value as it was recorded (null when cleared).")
    validity: Validity | None = None
    recorded_at: datetime | None = None
    superseded_at: datetime | None = Field(None, description="When a later record replaced this one.")
    actor: str = ""
    source: str = ""
    reason: str = ""


class FieldHistory(Output):
    field: str
    entries: list[HistoryEntry]


class Change(Output):
    sequence: int
    party_id: str
    change_type: str
    fields: list[str] = Field(default_factory=list)
    occurred_at: datetime | None = None
    actor: str = ""
    source: str = ""
    party_version: int = 0


class ChangesPage(Output):
    changes: list[Change]
    next_after: int = Field(description="Pass as `after` next time.")


class ImportParty(PartyCreate):
    request_id: Str = Field(description="Required: a re-run skips rows already imported.")


class ImportRow(Input):
    row_ref: Str = Field("", description="Your reference for the row, echoed in its errors.")
    party: ImportParty


class ImportRequest(Input):
    rows: list[ImportRow] = Field(min_length=1)


class ImportFieldError(Output):
    field: str
    reason: str


class ImportRowError(Output):
    row_ref: str
    errors: list[ImportFieldError]


class ImportResult(Output):
    rows_received: int
    parties_created: int
    rows_already_present: int
    errors: list[ImportRowError]
