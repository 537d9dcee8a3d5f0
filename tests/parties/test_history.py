"""Bitemporal behaviour: changes from a date, reads as of a date and as known at a moment, corrections
with a past valid_from, full field history, optimistic concurrency, and that nothing is ever deleted."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
from datetime import timedelta

import grpc
import pytest
from google.protobuf import field_mask_pb2

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import (
    DERIVED,
    TABLES,
    create_group_req,
    d,
    days_ago,
    inn_id,
    invalid,
    new_org,
    new_person,
    org_inn,
    person,
    rpc_error,
    today,
    vin,
)


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
        assert all(later[t] >= earlier[t] for t in TABLES if t not in DERIVED), (earlier, later)
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


async def test_concurrent_updates_with_the_same_expected_version(parties, db):
    p = await new_person(parties)
    results = await asyncio.gather(
        *(
            parties.UpdateParty(name_update(p.party_id, name, days_ago(1), expected_version=1))
            for name in ("Первый", "Второй", "Третий", "Четвёртый")
        ),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert len(ok) == 1, results
    for err in results:
        if isinstance(err, BaseException):
            assert isinstance(err, grpc.aio.AioRpcError) and err.code() == grpc.StatusCode.ABORTED, err
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert got.version == 2
    assert got.person.name.last_name == ok[0].party.person.name.last_name


async def test_group_name_cannot_be_cleared(parties, db):
    g = (await parties.CreateParty(create_group_req("Клуб"))).party
    before = db.counts()
    await invalid(
        parties.UpdateParty(
            pb.UpdatePartyRequest(
                party_id=g.party_id, group=pb.Group(), update_mask=field_mask_pb2.FieldMask(paths=["name"])
            )
        ),
        "group.name",
    )
    assert db.counts() == before


async def test_birth_date_correction_from_before_the_party_was_known(parties):
    p = await new_person(parties)  # facts valid from 400 days ago
    resp = await parties.UpdateParty(
        pb.UpdatePartyRequest(
            party_id=p.party_id,
            person=pb.Person(birth_date=d("1985-04-21")),
            valid_from=d(days_ago(1000)),
        )
    )
    assert resp.party.person.birth_date == d("1985-04-21")
    assert resp.party.person.name.last_name == p.person.name.last_name


APPEND_ONLY = """
CREATE FUNCTION parties.test_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'append-only: DELETE on %', TG_TABLE_NAME;
    END IF;
    IF OLD.superseded_at IS NOT NULL
       OR (to_jsonb(NEW) - 'superseded_at') IS DISTINCT FROM (to_jsonb(OLD) - 'superseded_at') THEN
        RAISE EXCEPTION 'append-only: % row % rewritten', TG_TABLE_NAME, OLD.row_id;
    END IF;
    RETURN NEW;
END $$;
CREATE FUNCTION parties.test_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'DELETE on %', TG_TABLE_NAME;
END $$;
"""
VERSIONED = ("fact", "item", "relationship")
KEPT = ("party", "vehicle", "mileage_reading", "change", "attribute_definition", "idempotency")


@pytest.fixture
def append_only(db):
    """While a test runs, the database itself refuses to delete rows or to rewrite a recorded version
    (only stamping superseded_at once is allowed): the service must add rows for every change."""
    statements = [APPEND_ONLY]
    statements += [
        f"CREATE TRIGGER test_append_only BEFORE UPDATE OR DELETE ON parties.{t} "
        "FOR EACH ROW EXECUTE FUNCTION parties.test_append_only();"
        for t in VERSIONED
    ]
    statements += [
        f"CREATE TRIGGER test_no_delete BEFORE DELETE ON parties.{t} "
        "FOR EACH ROW EXECUTE FUNCTION parties.test_no_delete();"
        for t in KEPT
    ]
    db.sql("".join(statements))
    yield
    db.sql(
        "".join(f"DROP TRIGGER test_append_only ON parties.{t};" for t in VERSIONED)
        + "".join(f"DROP TRIGGER test_no_delete ON parties.{t};" for t in KEPT)
        + "DROP FUNCTION parties.test_append_only(); DROP FUNCTION parties.test_no_delete();"
    )


async def test_every_kind_of_change_only_adds_rows(parties, db, append_only):
    snapshots = [db.counts()]
    o = await new_org(parties, "Архив", identifiers=[inn_id(org_inn())])
    p = await new_person(
        parties,
        contact_points=[pb.ContactPoint(email="a@example.com", primary=True)],
        role_types=["customer"],
        consents=[pb.Consent(channel=1, purpose=1, status=1)],
    )
    pid = p.party_id
    steps = [
        lambda: parties.UpdateParty(name_update(pid, "Архивов", days_ago(30))),
        lambda: parties.UpdateParty(name_update(pid, "Архивов", days_ago(60))),
        lambda: parties.AddContactPoint(
            pb.AddContactPointRequest(
                party_id=pid,
                contact_point=pb.ContactPoint(email="b@example.com", primary=True),
                valid_from=d(days_ago(9)),
            )
        ),
        lambda: parties.UpdateContactPoint(
            pb.UpdateContactPointRequest(
                party_id=pid,
                contact_point_id=p.contact_points[0].contact_point_id,
                contact_point=pb.ContactPoint(email="c@example.com"),
                valid_from=d(days_ago(5)),
            )
        ),
        lambda: parties.EndContactPoint(
            pb.EndContactPointRequest(party_id=pid, contact_point_id=p.contact_points[0].contact_point_id)
        ),
        lambda: parties.EndRole(pb.EndRoleRequest(party_id=pid, role_id=p.roles[0].role_id)),
        lambda: parties.EndIdentifier(
            pb.EndIdentifierRequest(party_id=o.party_id, identifier_id=o.identifiers[0].identifier_id)
        ),
        lambda: parties.SetConsent(
            pb.SetConsentRequest(party_id=pid, consent=pb.Consent(channel=1, purpose=1, status=2))
        ),
        lambda: parties.SetContactPreferences(
            pb.SetContactPreferencesRequest(party_id=pid, preferences=pb.ContactPreferences(time_zone="Asia/Tokyo"))
        ),
        lambda: parties.SetContactPreferences(
            pb.SetContactPreferencesRequest(party_id=pid, preferences=pb.ContactPreferences(do_not_contact=True))
        ),
    ]
    for step in steps:
        await step()
        snapshots.append(db.counts())
    rel = await parties.CreateRelationship(
        pb.CreateRelationshipRequest(
            relationship_type="contact_person_of", from_party_id=pid, to_party_id=o.party_id, valid_from=d(days_ago(20))
        )
    )
    await parties.EndRelationship(pb.EndRelationshipRequest(relationship_id=rel.relationship.relationship_id))
    own = await parties.RegisterVehicle(
        pb.RegisterVehicleRequest(party_id=pid, vehicle=pb.Vehicle(vin=vin()), valid_from=d(days_ago(100)))
    )
    await parties.RecordMileage(pb.RecordMileageRequest(vehicle_id=own.ownership.vehicle.vehicle_id, kilometres=100))
    await parties.TransferVehicle(
        pb.TransferVehicleRequest(vehicle_id=own.ownership.vehicle.vehicle_id, to_party_id=o.party_id)
    )
    await parties.ListChanges(pb.ListChangesRequest())
    snapshots.append(db.counts())
    for earlier, later in itertools.pairwise(snapshots):
        assert all(later[t] >= earlier[t] for t in TABLES if t not in DERIVED), (earlier, later)
    # The guard itself works: rewriting a recorded version is refused by the database.
    with pytest.raises(subprocess.CalledProcessError) as rewrite:
        db.sql(f"UPDATE parties.fact SET reason = 'rewritten' WHERE party_id = '{pid}'")
    assert "append-only" in rewrite.value.stderr
    with pytest.raises(subprocess.CalledProcessError) as delete:
        db.sql(f"DELETE FROM parties.change WHERE party_id = '{pid}'")
    assert "DELETE on change" in delete.value.stderr
