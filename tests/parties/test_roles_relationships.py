"""Roles (overlap, ending, kind rules) and relationships (kind and role rules per type, symmetric types
stored once, overlap, ending, the card's labels from both sides) and their run-time catalogues."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import grpc

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import already_exists, d, days_ago, invalid, new_org, new_person, person, rpc_error, today


async def test_overlapping_role_is_refused_and_end_role(parties, db):
    p = await new_person(parties)
    first = await parties.AssignRole(
        pb.AssignRoleRequest(
            party_id=p.party_id, role_type="partner", valid_from=d(days_ago(100)), valid_to=d(days_ago(50))
        )
    )
    assert first.role.role_type == "partner"
    before = db.counts()
    existing = await already_exists(
        parties.AssignRole(pb.AssignRoleRequest(party_id=p.party_id, role_type="partner", valid_from=d(days_ago(60))))
    )
    assert existing == first.role.role_id
    assert db.counts() == before
    # Back to back is no overlap ([from, to) ranges).
    second = await parties.AssignRole(
        pb.AssignRoleRequest(party_id=p.party_id, role_type="PARTNER", valid_from=d(days_ago(50)))
    )
    assert second.role.role_type == "partner"
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert [r.role_id for r in got.roles] == [second.role.role_id]
    then = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id, as_of=d(days_ago(70))))).party
    assert [r.role_id for r in then.roles] == [first.role.role_id]

    ended = await parties.EndRole(
        pb.EndRoleRequest(party_id=p.party_id, role_id=second.role.role_id, valid_to=d(today()))
    )
    assert ended.role.validity.valid_to == d(today())
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert not got.roles
    await rpc_error(
        parties.EndRole(pb.EndRoleRequest(party_id=p.party_id, role_id=second.role.role_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=p.party_id, field=f"roles/{second.role.role_id}")
    )
    assert len(history.entries) == 2
    # Another party's role id is not found on this party.
    other = await new_person(parties)
    await rpc_error(
        parties.EndRole(pb.EndRoleRequest(party_id=other.party_id, role_id=first.role.role_id)),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_role_kind_rules_and_catalogue(parties):
    p = await new_person(parties)
    o = await new_org(parties)
    violations = await invalid(parties.AssignRole(pb.AssignRoleRequest(party_id=p.party_id, role_type="dealer")))
    assert "person" in violations[0][1]
    dealer = await parties.AssignRole(pb.AssignRoleRequest(party_id=o.party_id, role_type="dealer"))
    assert dealer.role.role_type == "dealer"

    types = {t.code: t for t in (await parties.ListRoleTypes(pb.ListRoleTypesRequest())).role_types}
    assert list(types["dealer"].applies_to) == [pb.PARTY_KIND_ORGANIZATION]
    assert types["customer"].system

    defined = await parties.DefineRoleType(
        pb.DefineRoleTypeRequest(
            role_type=pb.RoleType(code="fleet_owner", name="Fleet owner", applies_to=[pb.PARTY_KIND_ORGANIZATION])
        )
    )
    assert not defined.role_type.system
    await already_exists(
        parties.DefineRoleType(pb.DefineRoleTypeRequest(role_type=pb.RoleType(code="fleet_owner", name="Again")))
    )
    await invalid(parties.AssignRole(pb.AssignRoleRequest(party_id=p.party_id, role_type="fleet_owner")), "role_type")
    await parties.AssignRole(pb.AssignRoleRequest(party_id=o.party_id, role_type="fleet_owner"))
    found = await parties.SearchParties(pb.SearchPartiesRequest(role_type="fleet_owner"))
    assert [h.party.party_id for h in found.hits] == [o.party_id]


async def test_relationship_kind_rules(parties, db):
    p = await new_person(parties, profile=person("Работников", "Павел", ""))
    o = await new_org(parties, "Завод")
    rel = await parties.CreateRelationship(
        pb.CreateRelationshipRequest(
            relationship_type="employee_of",
            from_party_id=p.party_id,
            to_party_id=o.party_id,
            valid_from=d(days_ago(90)),
        )
    )
    assert rel.relationship.relationship_type == "employee_of"
    assert rel.relationship.from_party_id == p.party_id
    before = db.counts()
    await invalid(
        parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="employee_of", from_party_id=o.party_id, to_party_id=p.party_id
            )
        ),
        "from_party_id",
        "to_party_id",
    )
    assert db.counts() == before
    other_person = await new_person(parties)
    before = db.counts()
    await invalid(
        parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="employee_of", from_party_id=p.party_id, to_party_id=other_person.party_id
            )
        ),
        "to_party_id",
    )
    assert db.counts() == before


async def test_relationship_required_roles(parties):
    manager = await new_person(parties, profile=person("Менеджеров", "Максим", ""))
    client = await new_org(parties, "Клиент")
    req = pb.CreateRelationshipRequest(
        relationship_type="account_manager_of",
        from_party_id=manager.party_id,
        to_party_id=client.party_id,
        valid_from=d(days_ago(10)),
    )
    violations = await invalid(parties.CreateRelationship(req), "from_party_id")
    assert "employee" in violations[0][1]
    await parties.AssignRole(
        pb.AssignRoleRequest(party_id=manager.party_id, role_type="employee", valid_from=d(days_ago(5)))
    )
    # The role must be held on the relationship's start date, not just today.
    await invalid(parties.CreateRelationship(req), "from_party_id")
    req.valid_from.CopyFrom(d(days_ago(5)))
    rel = (await parties.CreateRelationship(req)).relationship
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=client.party_id))).card
    assert [(r.label, r.counterpart.party_id) for r in card.relationships] == [("managed by", manager.party_id)]
    assert card.relationships[0].relationship.relationship_id == rel.relationship_id


async def test_symmetric_relationship_is_stored_once(parties, db):
    a = await new_person(parties, profile=person("Мужев", "Андрей", ""))
    b = await new_person(parties, profile=person("Женина", "Борислава", "", gender=pb.GENDER_FEMALE))
    rel = (
        await parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="spouse_of",
                from_party_id=a.party_id,
                to_party_id=b.party_id,
                valid_from=d(days_ago(300)),
            )
        )
    ).relationship
    before = db.counts()
    await already_exists(
        parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="spouse_of",
                from_party_id=b.party_id,
                to_party_id=a.party_id,
                valid_from=d(days_ago(100)),
            )
        )
    )
    await already_exists(
        parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="spouse_of",
                from_party_id=a.party_id,
                to_party_id=b.party_id,
                valid_from=d(days_ago(10)),
            )
        )
    )
    assert db.counts() == before
    assert (
        db.scalar(
            "SELECT count(*) FROM parties.relationship WHERE rel_type = 'spouse_of' AND superseded_at IS NULL "
            f"AND '{a.party_id}' IN (from_party, to_party)"
        )
        == 1
    )
    for me, other in ((a, b), (b, a)):
        card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=me.party_id))).card
        assert [(r.label, r.counterpart.party_id) for r in card.relationships] == [("spouse of", other.party_id)]
        assert card.relationships[0].relationship.relationship_id == rel.relationship_id


async def test_non_overlapping_periods_and_end_relationship(parties, db):
    p = await new_person(parties, profile=person("Сезонов", "Семён", ""))
    o = await new_org(parties, "Сезон")
    first = (
        await parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="employee_of",
                from_party_id=p.party_id,
                to_party_id=o.party_id,
                valid_from=d(days_ago(300)),
                valid_to=d(days_ago(200)),
            )
        )
    ).relationship
    # Overlapping the first period: refused.
    await already_exists(
        parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="employee_of",
                from_party_id=p.party_id,
                to_party_id=o.party_id,
                valid_from=d(days_ago(250)),
                valid_to=d(days_ago(100)),
            )
        )
    )
    second = (
        await parties.CreateRelationship(
            pb.CreateRelationshipRequest(
                relationship_type="employee_of",
                from_party_id=p.party_id,
                to_party_id=o.party_id,
                valid_from=d(days_ago(200)),
            )
        )
    ).relationship
    assert second.relationship_id != first.relationship_id
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=o.party_id))).card
    assert [(r.label, r.relationship.relationship_id) for r in card.relationships] == [
        ("employer of", second.relationship_id)
    ]
    old_card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=o.party_id, as_of=d(days_ago(250))))).card
    assert [r.relationship.relationship_id for r in old_card.relationships] == [first.relationship_id]

    versions_before = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party.version
    ended = (
        await parties.EndRelationship(
            pb.EndRelationshipRequest(relationship_id=second.relationship_id, valid_to=d(today()))
        )
    ).relationship
    assert ended.validity.valid_to == d(today())
    assert (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party.version == versions_before + 1
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=p.party_id))).card
    assert not card.relationships
    await rpc_error(
        parties.EndRelationship(pb.EndRelationshipRequest(relationship_id=second.relationship_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=o.party_id, field=f"relationships/{second.relationship_id}")
    )
    assert len(history.entries) == 2
    assert json.loads(history.entries[0].value_json)["type"] == "employee_of"
    # A relationship's history is not readable through an unrelated party.
    stranger = await new_person(parties)
    await rpc_error(
        parties.GetFieldHistory(
            pb.GetFieldHistoryRequest(party_id=stranger.party_id, field=f"relationships/{second.relationship_id}")
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    # A future-dated relationship shows up on the card as of that date only.
    later = today() + timedelta(days=10)
    await parties.CreateRelationship(
        pb.CreateRelationshipRequest(
            relationship_type="contact_person_of", from_party_id=p.party_id, to_party_id=o.party_id, valid_from=d(later)
        )
    )
    assert not (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=p.party_id))).card.relationships
    future = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=p.party_id, as_of=d(later)))).card
    assert [r.label for r in future.relationships] == ["contact person of"]


async def test_define_relationship_type(parties):
    resp = await parties.DefineRelationshipType(
        pb.DefineRelationshipTypeRequest(
            relationship_type=pb.RelationshipType(
                code="mentor_of",
                name="mentor of",
                inverse_name="mentored by",
                from_kinds=[pb.PARTY_KIND_PERSON],
                to_kinds=[pb.PARTY_KIND_PERSON],
                from_roles=["employee"],
            )
        )
    )
    assert resp.relationship_type.code == "mentor_of"
    assert not resp.relationship_type.system
    await already_exists(
        parties.DefineRelationshipType(
            pb.DefineRelationshipTypeRequest(relationship_type=pb.RelationshipType(code="mentor_of", name="x"))
        )
    )
    types = {
        t.code for t in (await parties.ListRelationshipTypes(pb.ListRelationshipTypesRequest())).relationship_types
    }
    assert {"mentor_of", "employee_of", "spouse_of", "account_manager_of"} <= types
    mentor = await new_person(parties, role_types=["employee"])
    pupil = await new_person(parties)
    rel = await parties.CreateRelationship(
        pb.CreateRelationshipRequest(
            relationship_type="mentor_of", from_party_id=mentor.party_id, to_party_id=pupil.party_id
        )
    )
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=pupil.party_id))).card
    assert [(r.label, r.relationship.relationship_id) for r in card.relationships] == [
        ("mentored by", rel.relationship.relationship_id)
    ]


async def test_concurrent_symmetric_relationships_are_stored_once(parties, db):
    a = await new_person(parties)
    b = await new_person(parties)
    reqs = [
        pb.CreateRelationshipRequest(relationship_type="relative_of", from_party_id=x, to_party_id=y)
        for x, y in ((a.party_id, b.party_id), (b.party_id, a.party_id)) * 2
    ]
    results = await asyncio.gather(*(parties.CreateRelationship(r) for r in reqs), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert len(ok) == 1, results
    for r in results:
        if isinstance(r, BaseException):
            assert isinstance(r, grpc.aio.AioRpcError) and r.code() == grpc.StatusCode.ALREADY_EXISTS, r
    assert (
        db.scalar(
            "SELECT count(*) FROM parties.relationship WHERE rel_type = 'relative_of' "
            f"AND '{a.party_id}' IN (from_party, to_party)"
        )
        == 1
    )
