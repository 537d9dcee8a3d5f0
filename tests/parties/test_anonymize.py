"""AnonymizeParty called directly: a person's personal data becomes "[erased]" in every historical
version while the history keeps its shape, search forgets the person, the feed says party.erased, a
second call is a no-op, and organizations have no personal data to erase."""

from __future__ import annotations

import json

import grpc
from google.protobuf import field_mask_pb2

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import (
    create_person_req,
    d,
    days_ago,
    inn_id,
    new_org,
    new_person,
    person,
    person_inn,
    rpc_error,
    snils,
)

ERASED = "[erased]"


async def history(parties, party_id: str, field: str) -> list[pb.HistoryEntry]:
    return list((await parties.GetFieldHistory(pb.GetFieldHistoryRequest(party_id=party_id, field=field))).entries)


def shape(entries: list[pb.HistoryEntry]) -> list[tuple]:
    return [
        (
            e.validity.SerializeToString(deterministic=True),
            e.recorded_at.SerializeToString(),
            e.superseded_at.SerializeToString(),
            e.actor,
            e.source,
        )
        for e in entries
    ]


async def test_anonymize_person(parties, db):
    inn, sn = person_inn(), snils()
    p = (
        await parties.CreateParty(
            original := create_person_req(
                profile=person("Забытова", "Евгения", "Марковна", latin=("Zabytova", "Evgeniia"), birth="1977-07-07"),
                identifiers=[inn_id(inn), pb.Identifier(type=pb.IDENTIFIER_TYPE_SNILS, value=sn)],
                contact_points=[
                    pb.ContactPoint(phone="+7 916 246 80 13", primary=True),
                    pb.ContactPoint(email="zabytova@example.com"),
                    pb.ContactPoint(address=pb.PostalAddress(country_code="RU", city="Тверь", street="Советская")),
                ],
                consents=[pb.Consent(channel=1, purpose=1, status=1, evidence="paper form signed by Zabytova")],
                preferences=pb.ContactPreferences(time_zone="Europe/Moscow"),
                role_types=["customer"],
                valid_from=d(days_ago(300)),
            )
        )
    ).party
    pid = p.party_id
    await parties.UpdateParty(
        pb.UpdatePartyRequest(
            party_id=pid,
            person=pb.Person(name=pb.PersonName(last_name="Помнящая")),
            update_mask=field_mask_pb2.FieldMask(paths=["name.last_name"]),
            valid_from=d(days_ago(100)),
        )
    )
    phone_id = next(c.contact_point_id for c in p.contact_points if c.phone)
    await parties.UpdateContactPoint(
        pb.UpdateContactPointRequest(
            party_id=pid, contact_point_id=phone_id, contact_point=pb.ContactPoint(phone="+7 916 246 80 14")
        )
    )
    org = await new_org(parties, "Работа")
    await parties.CreateRelationship(
        pb.CreateRelationshipRequest(relationship_type="contact_person_of", from_party_id=pid, to_party_id=org.party_id)
    )
    fields = ["person.name.last_name", "person.name.first_name", "person.latin_name.last_name", "person.birth_date"]
    before = {f: await history(parties, pid, f) for f in fields}
    inn_id_ = next(i.identifier_id for i in p.identifiers if i.type == pb.IDENTIFIER_TYPE_INN)
    item_fields = [f"identifiers/{inn_id_}", f"contact_points/{phone_id}"]
    items_before = {f: await history(parties, pid, f) for f in item_fields}
    assert len(items_before[f"contact_points/{phone_id}"]) == 3
    assert len(before["person.name.last_name"]) == 3
    counts_before = db.counts()

    resp = await parties.AnonymizeParty(pb.AnonymizePartyRequest(party_id=pid, erasure_id=f"party-erasure/{pid}"))
    assert resp.erased_now
    assert resp.records_anonymized > 0
    assert resp.HasField("erased_at")

    for f in fields:
        after = await history(parties, pid, f)
        assert shape(after) == shape(before[f]), f"{f}: same entries, dates and authors"
        assert {json.loads(e.value_json) for e in after} == {ERASED}, f
    for f, entries in items_before.items():
        after = await history(parties, pid, f)
        assert shape(after) == shape(entries), f
        for e in after:
            value = json.loads(e.value_json)
            assert value.get("erased") is True, value
            assert not {"phone", "email", "address", "value", "issuer"} & set(value), value

    got = (await parties.GetParty(pb.GetPartyRequest(party_id=pid))).party
    assert got.status == pb.PARTY_STATUS_ERASED
    assert got.display_name == ERASED
    assert got.person.name.last_name == ERASED and got.person.name.first_name == ERASED
    assert got.person.latin_name.last_name == ERASED
    assert not got.person.HasField("birth_date")
    assert {i.value for i in got.identifiers} == {ERASED}
    assert len(got.identifiers) == 2
    assert len(got.contact_points) == 3
    for c in got.contact_points:
        which = c.WhichOneof("value")
        shown = {"phone": c.phone, "email": c.email, "address": c.address.full_text, None: ""}[which]
        assert shown == ERASED, c
    assert [r.role_type for r in got.roles] == ["customer"], "roles are not personal data"
    old = (
        await parties.GetParty(pb.GetPartyRequest(party_id=pid, as_of=d(days_ago(200)), known_at=p.created_at))
    ).party
    assert old.person.name.last_name == ERASED
    assert old.display_name == ERASED

    # No trace of the personal data is left in the service's tables.
    dump = db.sql(
        "SELECT string_agg(t::text, ' ') FROM ("
        f"SELECT f::text AS t FROM parties.fact f WHERE party_id = '{pid}' UNION ALL "
        f"SELECT i::text FROM parties.item i WHERE party_id = '{pid}' UNION ALL "
        f"SELECT p::text FROM parties.party p WHERE party_id = '{pid}' UNION ALL "
        f"SELECT c::text FROM parties.change c WHERE party_id = '{pid}' UNION ALL "
        "SELECT encode(response, 'escape') FROM parties.idempotency) x"
    )
    for secret in (
        "Забытова",
        "Помнящая",
        "Евгения",
        "Zabytova",
        "1977-07-07",
        inn,
        sn,
        "79162468013",
        "79162468014",
        "zabytova@example.com",
        "Советская",
        "signed by",
    ):
        assert secret not in dump, secret
    # A late retry of the original create is still answered, with the erased party, not a new person.
    retried = (await parties.CreateParty(original)).party
    assert retried.party_id == pid and retried.status == pb.PARTY_STATUS_ERASED
    assert "Забытова" not in str(retried)

    counts_after = db.counts()
    for table in ("party", "fact", "item", "relationship", "change"):
        assert counts_after[table] >= counts_before[table], table
    assert counts_after["fact"] == counts_before["fact"], "anonymizing rewrites rows, it adds no versions"

    # Search no longer finds the person.
    for req in (
        pb.SearchPartiesRequest(query="Забытова"),
        pb.SearchPartiesRequest(query="Zabytova Evgeniia"),
        pb.SearchPartiesRequest(phone="+79162468014"),
        pb.SearchPartiesRequest(email="zabytova@example.com"),
        pb.SearchPartiesRequest(identifier_type=pb.IDENTIFIER_TYPE_INN, identifier_value=inn),
    ):
        assert pid not in [h.party.party_id for h in (await parties.SearchParties(req)).hits], req

    changes = (await parties.ListChanges(pb.ListChangesRequest(party_ids=[pid]))).changes
    assert changes[-1].change_type == "party.erased"
    assert changes[-1].party_version == got.version

    again = await parties.AnonymizeParty(pb.AnonymizePartyRequest(party_id=pid, erasure_id=f"party-erasure/{pid}"))
    assert not again.erased_now
    assert again.erased_at == resp.erased_at
    assert again.records_anonymized == resp.records_anonymized
    assert len((await parties.ListChanges(pb.ListChangesRequest(party_ids=[pid]))).changes) == len(changes)

    # The INN is free again: it no longer identifies anybody.
    newcomer = await new_person(parties, identifiers=[inn_id(inn)])
    assert newcomer.identifiers[0].value == inn
    # The relationship itself stays (it is not personal data), with its counterpart shown as erased.
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=org.party_id))).card
    assert [(r.label, r.counterpart.display_name) for r in card.relationships] == [("has contact person", ERASED)]


async def test_anonymize_organization_is_refused(parties, db):
    org = await new_org(parties, "Не персона")
    before = db.counts()
    await rpc_error(
        parties.AnonymizeParty(pb.AnonymizePartyRequest(party_id=org.party_id, erasure_id="e-org")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert db.counts() == before
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=org.party_id))).party
    assert got.status == pb.PARTY_STATUS_ACTIVE
