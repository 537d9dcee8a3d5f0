"""CreateParty and GetParty over real gRPC: every kind with its initial facts, normalization of what
clients type, the fixed kind, and idempotent retries (also when they race)."""

from __future__ import annotations

import asyncio

import grpc

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.grpc_errors import existing_resource
from tests.parties.support import (
    create_group_req,
    create_org_req,
    create_person_req,
    ctx,
    d,
    days_ago,
    invalid,
    kpp,
    new_org,
    new_person,
    ogrn,
    org_inn,
    person,
    person_inn,
    rid,
    rpc_error,
    snils,
)


async def define_attributes(parties) -> None:
    for code, value_type, kinds, validation in (
        ("create_nickname", pb.ATTRIBUTE_VALUE_TYPE_TEXT, [pb.PARTY_KIND_PERSON], pb.AttributeValidation()),
        (
            "create_tier",
            pb.ATTRIBUTE_VALUE_TYPE_ENUM,
            [pb.PARTY_KIND_PERSON, pb.PARTY_KIND_ORGANIZATION],
            pb.AttributeValidation(allowed_values=["silver", "gold"]),
        ),
        ("create_employees", pb.ATTRIBUTE_VALUE_TYPE_NUMBER, [pb.PARTY_KIND_ORGANIZATION], pb.AttributeValidation()),
        ("create_topic", pb.ATTRIBUTE_VALUE_TYPE_TEXT, [pb.PARTY_KIND_GROUP], pb.AttributeValidation()),
    ):
        await parties.DefineAttribute(
            pb.DefineAttributeRequest(
                definition=pb.AttributeDefinition(
                    code=code, name=code, value_type=value_type, applies_to=kinds, validation=validation
                )
            )
        )


async def test_create_person_with_everything(parties, db):
    await define_attributes(parties)
    inn, sn = person_inn(), snils()
    req = create_person_req(
        profile=person("Щербаков", "Юрий", "Петрович", latin=("Shcherbakov", "Iurii"), birth="1980-05-17"),
        identifiers=[
            pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value=f"{inn[:4]} {inn[4:]}"),
            pb.Identifier(type=pb.IDENTIFIER_TYPE_SNILS, value=f"{sn[:3]}-{sn[3:6]}-{sn[6:9]} {sn[9:]}"),
            pb.Identifier(type=pb.IDENTIFIER_TYPE_PASSPORT, value="45 06 123456", issuer="ОВД Тверского района"),
        ],
        contact_points=[
            pb.ContactPoint(phone="8 (916) 123-45-67", primary=True, purpose=pb.CONTACT_PURPOSE_PERSONAL),
            pb.ContactPoint(phone="+7 727 258 1234", purpose=pb.CONTACT_PURPOSE_WORK),
            pb.ContactPoint(email="Yuri.Shcherbakov@Example.COM", primary=True),
            pb.ContactPoint(
                address=pb.PostalAddress(country_code="ru", postal_code="101000", city="Москва", street="Мясницкая")
            ),
            pb.ContactPoint(messenger=pb.MessengerHandle(messenger=pb.MESSENGER_TELEGRAM, handle="@YuriSh")),
        ],
        role_types=["customer", "prospect"],
        attributes=[
            pb.AttributeValue(code="create_nickname", text_value="Юра"),
            pb.AttributeValue(code="create_tier", enum_value="gold"),
        ],
        consents=[
            pb.Consent(
                channel=pb.CHANNEL_EMAIL,
                purpose=pb.CONSENT_PURPOSE_MARKETING,
                status=pb.CONSENT_STATUS_GRANTED,
                evidence="form 17",
            )
        ],
        preferences=pb.ContactPreferences(
            time_zone="europe/moscow",
            quiet_hours=pb.QuietHours(start="22:00", end="09:00"),
            preferred_channel=pb.CHANNEL_EMAIL,
            preferred_language="RU_ru",
        ),
        valid_from=d(days_ago(30)),
    )
    created = (await parties.CreateParty(req)).party
    assert created.kind == pb.PARTY_KIND_PERSON
    assert created.status == pb.PARTY_STATUS_ACTIVE
    assert created.version == 1
    assert created.display_name == "Щербаков Юрий Петрович"

    got = (await parties.GetParty(pb.GetPartyRequest(party_id=created.party_id))).party
    assert got == created, "the create reply is built in memory; it must equal a fresh read"
    assert got.person.name.last_name == "Щербаков"
    assert got.person.latin_name.last_name == "Shcherbakov"
    assert got.person.gender == pb.GENDER_MALE
    assert (got.person.birth_date.year, got.person.birth_date.month, got.person.birth_date.day) == (1980, 5, 17)
    ids = {i.type: i for i in got.identifiers}
    assert ids[pb.IDENTIFIER_TYPE_INN].value == inn
    assert ids[pb.IDENTIFIER_TYPE_SNILS].value == sn
    assert ids[pb.IDENTIFIER_TYPE_PASSPORT].value == "4506123456"
    assert ids[pb.IDENTIFIER_TYPE_PASSPORT].issuer == "ОВД Тверского района"
    assert ids[pb.IDENTIFIER_TYPE_INN].validity.valid_from == d(days_ago(30))
    assert all(i.identifier_id and i.recorded.actor == "user:test" for i in got.identifiers)

    phones = {c.phone: c for c in got.contact_points if c.WhichOneof("value") == "phone"}
    assert set(phones) == {"+79161234567", "+77272581234"}
    assert phones["+79161234567"].primary
    assert phones["+77272581234"].purpose == pb.CONTACT_PURPOSE_WORK
    emails = [c.email for c in got.contact_points if c.WhichOneof("value") == "email"]
    assert emails == ["yuri.shcherbakov@example.com"]
    address = next(c.address for c in got.contact_points if c.WhichOneof("value") == "address")
    assert address.country_code == "RU"
    assert address.full_text  # composed by the service
    messenger = next(c.messenger for c in got.contact_points if c.WhichOneof("value") == "messenger")
    assert messenger.handle == "yurish"
    assert all(c.type != pb.CONTACT_POINT_TYPE_UNSPECIFIED for c in got.contact_points)

    assert sorted(r.role_type for r in got.roles) == ["customer", "prospect"]
    attrs = {a.code: a for a in got.attributes}
    assert attrs["create_nickname"].text_value == "Юра"
    assert attrs["create_tier"].enum_value == "gold"
    assert got.preferences.time_zone == "Europe/Moscow"
    assert got.preferences.quiet_hours.start == "22:00"
    assert got.preferences.quiet_hours.end == "09:00"
    assert got.preferences.preferred_channel == pb.CHANNEL_EMAIL
    assert got.preferences.preferred_language == "ru-RU"

    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=created.party_id))).card
    assert [(c.channel, c.purpose, c.status, c.evidence) for c in card.consents] == [
        (pb.CHANNEL_EMAIL, pb.CONSENT_PURPOSE_MARKETING, pb.CONSENT_STATUS_GRANTED, "form 17")
    ]

    # The +7 7xx number is Kazakh, although it shares Russia's country code.
    region = db.sql(
        "SELECT data->>'region' FROM parties.item WHERE section = 'contact_point' "
        f"AND key2 = '+77272581234' AND party_id = '{created.party_id}'"
    )
    assert region == "KZ"
    region_ru = db.sql(
        "SELECT data->>'region' FROM parties.item WHERE section = 'contact_point' "
        f"AND key2 = '+79161234567' AND party_id = '{created.party_id}'"
    )
    assert region_ru == "RU"


async def test_phone_notations_normalize_to_e164(parties):
    notations = ["8 (916) 555-12-34", "+7 916 555 12 34", "89165551234", "+7(916)555-12-34", "7 916 555.12.34"]
    for i, raw in enumerate(notations):
        party = await new_person(parties, contact_points=[pb.ContactPoint(phone=raw)], request_id=rid(f"ph{i}"))
        assert [c.phone for c in party.contact_points] == ["+79165551234"], raw
    kz = await new_person(parties, contact_points=[pb.ContactPoint(phone="8 701 123 45 67")])
    assert kz.contact_points[0].phone == "+77011234567"


async def test_create_organization(parties):
    inn, og, k = org_inn(), ogrn(), kpp()
    created = (
        await parties.CreateParty(
            create_org_req(
                "Ромашка",
                identifiers=[
                    pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value=inn),
                    pb.Identifier(type=pb.IDENTIFIER_TYPE_OGRN, value=og),
                    pb.Identifier(type=pb.IDENTIFIER_TYPE_KPP, value=k),
                    pb.Identifier(type=pb.IDENTIFIER_TYPE_OTHER, other_type="de-steuer-id", value="DE 123"),
                ],
                contact_points=[pb.ContactPoint(email="info@romashka.ru", purpose=pb.CONTACT_PURPOSE_LEGAL)],
                role_types=["dealer", "customer"],
                attributes=[
                    pb.AttributeValue(code="create_employees", number_value=250),
                    pb.AttributeValue(code="create_tier", enum_value="silver"),
                ],
            )
        )
    ).party
    assert created.kind == pb.PARTY_KIND_ORGANIZATION
    assert created.display_name == "ООО «Ромашка»"
    assert created.organization.legal_form == "ООО"
    assert {i.type: i.value for i in created.identifiers} == {
        pb.IDENTIFIER_TYPE_INN: inn,
        pb.IDENTIFIER_TYPE_OGRN: og,
        pb.IDENTIFIER_TYPE_KPP: k,
        pb.IDENTIFIER_TYPE_OTHER: "DE 123",
    }
    other = next(i for i in created.identifiers if i.type == pb.IDENTIFIER_TYPE_OTHER)
    assert other.other_type == "DE-STEUER-ID"
    assert sorted(r.role_type for r in created.roles) == ["customer", "dealer"]
    assert {a.code: a.number_value for a in created.attributes if a.code == "create_employees"} == {
        "create_employees": 250
    }


async def test_create_group_with_members(parties):
    a = await new_person(parties)
    b = await new_org(parties, "Лютик")
    group = (
        await parties.CreateParty(
            create_group_req(
                "Клуб Нива",
                members=[a.party_id, b.party_id],
                attributes=[pb.AttributeValue(code="create_topic", text_value="4x4")],
                role_types=["customer"],
            )
        )
    ).party
    assert group.kind == pb.PARTY_KIND_GROUP
    assert group.display_name == "Клуб Нива"
    assert sorted(group.group.member_party_ids) == sorted([a.party_id, b.party_id])
    assert [x.text_value for x in group.attributes] == ["4x4"]
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=a.party_id))).card
    assert [(r.relationship.relationship_type, r.label, r.counterpart.party_id) for r in card.relationships] == [
        ("member_of", "member of", group.party_id)
    ]
    # A group cannot hold an official identifier, nor be a member of a group.
    await invalid(
        parties.CreateParty(
            create_group_req(identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value=org_inn())])
        ),
        "identifiers[0]",
    )
    await invalid(parties.CreateParty(create_group_req(members=[group.party_id])), "group.member_party_ids")


async def test_unknown_group_member_is_not_found(parties, db):
    before = db.counts()
    await rpc_error(
        parties.CreateParty(create_group_req(members=["6f1c1d1e-0000-4000-8000-000000000000"])),
        grpc.StatusCode.NOT_FOUND,
    )
    assert db.counts() == before


async def test_kind_is_fixed(parties, db):
    p = await new_person(parties)
    before = db.counts()
    await invalid(
        parties.UpdateParty(
            pb.UpdatePartyRequest(party_id=p.party_id, organization=pb.Organization(legal_name="ООО Ромашка"))
        ),
        "organization",
    )
    await invalid(
        parties.UpdateParty(pb.UpdatePartyRequest(party_id=p.party_id, group=pb.Group(name="Клуб"))),
        "group",
    )
    assert db.counts() == before
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert got.kind == pb.PARTY_KIND_PERSON and got.version == 1


async def test_retry_with_same_request_id_returns_same_party(parties, db):
    req = create_person_req(identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value=person_inn())])
    first = (await parties.CreateParty(req)).party
    before = db.counts()
    second = (await parties.CreateParty(req)).party
    assert second == first
    assert db.counts() == before


async def test_concurrent_retries_create_exactly_one_party(parties, db):
    inn = person_inn()
    req = create_person_req(
        profile=person("Гонкова", "Ирина", "Сергеевна", gender=pb.GENDER_FEMALE),
        identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value=inn)],
        contact_points=[pb.ContactPoint(phone="+7 916 000 11 22")],
        context=ctx(),
    )
    before = db.scalar("SELECT count(*) FROM parties.party")
    results = await asyncio.gather(*(parties.CreateParty(req) for _ in range(8)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    ids = {r.party.party_id for r in results}  # type: ignore[union-attr]
    assert len(ids) == 1
    assert db.scalar("SELECT count(*) FROM parties.party") == before + 1
    found = await parties.SearchParties(
        pb.SearchPartiesRequest(identifier_type=pb.IDENTIFIER_TYPE_INN, identifier_value=inn)
    )
    assert [h.party.party_id for h in found.hits] == list(ids)


async def test_concurrent_creates_with_same_inn_one_wins(parties, db):
    inn = person_inn()
    reqs = [create_person_req(identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value=inn)]) for _ in range(4)]
    results = await asyncio.gather(*(parties.CreateParty(r) for r in reqs), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    winner = winners[0].party.party_id
    for err in losers:
        assert isinstance(err, grpc.aio.AioRpcError) and err.code() == grpc.StatusCode.ALREADY_EXISTS, err
        assert existing_resource(err) == winner
    assert db.scalar(f"SELECT count(*) FROM parties.item WHERE key2 = '{inn}'") == 1


async def test_group_membership_is_a_change_of_the_member(parties, db):
    member = await new_person(parties)
    group = (await parties.CreateParty(create_group_req("Клуб любителей", members=[member.party_id]))).party
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=member.party_id))).party
    assert got.version == member.version + 1
    changes = (await parties.ListChanges(pb.ListChangesRequest(party_ids=[member.party_id]))).changes
    assert [c.change_type for c in changes] == ["party.created", "relationship.created"]
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=group.party_id))).card
    assert changes[-1].fields == [f"relationships/{card.relationships[0].relationship.relationship_id}"]
    assert card.relationships[0].label == "has member"

    erased = await new_person(parties)
    await parties.AnonymizeParty(pb.AnonymizePartyRequest(party_id=erased.party_id, erasure_id="e-member"))
    before = db.counts()
    await rpc_error(
        parties.CreateParty(create_group_req("Клуб призраков", members=[erased.party_id])),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert db.counts() == before
