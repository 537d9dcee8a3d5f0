"""The change feed: every change in order, no personal data in it, and under concurrent writers each
change exactly once with strictly increasing sequences when paged with small limits."""

from __future__ import annotations

import asyncio
import itertools

from google.protobuf import field_mask_pb2

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import (
    create_person_req,
    ctx,
    d,
    days_ago,
    inn_id,
    new_org,
    person,
    person_inn,
    rid,
)


async def read_all(parties, after: int = 0, limit: int = 7, party_ids=()) -> tuple[list[pb.Change], int]:
    out: list[pb.Change] = []
    while True:
        resp = await parties.ListChanges(
            pb.ListChangesRequest(after_sequence=after, limit=limit, party_ids=list(party_ids))
        )
        assert len(resp.changes) <= limit
        out.extend(resp.changes)
        if not resp.changes:
            assert resp.next_after_sequence == after
            return out, after
        assert resp.next_after_sequence == resp.changes[-1].sequence
        after = resp.next_after_sequence


async def test_every_change_in_order_without_personal_data(parties, db):
    _, start = await read_all(parties)
    inn = person_inn()
    secrets = ["Конфиденциалов", "Тайна", inn, "+79163334455", "secret@example.com", "1971"]
    p = (
        await parties.CreateParty(
            create_person_req(
                profile=person("Конфиденциалов", "Тайна", "", birth="1971-03-03", gender=pb.GENDER_FEMALE),
                identifiers=[inn_id(inn)],
                contact_points=[pb.ContactPoint(phone="+7 916 333 44 55"), pb.ContactPoint(email="secret@example.com")],
                valid_from=d(days_ago(100)),
                context=ctx(actor="user:ivanova", source="crm-ui"),
            )
        )
    ).party
    o = await new_org(parties, "Работодатель")
    pid = p.party_id
    await parties.UpdateParty(
        pb.UpdatePartyRequest(
            party_id=pid,
            person=pb.Person(name=pb.PersonName(last_name="Открытова")),
            update_mask=field_mask_pb2.FieldMask(paths=["name.last_name"]),
        )
    )
    await parties.AssignRole(pb.AssignRoleRequest(party_id=pid, role_type="employee", valid_from=d(days_ago(50))))
    await parties.AddContactPoint(
        pb.AddContactPointRequest(party_id=pid, contact_point=pb.ContactPoint(email="second@example.com"))
    )
    await parties.SetConsent(
        pb.SetConsentRequest(
            party_id=pid,
            consent=pb.Consent(
                channel=pb.CHANNEL_SMS, purpose=pb.CONSENT_PURPOSE_MARKETING, status=pb.CONSENT_STATUS_GRANTED
            ),
        )
    )
    await parties.SetContactPreferences(
        pb.SetContactPreferencesRequest(party_id=pid, preferences=pb.ContactPreferences(time_zone="Europe/Moscow"))
    )
    rel = await parties.CreateRelationship(
        pb.CreateRelationshipRequest(
            relationship_type="employee_of", from_party_id=pid, to_party_id=o.party_id, valid_from=d(days_ago(40))
        )
    )
    await parties.EndIdentifier(pb.EndIdentifierRequest(party_id=pid, identifier_id=p.identifiers[0].identifier_id))

    changes, _ = await read_all(parties, after=start, limit=3)
    mine = [c for c in changes if c.party_id == pid]
    assert [c.change_type for c in mine] == [
        "party.created",
        "party.updated",
        "role.assigned",
        "contact_point.added",
        "consent.set",
        "preferences.set",
        "relationship.created",
        "identifier.ended",
    ]
    assert [c.party_version for c in mine] == list(range(1, 9))
    assert mine[0].actor == "user:ivanova" and mine[0].source == "crm-ui"
    assert mine[1].fields == ["person.name.last_name"]
    assert mine[6].fields == [f"relationships/{rel.relationship.relationship_id}"]
    assert all(c.HasField("occurred_at") for c in mine)
    seqs = [c.sequence for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # The counterpart of the relationship sees it too.
    assert [c.change_type for c in changes if c.party_id == o.party_id][-1] == "relationship.created"
    # No personal data anywhere in the feed.
    raw = b"".join(c.SerializeToString() for c in changes).decode("utf-8", "replace")
    for secret in [*secrets, "Открытова", "second@example.com"]:
        assert secret not in raw, secret

    only = (await parties.ListChanges(pb.ListChangesRequest(after_sequence=start, party_ids=[o.party_id]))).changes
    assert {c.party_id for c in only} == {o.party_id}


async def test_concurrent_writers_each_change_exactly_once(parties, db):
    _, start = await read_all(parties)

    async def reader(stop: asyncio.Event) -> list[pb.Change]:
        seen: list[pb.Change] = []
        after = start
        while True:
            resp = await parties.ListChanges(pb.ListChangesRequest(after_sequence=after, limit=4))
            seen.extend(resp.changes)
            after = resp.next_after_sequence
            if stop.is_set() and not resp.changes:
                return seen
            await asyncio.sleep(0)

    stop = asyncio.Event()
    follower = asyncio.create_task(reader(stop))
    results = await asyncio.gather(
        *(
            parties.CreateParty(
                create_person_req(
                    profile=person("Параллельный", f"Писатель{'а' * (i % 5)}", ""),
                    request_id=rid(f"c{i}"),
                    # Namesakes on purpose: the test is about the change feed, not the duplicate check.
                    duplicate_override=pb.DuplicateOverride(allow=True, reason="concurrency test"),
                )
            )
            for i in range(50)
        )
    )
    created = {r.party.party_id for r in results}
    assert len(created) == 50
    stop.set()
    followed = await follower

    changes, _ = await read_all(parties, after=start, limit=6)
    for seen in (changes, followed):
        seqs = [c.sequence for c in seen]
        assert all(a < b for a, b in itertools.pairwise(seqs)), "sequences strictly increase"
        ours = [c.party_id for c in seen if c.change_type == "party.created" and c.party_id in created]
        assert sorted(ours) == sorted(created), "each creation exactly once"
    assert db.scalar(f"SELECT count(*) FROM parties.change WHERE sequence > {start} AND sequence IS NOT NULL") == len(
        changes
    )
