"""Bad input for every RPC: wrong, missing, oversized and hostile values. Each is answered with
INVALID_ARGUMENT carrying google.rpc.BadRequest violations that name the field, and leaves every table
of the register exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import pytest_asyncio

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import (
    Db,
    bad_check_digit,
    create_group_req,
    create_org_req,
    create_person_req,
    ctx,
    d,
    days_ago,
    inn_id,
    invalid,
    new_org,
    new_person,
    ogrn,
    ogrnip,
    org_inn,
    person,
    person_inn,
    rid,
    rpc_error,
    snils,
    today,
    vin,
)

SQL = "Robert'); DROP TABLE parties.party;--"
NUL = "Ив\x00ан"
LONG = "Щ" * 10_000
BAD_DATE = common_pb2.Date(year=2024, month=13, day=1)
NOT_UUID = "not-a-uuid"
UNKNOWN_ID = "6f1c1d1e-0000-4000-8000-000000000000"


@dataclass
class World:
    person: pb.Party
    org: pb.Party
    identifier_id: str
    phone_id: str
    role_id: str
    relationship_id: str
    vehicle_id: str
    vehicle_vin: str


def attr_def(code: str, value_type: int, **validation: Any) -> pb.DefineAttributeRequest:
    return pb.DefineAttributeRequest(
        definition=pb.AttributeDefinition(
            code=code,
            name=code.replace("_", " "),
            value_type=value_type,
            applies_to=[pb.PARTY_KIND_PERSON, pb.PARTY_KIND_ORGANIZATION],
            validation=pb.AttributeValidation(**validation),
        )
    )


@pytest_asyncio.fixture(scope="module")
async def world(parties) -> World:
    await parties.DefineAttribute(attr_def("bad_note", pb.ATTRIBUTE_VALUE_TYPE_TEXT, max_length=20))
    await parties.DefineAttribute(attr_def("bad_code", pb.ATTRIBUTE_VALUE_TYPE_TEXT, pattern=r"[A-Z]{3}-\d{2}"))
    await parties.DefineAttribute(attr_def("bad_count", pb.ATTRIBUTE_VALUE_TYPE_NUMBER, min="0", max="10"))
    await parties.DefineAttribute(attr_def("bad_ratio", pb.ATTRIBUTE_VALUE_TYPE_DECIMAL, min="0", max="1.5"))
    await parties.DefineAttribute(attr_def("bad_tier", pb.ATTRIBUTE_VALUE_TYPE_ENUM, allowed_values=["a", "b"]))
    await parties.DefineAttribute(attr_def("bad_old", pb.ATTRIBUTE_VALUE_TYPE_TEXT))
    await parties.RetireAttribute(pb.RetireAttributeRequest(code="bad_old"))
    p = await new_person(
        parties,
        identifiers=[inn_id(person_inn())],
        contact_points=[pb.ContactPoint(phone="+7 916 700 00 01", primary=True)],
        role_types=["customer"],
    )
    o = await new_org(parties, identifiers=[inn_id(org_inn())])
    employee = (
        await parties.AssignRole(
            pb.AssignRoleRequest(party_id=p.party_id, role_type="employee", valid_from=d(days_ago(300)))
        )
    ).role
    rel = (
        await parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="employee_of",
                from_party_id=p.party_id,
                to_party_id=o.party_id,
                valid_from=d(days_ago(300)),
            )
        )
    ).relationship
    v = vin()
    own = (
        await parties.RegisterVehicle(
            pb.RegisterVehicleRequest(
                party_id=p.party_id, vehicle=pb.Vehicle(vin=v, make="Lada", model="Niva"), valid_from=d(days_ago(200))
            )
        )
    ).ownership
    await parties.RecordMileage(
        pb.RecordMileageRequest(vehicle_id=own.vehicle.vehicle_id, kilometres=20_000, read_on=d(days_ago(10)))
    )
    assert employee.role_id
    return World(
        person=p,
        org=o,
        identifier_id=p.identifiers[0].identifier_id,
        phone_id=p.contact_points[0].contact_point_id,
        role_id=p.roles[0].role_id,
        relationship_id=rel.relationship_id,
        vehicle_id=own.vehicle.vehicle_id,
        vehicle_vin=v,
    )


Build = Callable[[World], Any]


def cp(**kw: Any) -> Build:
    return lambda w: create_person_req(**kw)


def co(**kw: Any) -> Build:
    return lambda w: create_org_req(**kw)


def attr(code: str, **value: Any) -> pb.AttributeValue:
    return pb.AttributeValue(code=code, **value)


def long_name_person() -> pb.Person:
    return person(LONG)


CASES: list[tuple[str, str, Build, tuple[str, ...]]] = [
    # -- CreateParty: wrong -------------------------------------------------------------------------
    ("create-no-profile", "CreateParty", lambda w: pb.CreatePartyRequest(request_id=rid()), ("profile",)),
    ("create-bad-inn", "CreateParty", cp(identifiers=[inn_id(bad_check_digit(person_inn()))]), ("identifiers[0]",)),
    (
        "create-bad-ogrn",
        "CreateParty",
        co(identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_OGRN, value=bad_check_digit(ogrn()))]),
        ("identifiers[0].value",),
    ),
    (
        "create-bad-ogrnip",
        "CreateParty",
        cp(identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_OGRNIP, value=bad_check_digit(ogrnip()))]),
        ("identifiers[0].value",),
    ),
    (
        "create-bad-snils",
        "CreateParty",
        cp(identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_SNILS, value=bad_check_digit(snils()))]),
        ("identifiers[0].value",),
    ),
    (
        "create-empty-identifier",
        "CreateParty",
        cp(identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value="")]),
        ("identifiers[0].value",),
    ),
    (
        "create-unknown-identifier-type",
        "CreateParty",
        cp(identifiers=[pb.Identifier(type=99, value="123")]),
        ("identifiers[0].type",),
    ),
    ("create-org-inn-on-person", "CreateParty", cp(identifiers=[inn_id(org_inn())]), ("identifiers[0].type",)),
    (
        "create-duplicate-identifier-in-request",
        "CreateParty",
        (lambda w, v=person_inn(): create_person_req(identifiers=[inn_id(v), inn_id(v)])),
        ("identifiers[1]",),
    ),
    (
        "create-invalid-phone",
        "CreateParty",
        cp(contact_points=[pb.ContactPoint(phone="12345")]),
        ("contact_points[0]",),
    ),
    (
        "create-phone-letters",
        "CreateParty",
        cp(contact_points=[pb.ContactPoint(phone="8-800-FLOWERS")]),
        ("contact_points[0].phone",),
    ),
    (
        "create-bad-email",
        "CreateParty",
        cp(contact_points=[pb.ContactPoint(email="ivan@@example..com")]),
        ("contact_points[0].email",),
    ),
    ("create-contact-no-value", "CreateParty", cp(contact_points=[pb.ContactPoint()]), ("contact_points[0].value",)),
    (
        "create-contact-unknown-purpose",
        "CreateParty",
        cp(contact_points=[pb.ContactPoint(phone="+79160000001", purpose=99)]),
        ("contact_points[0].purpose",),
    ),
    (
        "create-contact-type-mismatch",
        "CreateParty",
        cp(contact_points=[pb.ContactPoint(type=pb.CONTACT_POINT_TYPE_EMAIL, phone="+79160000001")]),
        ("contact_points[0].type",),
    ),
    (
        "create-two-primary-phones",
        "CreateParty",
        cp(
            contact_points=[
                pb.ContactPoint(phone="+79160000001", primary=True),
                pb.ContactPoint(phone="+79160000002", primary=True),
            ]
        ),
        ("contact_points[1].primary",),
    ),
    (
        "create-bad-messenger",
        "CreateParty",
        cp(contact_points=[pb.ContactPoint(messenger=pb.MessengerHandle(messenger=99, handle="ivan_ivanov"))]),
        ("contact_points[0].messenger",),
    ),
    (
        "create-bad-address-country",
        "CreateParty",
        cp(contact_points=[pb.ContactPoint(address=pb.PostalAddress(country_code="XX", city="Москва"))]),
        ("contact_points[0].address",),
    ),
    ("create-unknown-role", "CreateParty", cp(role_types=["astronaut"]), ("role_types[0]",)),
    ("create-person-dealer", "CreateParty", cp(role_types=["customer", "dealer"]), ("role_types[1]",)),
    ("create-unknown-attribute", "CreateParty", cp(attributes=[attr("no_such", text_value="x")]), ("attributes[0]",)),
    (
        "create-attribute-wrong-type",
        "CreateParty",
        cp(attributes=[attr("bad_note", number_value=5)]),
        ("attributes[0].number_value",),
    ),
    (
        "create-retired-attribute",
        "CreateParty",
        cp(attributes=[attr("bad_old", text_value="x")]),
        ("attributes[0].code",),
    ),
    (
        "create-enum-not-allowed",
        "CreateParty",
        cp(attributes=[attr("bad_tier", enum_value="c")]),
        ("attributes[0].enum_value",),
    ),
    (
        "create-number-out-of-bounds",
        "CreateParty",
        cp(attributes=[attr("bad_count", number_value=11)]),
        ("attributes[0].number_value",),
    ),
    (
        "create-birth-month-13",
        "CreateParty",
        cp(
            profile=pb.Person(
                name=pb.PersonName(last_name="Иванов"), birth_date=common_pb2.Date(year=1990, month=13, day=1)
            )
        ),
        ("person.birth_date",),
    ),
    (
        "create-birth-in-future",
        "CreateParty",
        cp(
            profile=pb.Person(
                name=pb.PersonName(last_name="Иванов"), birth_date=d(today().replace(year=today().year + 1))
            )
        ),
        ("person.birth_date",),
    ),
    ("create-valid-from-month-13", "CreateParty", cp(valid_from=BAD_DATE), ("valid_from",)),
    ("create-unknown-gender", "CreateParty", cp(profile=person(gender=99)), ("person.gender",)),
    ("create-no-name", "CreateParty", cp(profile=person("", "", "")), ("person.name",)),
    (
        "create-unknown-consent-channel",
        "CreateParty",
        cp(consents=[pb.Consent(channel=99, purpose=1, status=1)]),
        ("consents[0].channel",),
    ),
    (
        "create-bad-time-zone",
        "CreateParty",
        cp(preferences=pb.ContactPreferences(time_zone="Mars/Olympus")),
        ("preferences.time_zone",),
    ),
    (
        "create-bad-quiet-hours",
        "CreateParty",
        cp(preferences=pb.ContactPreferences(quiet_hours=pb.QuietHours(start="25:00", end="07:00"))),
        ("preferences.quiet_hours",),
    ),
    (
        "create-group-member-not-uuid",
        "CreateParty",
        lambda w: create_group_req(members=[NOT_UUID]),
        ("group.member_party_ids[0]",),
    ),
    (
        "create-org-no-name",
        "CreateParty",
        lambda w: pb.CreatePartyRequest(request_id=rid(), organization=pb.Organization(legal_form="ООО")),
        ("organization.legal_name",),
    ),
    # -- CreateParty: oversized ---------------------------------------------------------------------
    ("create-10k-name", "CreateParty", cp(profile=person(LONG)), ("person.name.last_name",)),
    ("create-10k-org-name", "CreateParty", co(name=LONG), ("organization.legal_name",)),
    ("create-long-request-id", "CreateParty", cp(request_id="r" * 129), ("request_id",)),
    (
        "create-51-identifiers",
        "CreateParty",
        cp(identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_OTHER, other_type="X", value=str(i)) for i in range(51)]),
        ("identifiers",),
    ),
    (
        "create-51-contacts",
        "CreateParty",
        cp(contact_points=[pb.ContactPoint(phone=f"+7916{i:07d}") for i in range(51)]),
        ("contact_points",),
    ),
    # -- CreateParty: hostile -----------------------------------------------------------------------
    ("create-sql-name", "CreateParty", cp(profile=person(SQL)), ("person.name.last_name",)),
    ("create-nul-name", "CreateParty", cp(profile=person("Иванов", NUL)), ("person.name.first_name",)),
    ("create-nul-org", "CreateParty", co(name="Ромашка\x00"), ("organization.legal_name",)),
    ("create-nul-request-id", "CreateParty", cp(request_id="abc\x00"), ("request_id",)),
    ("create-bidi-name", "CreateParty", cp(profile=person("Ив\u202eанов")), ("person.name.last_name",)),
    ("create-nul-context", "CreateParty", cp(context=ctx(actor="user\x00")), ("context.actor",)),
    # -- GetParty -----------------------------------------------------------------------------------
    ("get-no-id", "GetParty", lambda w: pb.GetPartyRequest(), ("party_id",)),
    ("get-not-uuid", "GetParty", lambda w: pb.GetPartyRequest(party_id=NOT_UUID), ("party_id",)),
    ("get-sql-id", "GetParty", lambda w: pb.GetPartyRequest(party_id=SQL), ("party_id",)),
    (
        "get-bad-known-at",
        "GetParty",
        lambda w: pb.GetPartyRequest(party_id=w.person.party_id, known_at={"seconds": 10**15}),
        ("known_at",),
    ),
    ("get-bad-as-of", "GetParty", lambda w: pb.GetPartyRequest(party_id=w.person.party_id, as_of=BAD_DATE), ("as_of",)),
    # -- UpdateParty --------------------------------------------------------------------------------
    (
        "update-no-id",
        "UpdateParty",
        lambda w: pb.UpdatePartyRequest(person=pb.Person(name=pb.PersonName(last_name="Петров"))),
        ("party_id",),
    ),
    ("update-no-profile", "UpdateParty", lambda w: pb.UpdatePartyRequest(party_id=w.person.party_id), ("profile",)),
    (
        "update-unknown-mask",
        "UpdateParty",
        lambda w: pb.UpdatePartyRequest(
            party_id=w.person.party_id,
            person=pb.Person(name=pb.PersonName(last_name="Петров")),
            update_mask={"paths": ["name.salary"]},
        ),
        ("update_mask",),
    ),
    (
        "update-sql-name",
        "UpdateParty",
        lambda w: pb.UpdatePartyRequest(
            party_id=w.person.party_id, person=pb.Person(name=pb.PersonName(last_name=SQL))
        ),
        ("person.name.last_name",),
    ),
    (
        "update-bad-valid-from",
        "UpdateParty",
        lambda w: pb.UpdatePartyRequest(
            party_id=w.person.party_id,
            person=pb.Person(name=pb.PersonName(last_name="Петров")),
            valid_from=common_pb2.Date(year=2024, month=2, day=30),
        ),
        ("valid_from",),
    ),
    (
        "update-clears-all-names",
        "UpdateParty",
        lambda w: pb.UpdatePartyRequest(
            party_id=w.person.party_id,
            person=pb.Person(),
            update_mask={"paths": ["name.last_name", "name.first_name"]},
        ),
        ("person.name",),
    ),
    (
        "update-clears-org-names",
        "UpdateParty",
        lambda w: pb.UpdatePartyRequest(
            party_id=w.org.party_id,
            organization=pb.Organization(),
            update_mask={"paths": ["legal_name", "short_name"]},
        ),
        ("organization.legal_name",),
    ),
    (
        "update-future-birth",
        "UpdateParty",
        lambda w: pb.UpdatePartyRequest(
            party_id=w.person.party_id, person=pb.Person(birth_date=d(today().replace(year=today().year + 1)))
        ),
        ("person.birth_date",),
    ),
    # -- SearchParties ------------------------------------------------------------------------------
    (
        "search-page-size-1000",
        "SearchParties",
        lambda w: pb.SearchPartiesRequest(query="Иванов", page=common_pb2.PageRequest(page_size=1000)),
        ("page.page_size",),
    ),
    (
        "search-bad-token",
        "SearchParties",
        lambda w: pb.SearchPartiesRequest(query="Иванов", page=common_pb2.PageRequest(page_token="bm9wZQ==")),
        ("page.page_token",),
    ),
    (
        "search-garbage-token",
        "SearchParties",
        lambda w: pb.SearchPartiesRequest(page=common_pb2.PageRequest(page_token="%%%")),
        ("page.page_token",),
    ),
    ("search-long-query", "SearchParties", lambda w: pb.SearchPartiesRequest(query="а" * 201), ("query",)),
    ("search-nul-query", "SearchParties", lambda w: pb.SearchPartiesRequest(query=NUL), ("query",)),
    ("search-bad-phone", "SearchParties", lambda w: pb.SearchPartiesRequest(phone="12"), ("phone",)),
    ("search-bad-email", "SearchParties", lambda w: pb.SearchPartiesRequest(email="no-at-sign"), ("email",)),
    ("search-unknown-kind", "SearchParties", lambda w: pb.SearchPartiesRequest(kind=99), ("kind",)),
    ("search-unknown-order", "SearchParties", lambda w: pb.SearchPartiesRequest(order_by=99), ("order_by",)),
    (
        "search-identifier-without-type",
        "SearchParties",
        lambda w: pb.SearchPartiesRequest(identifier_value="7707083893"),
        ("identifier_type",),
    ),
    (
        "search-bad-inn",
        "SearchParties",
        lambda w: pb.SearchPartiesRequest(identifier_type=pb.IDENTIFIER_TYPE_INN, identifier_value="7707083894"),
        ("identifier_value",),
    ),
    ("search-bad-role", "SearchParties", lambda w: pb.SearchPartiesRequest(role_type=SQL), ("role_type",)),
    # -- GetPartyCard -------------------------------------------------------------------------------
    ("card-not-uuid", "GetPartyCard", lambda w: pb.GetPartyCardRequest(party_id=NOT_UUID), ("party_id",)),
    (
        "card-bad-as-of",
        "GetPartyCard",
        lambda w: pb.GetPartyCardRequest(party_id=w.person.party_id, as_of=BAD_DATE),
        ("as_of",),
    ),
    # -- GetFieldHistory ----------------------------------------------------------------------------
    (
        "history-no-id",
        "GetFieldHistory",
        lambda w: pb.GetFieldHistoryRequest(field="person.name.last_name"),
        ("party_id",),
    ),
    (
        "history-no-field",
        "GetFieldHistory",
        lambda w: pb.GetFieldHistoryRequest(party_id=w.person.party_id),
        ("field",),
    ),
    (
        "history-unknown-field",
        "GetFieldHistory",
        lambda w: pb.GetFieldHistoryRequest(party_id=w.person.party_id, field="person.salary"),
        ("field",),
    ),
    (
        "history-item-not-uuid",
        "GetFieldHistory",
        lambda w: pb.GetFieldHistoryRequest(party_id=w.person.party_id, field="identifiers/" + NOT_UUID),
        ("field",),
    ),
    (
        "history-consent-shape",
        "GetFieldHistory",
        lambda w: pb.GetFieldHistoryRequest(party_id=w.person.party_id, field="consents/EMAIL"),
        ("field",),
    ),
    (
        "history-sql-field",
        "GetFieldHistory",
        lambda w: pb.GetFieldHistoryRequest(party_id=w.person.party_id, field="attributes." + SQL),
        ("field",),
    ),
    # -- ListChanges --------------------------------------------------------------------------------
    ("changes-negative", "ListChanges", lambda w: pb.ListChangesRequest(after_sequence=-1), ("after_sequence",)),
    ("changes-limit-5000", "ListChanges", lambda w: pb.ListChangesRequest(limit=5000), ("limit",)),
    ("changes-not-uuid", "ListChanges", lambda w: pb.ListChangesRequest(party_ids=[NOT_UUID]), ("party_ids[0]",)),
    (
        "changes-too-many-ids",
        "ListChanges",
        lambda w: pb.ListChangesRequest(party_ids=[UNKNOWN_ID] * 101),
        ("party_ids",),
    ),
    # -- AddIdentifier / EndIdentifier --------------------------------------------------------------
    (
        "add-identifier-bad-inn",
        "AddIdentifier",
        lambda w: pb.AddIdentifierRequest(party_id=w.org.party_id, identifier=inn_id(bad_check_digit(org_inn()))),
        ("identifier.value",),
    ),
    (
        "add-identifier-bad-snils",
        "AddIdentifier",
        lambda w: pb.AddIdentifierRequest(
            party_id=w.person.party_id,
            identifier=pb.Identifier(type=pb.IDENTIFIER_TYPE_SNILS, value=bad_check_digit(snils())),
        ),
        ("identifier.value",),
    ),
    (
        "add-identifier-no-party",
        "AddIdentifier",
        lambda w: pb.AddIdentifierRequest(identifier=inn_id(org_inn())),
        ("party_id",),
    ),
    (
        "add-identifier-empty",
        "AddIdentifier",
        lambda w: pb.AddIdentifierRequest(party_id=w.person.party_id, identifier=pb.Identifier()),
        ("identifier.type",),
    ),
    (
        "add-identifier-bad-date",
        "AddIdentifier",
        lambda w: pb.AddIdentifierRequest(party_id=w.org.party_id, identifier=inn_id(org_inn()), valid_from=BAD_DATE),
        ("valid_from",),
    ),
    (
        "end-identifier-not-uuid",
        "EndIdentifier",
        lambda w: pb.EndIdentifierRequest(party_id=w.person.party_id, identifier_id=NOT_UUID),
        ("identifier_id",),
    ),
    (
        "end-identifier-before-start",
        "EndIdentifier",
        lambda w: pb.EndIdentifierRequest(
            party_id=w.person.party_id, identifier_id=w.identifier_id, valid_to=d(days_ago(500))
        ),
        ("valid_to",),
    ),
    # -- contact points -----------------------------------------------------------------------------
    (
        "add-contact-bad-phone",
        "AddContactPoint",
        lambda w: pb.AddContactPointRequest(party_id=w.person.party_id, contact_point=pb.ContactPoint(phone="+7 916")),
        ("contact_point.phone",),
    ),
    (
        "add-contact-bad-email",
        "AddContactPoint",
        lambda w: pb.AddContactPointRequest(
            party_id=w.person.party_id, contact_point=pb.ContactPoint(email="ivan@example")
        ),
        ("contact_point.email",),
    ),
    (
        "add-contact-not-uuid",
        "AddContactPoint",
        lambda w: pb.AddContactPointRequest(party_id=NOT_UUID, contact_point=pb.ContactPoint(email="a@b.ru")),
        ("party_id",),
    ),
    (
        "update-contact-not-uuid",
        "UpdateContactPoint",
        lambda w: pb.UpdateContactPointRequest(
            party_id=w.person.party_id, contact_point_id=NOT_UUID, contact_point=pb.ContactPoint(phone="+79160000009")
        ),
        ("contact_point_id",),
    ),
    (
        "update-contact-type-change",
        "UpdateContactPoint",
        lambda w: pb.UpdateContactPointRequest(
            party_id=w.person.party_id, contact_point_id=w.phone_id, contact_point=pb.ContactPoint(email="a@b.ru")
        ),
        ("contact_point.type",),
    ),
    (
        "update-contact-before-it-existed",
        "UpdateContactPoint",
        lambda w: pb.UpdateContactPointRequest(
            party_id=w.person.party_id,
            contact_point_id=w.phone_id,
            contact_point=pb.ContactPoint(phone="+79160000009"),
            valid_from=d(days_ago(1000)),
        ),
        ("valid_from",),
    ),
    (
        "end-contact-not-uuid",
        "EndContactPoint",
        lambda w: pb.EndContactPointRequest(party_id=w.person.party_id, contact_point_id=NOT_UUID),
        ("contact_point_id",),
    ),
    (
        "end-contact-before-start",
        "EndContactPoint",
        lambda w: pb.EndContactPointRequest(
            party_id=w.person.party_id, contact_point_id=w.phone_id, valid_to=d(days_ago(1000))
        ),
        ("valid_to",),
    ),
    # -- roles --------------------------------------------------------------------------------------
    (
        "assign-unknown-role",
        "AssignRole",
        lambda w: pb.AssignRoleRequest(party_id=w.person.party_id, role_type="astronaut"),
        ("role_type",),
    ),
    (
        "assign-person-dealer",
        "AssignRole",
        lambda w: pb.AssignRoleRequest(party_id=w.person.party_id, role_type="dealer"),
        ("role_type",),
    ),
    (
        "assign-org-employee",
        "AssignRole",
        lambda w: pb.AssignRoleRequest(party_id=w.org.party_id, role_type="employee"),
        ("role_type",),
    ),
    ("assign-empty-role", "AssignRole", lambda w: pb.AssignRoleRequest(party_id=w.person.party_id), ("role_type",)),
    (
        "assign-to-before-from",
        "AssignRole",
        lambda w: pb.AssignRoleRequest(
            party_id=w.person.party_id, role_type="partner", valid_from=d(days_ago(5)), valid_to=d(days_ago(10))
        ),
        ("valid_to",),
    ),
    (
        "assign-bad-date",
        "AssignRole",
        lambda w: pb.AssignRoleRequest(party_id=w.person.party_id, role_type="partner", valid_from=BAD_DATE),
        ("valid_from",),
    ),
    (
        "end-role-not-uuid",
        "EndRole",
        lambda w: pb.EndRoleRequest(party_id=w.person.party_id, role_id=NOT_UUID),
        ("role_id",),
    ),
    (
        "end-role-before-start",
        "EndRole",
        lambda w: pb.EndRoleRequest(party_id=w.person.party_id, role_id=w.role_id, valid_to=d(days_ago(1000))),
        ("valid_to",),
    ),
    # -- relationships ------------------------------------------------------------------------------
    (
        "relationship-unknown-type",
        "CreateRelationship",
        lambda w: pb.CreateRelationshipRequest(
            relationship_type="enemy_of", from_party_id=w.person.party_id, to_party_id=w.org.party_id
        ),
        ("relationship_type",),
    ),
    (
        "relationship-wrong-kinds",
        "CreateRelationship",
        lambda w: pb.CreateRelationshipRequest(
            relationship_type="employee_of", from_party_id=w.org.party_id, to_party_id=w.person.party_id
        ),
        ("from_party_id", "to_party_id"),
    ),
    (
        "relationship-self",
        "CreateRelationship",
        lambda w: pb.CreateRelationshipRequest(
            relationship_type="relative_of", from_party_id=w.person.party_id, to_party_id=w.person.party_id
        ),
        ("to_party_id",),
    ),
    (
        "relationship-to-before-from",
        "CreateRelationship",
        lambda w: pb.CreateRelationshipRequest(
            relationship_type="contact_person_of",
            from_party_id=w.person.party_id,
            to_party_id=w.org.party_id,
            valid_from=d(days_ago(5)),
            valid_to=d(days_ago(6)),
        ),
        ("valid_to",),
    ),
    (
        "relationship-not-uuid",
        "CreateRelationship",
        lambda w: pb.CreateRelationshipRequest(
            relationship_type="contact_person_of", from_party_id=NOT_UUID, to_party_id=w.org.party_id
        ),
        ("from_party_id",),
    ),
    (
        "relationship-missing-role",
        "CreateRelationship",
        lambda w: pb.CreateRelationshipRequest(
            relationship_type="account_manager_of",
            from_party_id=w.person.party_id,
            to_party_id=w.org.party_id,
            valid_from=d(days_ago(350)),  # the person became an employee 300 days ago
        ),
        ("from_party_id",),
    ),
    (
        "end-relationship-not-uuid",
        "EndRelationship",
        lambda w: pb.EndRelationshipRequest(relationship_id=NOT_UUID),
        ("relationship_id",),
    ),
    (
        "end-relationship-before-start",
        "EndRelationship",
        lambda w: pb.EndRelationshipRequest(relationship_id=w.relationship_id, valid_to=d(days_ago(1000))),
        ("valid_to",),
    ),
    # -- attribute values ---------------------------------------------------------------------------
    (
        "set-attr-no-values",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(party_id=w.person.party_id),
        ("values",),
    ),
    (
        "set-attr-unknown",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(party_id=w.person.party_id, values=[attr("nope", text_value="x")]),
        ("values[0].code",),
    ),
    (
        "set-attr-wrong-type",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(party_id=w.person.party_id, values=[attr("bad_count", text_value="3")]),
        ("values[0].text_value",),
    ),
    (
        "set-attr-retired",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(party_id=w.person.party_id, values=[attr("bad_old", text_value="x")]),
        ("values[0].code",),
    ),
    (
        "set-attr-too-long",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(
            party_id=w.person.party_id, values=[attr("bad_note", text_value="x" * 21)]
        ),
        ("values[0].text_value",),
    ),
    (
        "set-attr-pattern",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(
            party_id=w.person.party_id, values=[attr("bad_code", text_value="ab-12")]
        ),
        ("values[0].text_value",),
    ),
    (
        "set-attr-decimal-bounds",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(
            party_id=w.person.party_id, values=[attr("bad_ratio", decimal_value="1.51")]
        ),
        ("values[0].decimal_value",),
    ),
    (
        "set-attr-decimal-garbage",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(
            party_id=w.person.party_id, values=[attr("bad_ratio", decimal_value="1e5")]
        ),
        ("values[0].decimal_value",),
    ),
    (
        "set-attr-nul",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(party_id=w.person.party_id, values=[attr("bad_note", text_value=NUL)]),
        ("values[0].text_value",),
    ),
    (
        "set-attr-twice",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(
            party_id=w.person.party_id, values=[attr("bad_count", number_value=1), attr("bad_count", number_value=2)]
        ),
        ("values[1].code",),
    ),
    (
        "set-attr-bad-date",
        "SetAttributeValues",
        lambda w: pb.SetAttributeValuesRequest(
            party_id=w.person.party_id, values=[attr("bad_count", number_value=1)], valid_from=BAD_DATE
        ),
        ("valid_from",),
    ),
    # -- consents and preferences -------------------------------------------------------------------
    (
        "consent-no-channel",
        "SetConsent",
        lambda w: pb.SetConsentRequest(
            party_id=w.person.party_id,
            consent=pb.Consent(purpose=pb.CONSENT_PURPOSE_MARKETING, status=pb.CONSENT_STATUS_GRANTED),
        ),
        ("consent.channel",),
    ),
    (
        "consent-unknown-status",
        "SetConsent",
        lambda w: pb.SetConsentRequest(
            party_id=w.person.party_id,
            consent=pb.Consent(channel=pb.CHANNEL_SMS, purpose=pb.CONSENT_PURPOSE_MARKETING, status=99),
        ),
        ("consent.status",),
    ),
    (
        "consent-not-uuid",
        "SetConsent",
        lambda w: pb.SetConsentRequest(party_id=NOT_UUID, consent=pb.Consent(channel=1, purpose=1, status=1)),
        ("party_id",),
    ),
    (
        "prefs-bad-tz",
        "SetContactPreferences",
        lambda w: pb.SetContactPreferencesRequest(
            party_id=w.person.party_id, preferences=pb.ContactPreferences(time_zone="Moscow")
        ),
        ("preferences.time_zone",),
    ),
    (
        "prefs-empty-quiet-window",
        "SetContactPreferences",
        lambda w: pb.SetContactPreferencesRequest(
            party_id=w.person.party_id,
            preferences=pb.ContactPreferences(quiet_hours=pb.QuietHours(start="09:00", end="09:00")),
        ),
        ("preferences.quiet_hours",),
    ),
    (
        "prefs-quiet-garbage",
        "SetContactPreferences",
        lambda w: pb.SetContactPreferencesRequest(
            party_id=w.person.party_id,
            preferences=pb.ContactPreferences(quiet_hours=pb.QuietHours(start="10pm", end="7am")),
        ),
        ("preferences.quiet_hours",),
    ),
    (
        "prefs-unknown-mask",
        "SetContactPreferences",
        lambda w: pb.SetContactPreferencesRequest(party_id=w.person.party_id, update_mask={"paths": ["shoe_size"]}),
        ("update_mask",),
    ),
    (
        "prefs-bad-language",
        "SetContactPreferences",
        lambda w: pb.SetContactPreferencesRequest(
            party_id=w.person.party_id, preferences=pb.ContactPreferences(preferred_language="russian language")
        ),
        ("preferences.preferred_language",),
    ),
    (
        "prefs-unknown-channel",
        "SetContactPreferences",
        lambda w: pb.SetContactPreferencesRequest(
            party_id=w.person.party_id, preferences=pb.ContactPreferences(preferred_channel=99)
        ),
        ("preferences.preferred_channel",),
    ),
    # -- vehicles -----------------------------------------------------------------------------------
    (
        "register-bad-vin-check",
        "RegisterVehicle",
        lambda w: pb.RegisterVehicleRequest(party_id=w.person.party_id, vehicle=pb.Vehicle(vin="1HGCM82633A00435X")),
        ("vehicle.vin",),
    ),
    (
        "register-vin-letter-o",
        "RegisterVehicle",
        lambda w: pb.RegisterVehicleRequest(party_id=w.person.party_id, vehicle=pb.Vehicle(vin="XTAOOOOOOOOOOOOOO")),
        ("vehicle.vin",),
    ),
    (
        "register-empty-vin",
        "RegisterVehicle",
        lambda w: pb.RegisterVehicleRequest(party_id=w.person.party_id, vehicle=pb.Vehicle()),
        ("vehicle.vin",),
    ),
    (
        "register-bad-year",
        "RegisterVehicle",
        lambda w: pb.RegisterVehicleRequest(party_id=w.person.party_id, vehicle=pb.Vehicle(vin=vin(), model_year=1800)),
        ("vehicle.model_year",),
    ),
    (
        "register-warranty-before-purchase",
        "RegisterVehicle",
        lambda w: pb.RegisterVehicleRequest(
            party_id=w.person.party_id,
            vehicle=pb.Vehicle(vin=vin(), purchase_date=d(days_ago(10)), warranty_end=d(days_ago(20))),
        ),
        ("vehicle.warranty_end",),
    ),
    (
        "register-unknown-ownership",
        "RegisterVehicle",
        lambda w: pb.RegisterVehicleRequest(
            party_id=w.person.party_id, vehicle=pb.Vehicle(vin=vin()), ownership_type=99
        ),
        ("ownership_type",),
    ),
    (
        "register-sql-make",
        "RegisterVehicle",
        lambda w: pb.RegisterVehicleRequest(party_id=w.person.party_id, vehicle=pb.Vehicle(vin=vin(), make="x" * 101)),
        ("vehicle.make",),
    ),
    (
        "transfer-not-uuid",
        "TransferVehicle",
        lambda w: pb.TransferVehicleRequest(vehicle_id=NOT_UUID, to_party_id=w.org.party_id),
        ("vehicle_id",),
    ),
    (
        "transfer-unknown-ownership",
        "TransferVehicle",
        lambda w: pb.TransferVehicleRequest(vehicle_id=w.vehicle_id, to_party_id=w.org.party_id, ownership_type=99),
        ("ownership_type",),
    ),
    (
        "transfer-bad-date",
        "TransferVehicle",
        lambda w: pb.TransferVehicleRequest(
            vehicle_id=w.vehicle_id, to_party_id=w.org.party_id, transfer_date=BAD_DATE
        ),
        ("transfer_date",),
    ),
    (
        "transfer-before-ownership",
        "TransferVehicle",
        lambda w: pb.TransferVehicleRequest(
            vehicle_id=w.vehicle_id, to_party_id=w.org.party_id, transfer_date=d(days_ago(300))
        ),
        ("transfer_date",),
    ),
    (
        "mileage-negative",
        "RecordMileage",
        lambda w: pb.RecordMileageRequest(vehicle_id=w.vehicle_id, kilometres=-1),
        ("kilometres",),
    ),
    (
        "mileage-rollback",
        "RecordMileage",
        lambda w: pb.RecordMileageRequest(vehicle_id=w.vehicle_id, kilometres=19_000),
        ("kilometres",),
    ),
    (
        "mileage-future",
        "RecordMileage",
        lambda w: pb.RecordMileageRequest(
            vehicle_id=w.vehicle_id, kilometres=30_000, read_on=d(today().replace(year=today().year + 1))
        ),
        ("read_on",),
    ),
    ("get-vehicle-no-key", "GetVehicle", lambda w: pb.GetVehicleRequest(), ("key",)),
    ("get-vehicle-bad-vin", "GetVehicle", lambda w: pb.GetVehicleRequest(vin="SHORT"), ("vin",)),
    ("get-vehicle-not-uuid", "GetVehicle", lambda w: pb.GetVehicleRequest(vehicle_id=NOT_UUID), ("vehicle_id",)),
    # -- catalogues ---------------------------------------------------------------------------------
    (
        "define-attr-bad-code",
        "DefineAttribute",
        lambda w: attr_def("Bad Code", pb.ATTRIBUTE_VALUE_TYPE_TEXT),
        ("definition.code",),
    ),
    ("define-attr-unknown-type", "DefineAttribute", lambda w: attr_def("x_type", 99), ("definition.value_type",)),
    (
        "define-attr-enum-no-values",
        "DefineAttribute",
        lambda w: attr_def("x_enum", pb.ATTRIBUTE_VALUE_TYPE_ENUM),
        ("definition.validation.allowed_values",),
    ),
    (
        "define-attr-min-over-max",
        "DefineAttribute",
        lambda w: attr_def("x_dec", pb.ATTRIBUTE_VALUE_TYPE_DECIMAL, min="5", max="1"),
        ("definition.validation.max",),
    ),
    (
        "define-attr-bad-regex",
        "DefineAttribute",
        lambda w: attr_def("x_re", pb.ATTRIBUTE_VALUE_TYPE_TEXT, pattern="(["),
        ("definition.validation.pattern",),
    ),
    (
        "define-attr-pattern-on-number",
        "DefineAttribute",
        lambda w: attr_def("x_num", pb.ATTRIBUTE_VALUE_TYPE_NUMBER, pattern=r"\d+"),
        ("definition.validation.pattern",),
    ),
    (
        "define-attr-no-kinds",
        "DefineAttribute",
        lambda w: pb.DefineAttributeRequest(
            definition=pb.AttributeDefinition(code="x_kinds", name="x", value_type=pb.ATTRIBUTE_VALUE_TYPE_TEXT)
        ),
        ("definition.applies_to",),
    ),
    (
        "define-attr-unknown-kind",
        "DefineAttribute",
        lambda w: pb.DefineAttributeRequest(
            definition=pb.AttributeDefinition(
                code="x_kind", name="x", value_type=pb.ATTRIBUTE_VALUE_TYPE_TEXT, applies_to=[99]
            )
        ),
        ("definition.applies_to",),
    ),
    (
        "define-attr-nul-name",
        "DefineAttribute",
        lambda w: pb.DefineAttributeRequest(
            definition=pb.AttributeDefinition(
                code="x_nul", name=NUL, value_type=pb.ATTRIBUTE_VALUE_TYPE_TEXT, applies_to=[1]
            )
        ),
        ("definition.name",),
    ),
    ("retire-bad-code", "RetireAttribute", lambda w: pb.RetireAttributeRequest(code=SQL), ("code",)),
    (
        "define-role-bad-code",
        "DefineRoleType",
        lambda w: pb.DefineRoleTypeRequest(role_type=pb.RoleType(code="Bad Role", name="x")),
        ("role_type.code",),
    ),
    (
        "define-role-no-name",
        "DefineRoleType",
        lambda w: pb.DefineRoleTypeRequest(role_type=pb.RoleType(code="no_name")),
        ("role_type.name",),
    ),
    (
        "define-role-unknown-kind",
        "DefineRoleType",
        lambda w: pb.DefineRoleTypeRequest(role_type=pb.RoleType(code="odd_kind", name="x", applies_to=[99])),
        ("role_type.applies_to[0]",),
    ),
    (
        "define-reltype-bad-code",
        "DefineRelationshipType",
        lambda w: pb.DefineRelationshipTypeRequest(relationship_type=pb.RelationshipType(code="1x", name="x")),
        ("relationship_type.code",),
    ),
    (
        "define-reltype-unknown-role",
        "DefineRelationshipType",
        lambda w: pb.DefineRelationshipTypeRequest(
            relationship_type=pb.RelationshipType(code="mentor_of", name="mentor of", from_roles=["wizard"])
        ),
        ("relationship_type.from_roles[0]",),
    ),
    (
        "define-reltype-symmetric-inverse",
        "DefineRelationshipType",
        lambda w: pb.DefineRelationshipTypeRequest(
            relationship_type=pb.RelationshipType(
                code="friend_of", name="friend of", inverse_name="befriended by", symmetric=True
            )
        ),
        ("relationship_type.inverse_name",),
    ),
    # -- AnonymizeParty -----------------------------------------------------------------------------
    (
        "anonymize-no-erasure-id",
        "AnonymizeParty",
        lambda w: pb.AnonymizePartyRequest(party_id=w.person.party_id),
        ("erasure_id",),
    ),
    (
        "anonymize-not-uuid",
        "AnonymizeParty",
        lambda w: pb.AnonymizePartyRequest(party_id=NOT_UUID, erasure_id="e-1"),
        ("party_id",),
    ),
    # -- merges ---------------------------------------------------------------------------------------
    (
        "merge-with-itself",
        "MergeParties",
        lambda w: pb.MergePartiesRequest(survivor_party_id=w.person.party_id, merged_party_id=w.person.party_id),
        ("merged_party_id",),
    ),
    (
        "merge-missing-ids",
        "MergeParties",
        lambda w: pb.MergePartiesRequest(merged_party_id=NOT_UUID),
        ("survivor_party_id", "merged_party_id"),
    ),
    (
        "merge-hostile-choice",
        "MergeParties",
        lambda w: pb.MergePartiesRequest(
            survivor_party_id=w.person.party_id,
            merged_party_id=w.org.party_id,
            field_choices=[pb.FieldChoice(field="'; DROP TABLE parties.party; --" + LONG, take=pb.MERGE_SIDE_MERGED)],
        ),
        ("field_choices[0].field",),
    ),
    ("unmerge-not-uuid", "UnmergeParties", lambda w: pb.UnmergePartiesRequest(merge_id=NOT_UUID), ("merge_id",)),
    ("list-merges-missing", "ListMerges", lambda w: pb.ListMergesRequest(), ("party_id",)),
    (
        "not-duplicate-same",
        "MarkNotDuplicate",
        lambda w: pb.MarkNotDuplicateRequest(party_id=w.person.party_id, other_party_id=w.person.party_id),
        ("other_party_id",),
    ),
    # -- duplicates (more in test_duplicates.py) ---------------------------------------------------------
    ("check-duplicates-empty", "CheckDuplicates", lambda w: pb.CheckDuplicatesRequest(), ("subject",)),
    (
        "check-duplicates-hostile-candidate",
        "CheckDuplicates",
        lambda w: pb.CheckDuplicatesRequest(candidate=create_person_req(profile=long_name_person())),
        ("candidate.person.name.last_name",),
    ),
    ("list-cases-bad-status", "ListDuplicateCases", lambda w: pb.ListDuplicateCasesRequest(status=42), ("status",)),
    ("get-case-not-uuid", "GetDuplicateCase", lambda w: pb.GetDuplicateCaseRequest(case_id=NOT_UUID), ("case_id",)),
    (
        "decide-case-nothing",
        "DecideDuplicateCase",
        lambda w: pb.DecideDuplicateCaseRequest(case_id=NOT_UUID),
        ("case_id", "resolution"),
    ),
    (
        "resolve-case-no-request-id",
        "ResolveDuplicateCase",
        lambda w: pb.ResolveDuplicateCaseRequest(
            case_id=w.person.party_id, resolution=pb.DUPLICATE_CASE_RESOLUTION_NOT_DUPLICATE
        ),
        ("request_id",),
    ),
    (
        "note-sla-no-stage",
        "NoteDuplicateCaseSla",
        lambda w: pb.NoteDuplicateCaseSlaRequest(case_id=NOT_UUID),
        ("stage",),
    ),
]


@pytest.mark.parametrize(("rpc", "build", "fields"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_and_writes_nothing(parties, db: Db, world: World, rpc, build, fields):
    before = db.counts()
    await invalid(getattr(parties, rpc)(build(world)), *fields)
    assert db.counts() == before


def test_every_unary_rpc_has_a_bad_input_case():
    covered = {c[1] for c in CASES}
    skipped = {
        # No input to get wrong.
        "ListAttributeDefinitions",
        "ListRoleTypes",
        "ListRelationshipTypes",
        # Temporal-backed erasure requests are tested with the workflows.
        "RequestErasure",
        "CancelErasure",
        "GetErasureStatus",
        # Client streaming: bad rows are reported per row (test_import.py).
        "ImportParties",
        # Server streaming: its bad input is tested in test_duplicates.py.
        "FindDuplicates",
    }
    methods = {m.name for m in pb.DESCRIPTOR.services_by_name["PartiesService"].methods}
    assert methods - skipped - covered == set()


async def test_sql_text_is_stored_verbatim_where_text_is_allowed(parties, db: Db, world: World):
    await parties.DefineAttribute(attr_def("hostile_note", pb.ATTRIBUTE_VALUE_TYPE_TEXT))
    resp = await parties.SetAttributeValues(
        pb.SetAttributeValuesRequest(party_id=world.person.party_id, values=[attr("hostile_note", text_value=SQL)])
    )
    assert resp.values[0].text_value == SQL
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=world.person.party_id))).party
    assert {a.code: a.text_value for a in got.attributes}["hostile_note"] == SQL
    org = (await parties.CreateParty(create_org_req(name=SQL, form=""))).party
    assert org.organization.legal_name == SQL
    assert (
        db.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'parties' AND table_name = 'party'"
        )
        == 1
    )
    assert db.scalar("SELECT count(*) FROM parties.party") >= 3
    found = await parties.SearchParties(pb.SearchPartiesRequest(query="Robert DROP TABLE"))
    assert org.party_id in [h.party.party_id for h in found.hits]


async def test_unknown_but_valid_ids_are_not_found(parties, db: Db, world: World):
    before = db.counts()
    for call in (
        parties.GetParty(pb.GetPartyRequest(party_id=UNKNOWN_ID)),
        parties.GetPartyCard(pb.GetPartyCardRequest(party_id=UNKNOWN_ID)),
        parties.UpdateParty(
            pb.UpdatePartyRequest(party_id=UNKNOWN_ID, person=pb.Person(name=pb.PersonName(last_name="Петров")))
        ),
        parties.AssignRole(pb.AssignRoleRequest(party_id=UNKNOWN_ID, role_type="customer")),
        parties.EndRole(pb.EndRoleRequest(party_id=world.person.party_id, role_id=UNKNOWN_ID)),
        parties.EndIdentifier(pb.EndIdentifierRequest(party_id=world.person.party_id, identifier_id=UNKNOWN_ID)),
        parties.EndRelationship(pb.EndRelationshipRequest(relationship_id=UNKNOWN_ID)),
        parties.GetVehicle(pb.GetVehicleRequest(vehicle_id=UNKNOWN_ID)),
        parties.RecordMileage(pb.RecordMileageRequest(vehicle_id=UNKNOWN_ID, kilometres=1)),
        parties.RetireAttribute(pb.RetireAttributeRequest(code="never_defined")),
        parties.GetFieldHistory(pb.GetFieldHistoryRequest(party_id=UNKNOWN_ID, field="person.name.last_name")),
        parties.GetFieldHistory(
            pb.GetFieldHistoryRequest(party_id=world.person.party_id, field=f"identifiers/{UNKNOWN_ID}")
        ),
        parties.AnonymizeParty(pb.AnonymizePartyRequest(party_id=UNKNOWN_ID, erasure_id="e-1")),
        parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="dealer_of", from_party_id=world.org.party_id, to_party_id=UNKNOWN_ID
            )
        ),
    ):
        await rpc_error(call, grpc.StatusCode.NOT_FOUND)
    assert db.counts() == before


async def test_other_identifiers_and_ogrnip_are_accepted(parties):
    # The positive twins of the check-digit cases above: the same generators give accepted numbers.
    p = await new_person(
        parties,
        identifiers=[
            pb.Identifier(type=pb.IDENTIFIER_TYPE_OGRNIP, value=ogrnip()),
            pb.Identifier(type=pb.IDENTIFIER_TYPE_SNILS, value=snils()),
        ],
    )
    assert len(p.identifiers) == 2
    o = await new_org(parties, "Василёк", identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_OGRN, value=ogrn())])
    assert len(o.identifiers) == 1
