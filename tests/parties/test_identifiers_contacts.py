"""Identifiers (uniqueness, KPP sharing, ending and handing over) and contact points (add, update as a
new version, primary demotion, end)."""

from __future__ import annotations

import asyncio
import json

import grpc

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.grpc_errors import existing_resource
from tests.parties.support import (
    already_exists,
    create_org_req,
    create_person_req,
    d,
    days_ago,
    inn_id,
    invalid,
    kpp,
    new_org,
    new_person,
    org_inn,
    person_inn,
    rpc_error,
    today,
)


async def test_second_party_with_same_inn_is_refused_with_existing_id(parties, db):
    inn = person_inn()
    first = await new_person(parties, identifiers=[inn_id(inn)])
    before = db.counts()
    # Any notation of the same number is the same number.
    existing = await already_exists(
        parties.CreateParty(create_person_req(identifiers=[inn_id(f"{inn[:3]}-{inn[3:8]} {inn[8:]}")]))
    )
    assert existing == first.party_id
    assert db.counts() == before

    other = await new_person(parties)
    before = db.counts()
    existing = await already_exists(
        parties.AddIdentifier(pb.AddIdentifierRequest(party_id=other.party_id, identifier=inn_id(inn)))
    )
    assert existing == first.party_id
    assert db.counts() == before


async def test_kpp_may_repeat(parties):
    shared = kpp()
    a = await new_org(
        parties,
        "Альфа",
        identifiers=[inn_id(org_inn()), pb.Identifier(type=pb.IDENTIFIER_TYPE_KPP, value=shared)],
    )
    b = await new_org(
        parties,
        "Бета",
        identifiers=[inn_id(org_inn()), pb.Identifier(type=pb.IDENTIFIER_TYPE_KPP, value=shared)],
    )
    found = await parties.SearchParties(
        pb.SearchPartiesRequest(identifier_type=pb.IDENTIFIER_TYPE_KPP, identifier_value=shared)
    )
    assert sorted(h.party.party_id for h in found.hits) == sorted([a.party_id, b.party_id])
    assert all(h.score == 1.0 for h in found.hits)


async def test_end_identifier_frees_the_inn(parties, db):
    inn = org_inn()
    old = await new_org(parties, "Старая", identifiers=[inn_id(inn)])
    ident = old.identifiers[0]
    ended = await parties.EndIdentifier(
        pb.EndIdentifierRequest(
            party_id=old.party_id, identifier_id=ident.identifier_id, valid_to=d(today()), expected_version=1
        )
    )
    assert ended.party_version == 2
    assert ended.identifier.validity.valid_to == d(today())
    # Ending twice is a state conflict.
    await rpc_error(
        parties.EndIdentifier(pb.EndIdentifierRequest(party_id=old.party_id, identifier_id=ident.identifier_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    new = (await parties.CreateParty(create_org_req("Новая", identifiers=[inn_id(inn)]))).party
    assert [i.value for i in new.identifiers] == [inn]
    # Today the INN belongs to the new party; yesterday the old party held it, and that is kept.
    got_old = (await parties.GetParty(pb.GetPartyRequest(party_id=old.party_id))).party
    assert not got_old.identifiers
    yesterday = (await parties.GetParty(pb.GetPartyRequest(party_id=old.party_id, as_of=d(days_ago(1))))).party
    assert [i.value for i in yesterday.identifiers] == [inn]
    found = await parties.SearchParties(
        pb.SearchPartiesRequest(identifier_type=pb.IDENTIFIER_TYPE_INN, identifier_value=inn)
    )
    assert [h.party.party_id for h in found.hits] == [new.party_id]
    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=old.party_id, field=f"identifiers/{ident.identifier_id}")
    )
    assert len(history.entries) == 2
    assert history.entries[0].HasField("superseded_at")
    assert not history.entries[1].HasField("superseded_at")
    assert history.entries[1].validity.valid_to == d(today())
    assert db.scalar(f"SELECT count(*) FROM parties.item WHERE key2 = '{inn}'") == 3


async def test_add_identifier(parties):
    p = await new_person(parties)
    inn = person_inn()
    resp = await parties.AddIdentifier(
        pb.AddIdentifierRequest(party_id=p.party_id, identifier=inn_id(inn), expected_version=p.version)
    )
    assert resp.identifier.value == inn
    assert resp.party_version == p.version + 1
    # The same party adding it again: it already holds it.
    await already_exists(parties.AddIdentifier(pb.AddIdentifierRequest(party_id=p.party_id, identifier=inn_id(inn))))
    # An organization's INN cannot go on a person.
    violations = await invalid(
        parties.AddIdentifier(pb.AddIdentifierRequest(party_id=p.party_id, identifier=inn_id(org_inn())))
    )
    assert violations[0][0] == "identifier.type"


async def test_contact_point_lifecycle(parties, db):
    p = await new_person(parties, contact_points=[pb.ContactPoint(phone="+7 916 111 22 33", primary=True)])
    first = p.contact_points[0]
    added = await parties.AddContactPoint(
        pb.AddContactPointRequest(
            party_id=p.party_id,
            contact_point=pb.ContactPoint(phone="8 (926) 444-55-66", primary=True, purpose=pb.CONTACT_PURPOSE_WORK),
            valid_from=d(days_ago(10)),
        )
    )
    assert added.contact_point.phone == "+79264445566"
    assert added.contact_point.primary
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    primaries = [c.phone for c in got.contact_points if c.primary]
    assert primaries == ["+79264445566"], "the new primary demotes the previous one"

    # The same value again is a duplicate.
    await already_exists(
        parties.AddContactPoint(
            pb.AddContactPointRequest(party_id=p.party_id, contact_point=pb.ContactPoint(phone="+79264445566"))
        )
    )

    updated = await parties.UpdateContactPoint(
        pb.UpdateContactPointRequest(
            party_id=p.party_id,
            contact_point_id=first.contact_point_id,
            contact_point=pb.ContactPoint(phone="+7 916 111 22 44", verified=True),
            valid_from=d(days_ago(5)),
        )
    )
    assert updated.contact_point.contact_point_id == first.contact_point_id
    assert updated.contact_point.phone == "+79161112244"
    assert updated.contact_point.verified
    before_change = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id, as_of=d(days_ago(6))))).party
    assert "+79161112233" in [c.phone for c in before_change.contact_points]
    now = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert "+79161112244" in [c.phone for c in now.contact_points]
    assert "+79161112233" not in [c.phone for c in now.contact_points]
    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=p.party_id, field=f"contact_points/{first.contact_point_id}")
    )
    values = [json.loads(e.value_json).get("phone") for e in history.entries]
    assert "+79161112233" in values and "+79161112244" in values

    ended = await parties.EndContactPoint(
        pb.EndContactPointRequest(party_id=p.party_id, contact_point_id=first.contact_point_id, valid_to=d(today()))
    )
    assert ended.contact_point.validity.valid_to == d(today())
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert [c.phone for c in got.contact_points] == ["+79264445566"]
    # Searching by the ended number finds nobody any more.
    found = await parties.SearchParties(pb.SearchPartiesRequest(phone="+79161112244"))
    assert not found.hits
    assert db.scalar(f"SELECT count(*) FROM parties.item WHERE item_id = '{first.contact_point_id}'") >= 4


async def test_new_primary_demotes_the_old_one_from_its_start_only(parties):
    p = await new_person(parties, contact_points=[pb.ContactPoint(email="old@example.com", primary=True)])
    await parties.AddContactPoint(
        pb.AddContactPointRequest(
            party_id=p.party_id,
            contact_point=pb.ContactPoint(email="new@example.com", primary=True),
            valid_from=d(days_ago(10)),
        )
    )

    async def primaries(**kw) -> list[str]:
        got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id, **kw))).party
        return [c.email for c in got.contact_points if c.primary]

    assert await primaries() == ["new@example.com"]
    assert await primaries(as_of=d(days_ago(100))) == ["old@example.com"], "history before the change is kept"
    assert await primaries(as_of=d(days_ago(10))) == ["new@example.com"]


async def test_update_of_an_ended_contact_point_is_refused(parties, db):
    p = await new_person(parties, contact_points=[pb.ContactPoint(phone="+7 916 222 33 44")])
    cp_id = p.contact_points[0].contact_point_id
    await parties.EndContactPoint(
        pb.EndContactPointRequest(party_id=p.party_id, contact_point_id=cp_id, valid_to=d(days_ago(5)))
    )
    before = db.counts()
    await rpc_error(
        parties.UpdateContactPoint(
            pb.UpdateContactPointRequest(
                party_id=p.party_id, contact_point_id=cp_id, contact_point=pb.ContactPoint(phone="+79162223345")
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert db.counts() == before
    # A correction inside its lifetime is fine and keeps the end date.
    fixed = await parties.UpdateContactPoint(
        pb.UpdateContactPointRequest(
            party_id=p.party_id,
            contact_point_id=cp_id,
            contact_point=pb.ContactPoint(phone="+79162223345"),
            valid_from=d(days_ago(20)),
        )
    )
    assert fixed.contact_point.phone == "+79162223345"
    assert fixed.contact_point.validity.valid_to == d(days_ago(5))


async def test_concurrent_add_identifier_one_wins(parties, db):
    inn = org_inn()
    orgs = [await new_org(parties, f"Гонщик {i}") for i in range(4)]
    results = await asyncio.gather(
        *(parties.AddIdentifier(pb.AddIdentifierRequest(party_id=o.party_id, identifier=inn_id(inn))) for o in orgs),
        return_exceptions=True,
    )
    won = [o.party_id for o, r in zip(orgs, results, strict=True) if not isinstance(r, BaseException)]
    assert len(won) == 1, results
    for r in results:
        if isinstance(r, BaseException):
            assert isinstance(r, grpc.aio.AioRpcError) and r.code() == grpc.StatusCode.ALREADY_EXISTS, r
            assert existing_resource(r) == won[0]
    assert db.scalar(f"SELECT count(*) FROM parties.item WHERE key2 = '{inn}'") == 1
