"""Bitemporal behaviour: changes from a date, reads as of a date and as known at a moment, corrections
with a past valid_from, full field history, optimistic concurrency, and that nothing is ever deleted."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import grpc
from google.protobuf import field_mask_pb2

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import TABLES, d, days_ago, new_org, new_person, person, rpc_error, today


def name_update(party_id: str, last: str, valid_from, **kw) -> pb.UpdatePartyRequest:
    return pb.UpdatePartyRequest(
        party_id=party_id,
        person=pb.Person(name=pb.PersonName(last_name=last)),
        update_mask=field_mask_pb2.FieldMask(paths=["name.last_name"]),
        valid_from=d(valid_from),
        **kw,
    )


async def last_name(parties, party_id: str, **kw) -> str:
    return (await parties.GetParty(pb.GetPartyRequest(party_id=party_id, **kw))).party.person.name.last_name


async def test_update_from_a_date_and_read_as_of(parties):
    p = await new_person(parties, profile=person("Иванова", "Мария", "Петровна", gender=pb.GENDER_FEMALE))
    marriage = days_ago(20)
    resp = await parties.UpdateParty(name_update(p.party_id, "Петрова", marriage, expected_version=1))
    assert resp.party.version == 2
    assert resp.party.display_name == "Петрова Мария Петровна"
    assert resp.party.person.name.first_name == "Мария", "the mask leaves other fields alone"
    assert await last_name(parties, p.party_id) == "Петрова"
    assert await last_name(parties, p.party_id, as_of=d(marriage)) == "Петрова"
    assert await last_name(parties, p.party_id, as_of=d(marriage - timedelta(days=1))) == "Иванова"
    before = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id, as_of=d(days_ago(100))))).party
    assert before.display_name == "Иванова Мария Петровна", "a historical read names the party as it was then"


async def test_future_dated_change(parties):
    p = await new_person(parties, profile=person("Сидоров", "Пётр", ""))
    soon = today() + timedelta(days=30)
    await parties.UpdateParty(name_update(p.party_id, "Сидоренко", soon))
    assert await last_name(parties, p.party_id) == "Сидоров"
    assert await last_name(parties, p.party_id, as_of=d(soon)) == "Сидоренко"
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert got.display_name == "Сидоров Пётр"


async def test_known_at_returns_what_was_known(parties):
    p = await new_person(parties, profile=person("Кузнецов", "Олег", ""))
    known_then = p.updated_at
    await parties.UpdateParty(name_update(p.party_id, "Кузнецов-Рамирес", days_ago(400)))
    assert await last_name(parties, p.party_id) == "Кузнецов-Рамирес"
    old = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id, known_at=known_then))).party
    assert old.person.name.last_name == "Кузнецов"
    assert old.display_name == "Кузнецов Олег"
    # Before the party was recorded at all it was unknown.
    earlier = pb.GetPartyRequest(party_id=p.party_id)
    earlier.known_at.FromDatetime(p.created_at.ToDatetime() - timedelta(seconds=5))
    await rpc_error(parties.GetParty(earlier), grpc.StatusCode.NOT_FOUND)


async def test_correction_with_past_valid_from_and_full_history(parties, db):
    p = await new_person(parties, profile=person("Иванова", "Анна", ""))  # valid from 400 days ago
    counts = [db.counts()]
    first = (await parties.UpdateParty(name_update(p.party_id, "Петрова", days_ago(100)))).party
    counts.append(db.counts())
    # The marriage was in fact earlier: a correction from 150 days ago.
    await parties.UpdateParty(name_update(p.party_id, "Петрова", days_ago(150)))
    counts.append(db.counts())
    assert await last_name(parties, p.party_id, as_of=d(days_ago(151))) == "Иванова"
    assert await last_name(parties, p.party_id, as_of=d(days_ago(150))) == "Петрова"
    assert await last_name(parties, p.party_id, as_of=d(days_ago(120))) == "Петрова"
    # What we believed before the correction is still readable as known then.
    assert await last_name(parties, p.party_id, as_of=d(days_ago(120)), known_at=first.updated_at) == "Иванова"
    assert await last_name(parties, p.party_id, as_of=d(days_ago(100)), known_at=first.updated_at) == "Петрова"

    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=p.party_id, field="person.name.last_name")
    )
    assert history.field == "person.name.last_name"
    entries = [
        (
            json.loads(e.value_json),
            (e.validity.valid_from.year, e.validity.valid_from.month, e.validity.valid_from.day),
            e.validity.HasField("valid_to"),
            e.HasField("superseded_at"),
        )
        for e in history.entries
    ]
    # create: 1 row; first update: supersede it, re-record [from, -100) and add [-100, ∞);
    # correction: supersede both, re-record [from, -150) and add [-150, ∞).
    assert len(entries) == 5, entries
    current = [e for e in entries if not e[3]]
    assert sorted(current, key=lambda e: e[1]) == [
        ("Иванова", (d(days_ago(400)).year, d(days_ago(400)).month, d(days_ago(400)).day), True, False),
        ("Петрова", (d(days_ago(150)).year, d(days_ago(150)).month, d(days_ago(150)).day), False, False),
    ]
    for e in history.entries:
        assert e.HasField("recorded_at")
        if e.HasField("superseded_at"):
            assert e.superseded_at.ToDatetime() >= e.recorded_at.ToDatetime()
    recorded = [e.recorded_at.ToDatetime() for e in history.entries]
    assert recorded == sorted(recorded)
    # Nothing is ever deleted: every table only grows.
    for earlier, later in itertools.pairwise(counts):
        assert all(later[t] >= earlier[t] for t in TABLES), (earlier, later)
    assert counts[-1]["fact"] > counts[0]["fact"]


async def test_same_value_again_changes_nothing(parties, db):
    p = await new_person(parties, profile=person("Орлов", "Иван", ""))
    before = db.counts()
    resp = await parties.UpdateParty(name_update(p.party_id, "Орлов", days_ago(10)))
    assert resp.party.version == p.version
    assert db.counts() == before


async def test_organization_profile_update_and_history(parties):
    o = await new_org(parties, "Ромашка")
    await parties.UpdateParty(
        pb.UpdatePartyRequest(
            party_id=o.party_id,
            organization=pb.Organization(short_name="Ромашка Плюс"),
            valid_from=d(days_ago(30)),
        )
    )
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=o.party_id))).party
    assert got.organization.short_name == "Ромашка Плюс"
    assert got.organization.legal_name == "Ромашка", "fields not set are left alone without a mask"
    assert got.display_name == "ООО «Ромашка Плюс»"
    h = await parties.GetFieldHistory(pb.GetFieldHistoryRequest(party_id=o.party_id, field="organization.short_name"))
    assert [json.loads(e.value_json) for e in h.entries if not e.HasField("superseded_at")] == [
        "Ромашка",
        "Ромашка Плюс",
    ]


async def test_stale_expected_version_is_aborted(parties, db):
    p = await new_person(parties)
    await parties.UpdateParty(name_update(p.party_id, "Смирнов", days_ago(1), expected_version=1))
    before = db.counts()
    for call in (
        parties.UpdateParty(name_update(p.party_id, "Соколов", days_ago(1), expected_version=1)),
        parties.AssignRole(pb.AssignRoleRequest(party_id=p.party_id, role_type="partner", expected_version=1)),
        parties.AddContactPoint(
            pb.AddContactPointRequest(
                party_id=p.party_id, contact_point=pb.ContactPoint(email="x@example.com"), expected_version=1
            )
        ),
        parties.SetAttributeValues(
            pb.SetAttributeValuesRequest(
                party_id=p.party_id, values=[pb.AttributeValue(code="whatever")], expected_version=1
            )
        ),
    ):
        await rpc_error(call, grpc.StatusCode.ABORTED)
    assert db.counts() == before
    assert await last_name(parties, p.party_id) == "Смирнов"
    ok = await parties.UpdateParty(name_update(p.party_id, "Соколов", days_ago(1), expected_version=2))
    assert ok.party.version == 3


async def test_erased_party_cannot_change(parties, db):
    p = await new_person(parties)
    await parties.AnonymizeParty(pb.AnonymizePartyRequest(party_id=p.party_id, erasure_id="erasure-hist-1"))
    before = db.counts()
    for call in (
        parties.UpdateParty(name_update(p.party_id, "Новиков", days_ago(1))),
        parties.AssignRole(pb.AssignRoleRequest(party_id=p.party_id, role_type="partner")),
        parties.AddContactPoint(
            pb.AddContactPointRequest(party_id=p.party_id, contact_point=pb.ContactPoint(email="x@example.com"))
        ),
        parties.SetConsent(
            pb.SetConsentRequest(
                party_id=p.party_id,
                consent=pb.Consent(
                    channel=pb.CHANNEL_SMS, purpose=pb.CONSENT_PURPOSE_SERVICE, status=pb.CONSENT_STATUS_GRANTED
                ),
            )
        ),
        parties.SetContactPreferences(
            pb.SetContactPreferencesRequest(party_id=p.party_id, preferences=pb.ContactPreferences(do_not_contact=True))
        ),
        parties.RegisterVehicle(
            pb.RegisterVehicleRequest(party_id=p.party_id, vehicle=pb.Vehicle(vin="XTA21214011111111"))
        ),
    ):
        await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
    assert db.counts() == before
