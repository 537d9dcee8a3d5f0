"""Merge and unmerge on the real service: survivorship per field, everything the duplicate had moves to the
survivor, the tombstone answers with the survivor, the change feed and the audit record it; an unmerge
restores both parties exactly (compared row by row and through the API), remembers the pair as not
duplicate, and bad or concurrent requests change nothing or let exactly one win."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import (
    ctx,
    d,
    days_ago,
    inn_id,
    invalid,
    new_org,
    new_person,
    person,
    person_inn,
    phone,
    rid,
    rpc_error,
    snils,
    vin,
)

CTX = ctx(actor="user:steward", source="crm-ui", reason="duplicate")
#: The second record of a pair is let in as the duplicate it is (as when both came in before the check).
LET_IN = pb.DuplicateOverride(allow=True, reason="loaded from the branch office before the duplicate check")


def merge_req(survivor: str, merged: str, **kw) -> pb.MergePartiesRequest:  # type: ignore[no-untyped-def]
    kw.setdefault("request_id", rid("merge"))
    kw.setdefault("context", CTX)
    return pb.MergePartiesRequest(survivor_party_id=survivor, merged_party_id=merged, **kw)


async def pair(parties, db):  # type: ignore[no-untyped-def]
    """Two records of the same man: the older one from the branch office, the newer one from the web
    form, each with things of its own; plus an employer and a car on the newer one."""
    shared_phone = phone()
    older = await new_person(
        parties,
        profile=person("Щербаков", "Юрий", "", birth="1979-03-05"),
        identifiers=[inn_id(person_inn())],
        contact_points=[pb.ContactPoint(phone=shared_phone, primary=True)],
        role_types=["customer"],
        context=ctx(source="branch"),
    )
    newer = await new_person(
        parties,
        profile=person("Щербаков", "Юрий", "Петрович", birth="1979-05-03"),
        identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_SNILS, value=snils())],
        contact_points=[
            pb.ContactPoint(phone=shared_phone),
            pb.ContactPoint(email=f"yuri.{rid()[-8:]}@example.org", primary=True),
        ],
        role_types=["customer", "prospect"],
        context=ctx(source="web"),
        duplicate_override=LET_IN,
    )
    await parties.SetConsent(
        pb.SetConsentRequest(
            party_id=newer.party_id,
            consent=pb.Consent(
                channel=pb.CHANNEL_EMAIL, purpose=pb.CONSENT_PURPOSE_MARKETING, status=pb.CONSENT_STATUS_GRANTED
            ),
            context=ctx(),
        )
    )
    employer = await new_org(parties, "Северсталь")
    await parties.CreateRelationship(
        pb.CreateRelationshipRequest(
            relationship_type="employee_of",
            from_party_id=newer.party_id,
            to_party_id=employer.party_id,
            valid_from=d(days_ago(100)),
            context=ctx(),
        )
    )
    await parties.RegisterVehicle(
        pb.RegisterVehicleRequest(party_id=newer.party_id, vehicle=pb.Vehicle(vin=vin(), make="Lada", model="Niva"))
    )
    return older, newer, employer


def snapshot(db, *party_ids: str) -> dict[str, list]:  # type: ignore[no-untyped-def]
    """Everything the register currently knows about the parties, row by row, without the book-keeping
    that legitimately differs after an unmerge (row ids, record times)."""
    ids = ", ".join(f"'{p}'" for p in party_ids)
    queries = {
        "party": f"SELECT party_id, kind, status, display_name, search_key, birth_date, merged_into "
        f"FROM parties.party WHERE party_id IN ({ids})",
        "fact": f"SELECT party_id, field, value, valid_from, valid_to, actor, source, reason FROM parties.fact "
        f"WHERE party_id IN ({ids}) AND superseded_at IS NULL",
        "item": f"SELECT item_id, party_id, section, key1, key2, is_unique, data, valid_from, valid_to, actor, "
        f"source, reason FROM parties.item WHERE party_id IN ({ids}) AND superseded_at IS NULL",
        "relationship": f"SELECT relationship_id, rel_type, from_party, to_party, valid_from, valid_to, actor, "
        f"source, reason FROM parties.relationship WHERE (from_party IN ({ids}) OR to_party IN ({ids})) "
        "AND superseded_at IS NULL",
    }
    return {name: sorted(db.sql(q).splitlines()) for name, q in queries.items()}


def strip(msg) -> None:  # type: ignore[no-untyped-def]
    """Clears, everywhere in a message, what any change legitimately moves: versions and record times."""
    for name in ("version", "created_at", "updated_at", "recorded", "party_version"):
        if name in msg.DESCRIPTOR.fields_by_name:
            msg.ClearField(name)
    for fd, value in msg.ListFields():
        if fd.message_type is None or fd.message_type.GetOptions().map_entry:
            continue
        for item in value if fd.is_repeated else [value]:
            strip(item)


async def api_view(parties, party_id: str) -> dict:  # type: ignore[no-untyped-def]
    """The party as clients see it, minus version and timestamps (an unmerge is a change) and with its
    collections as sets (restored items are new rows, so they may list in another order)."""
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=party_id))).card
    strip(card)
    collections = {
        name: sorted(str(x) for x in getattr(card.party, name)) for name in ("identifiers", "contact_points", "roles")
    }
    collections |= {
        name: sorted(str(x) for x in getattr(card, name)) for name in ("relationships", "consents", "vehicles")
    }
    for name in ("identifiers", "contact_points", "roles"):
        card.party.ClearField(name)
    return {"party": str(card.party), **collections}


async def test_merge_moves_everything_and_the_tombstone_answers_with_the_survivor(parties, db):
    older, newer, employer = await pair(parties, db)
    before_merge = datetime.now(UTC)
    resp = await parties.MergeParties(merge_req(older.party_id, newer.party_id))
    merge, survivor = resp.merge, resp.survivor
    assert merge.state == pb.MERGE_STATE_MERGED and merge.merged_by == "user:steward"
    # Most recent wins by default: the newer record's patronymic and birth date (the older one had the
    # day and month swapped).
    decisions = {x.field: (x.taken_from, x.rule) for x in merge.decisions}
    assert decisions["person.name.patronymic"] == (pb.MERGE_SIDE_MERGED, "only_value")
    assert decisions["person.birth_date"] == (pb.MERGE_SIDE_MERGED, "most_recent")
    assert survivor.person.name.patronymic == "Петрович" and survivor.person.birth_date == d("1979-05-03")
    assert survivor.display_name.startswith("Щербаков Юрий Петрович")

    types = sorted(pb.IdentifierType.Name(i.type) for i in survivor.identifiers)
    assert types == ["IDENTIFIER_TYPE_INN", "IDENTIFIER_TYPE_SNILS"]
    assert len([c for c in survivor.contact_points if c.phone]) == 1, "the shared phone is not doubled"
    assert any(c.email for c in survivor.contact_points)
    assert sorted(r.role_type for r in survivor.roles) == ["customer", "prospect"]
    assert dict(merge.moved) == {"identifier": 1, "contact_point": 1, "role": 1, "consent": 1, "ownership": 1,
                                 "relationship": 1}  # fmt: skip

    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=older.party_id))).card
    assert [r.counterpart.party_id for r in card.relationships] == [employer.party_id]
    assert len(card.vehicles) == 1 and len(card.consents) == 1

    tomb = await parties.GetParty(pb.GetPartyRequest(party_id=newer.party_id))
    assert tomb.party.party_id == older.party_id and tomb.merged_party_id == newer.party_id
    # Read as known before the merge, the duplicate is still itself.
    before = await parties.GetParty(pb.GetPartyRequest(party_id=newer.party_id, known_at=merge.merged_at))
    assert before.party.party_id == older.party_id
    earlier = pb.GetPartyRequest(party_id=newer.party_id)
    earlier.known_at.FromDatetime(before_merge)
    past = await parties.GetParty(earlier)
    assert past.party.party_id == newer.party_id and not past.merged_party_id

    found = await parties.SearchParties(pb.SearchPartiesRequest(query="Щербаков Юрий"))
    ids = [h.party.party_id for h in found.hits]
    assert older.party_id in ids and newer.party_id not in ids

    changes = await parties.ListChanges(pb.ListChangesRequest(party_ids=[older.party_id, newer.party_id]))
    kinds = {(c.party_id, c.change_type) for c in changes.changes}
    assert (older.party_id, "party.merged") in kinds and (newer.party_id, "party.merged_away") in kinds

    for pid in (older.party_id, newer.party_id):
        (listed,) = (await parties.ListMerges(pb.ListMergesRequest(party_id=pid))).merges
        assert listed.merge_id == merge.merge_id

    # The tombstone can no longer change; the survivor can.
    await rpc_error(
        parties.AssignRole(pb.AssignRoleRequest(party_id=newer.party_id, role_type="partner", context=CTX)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )


async def test_unmerge_restores_both_parties_exactly(parties, db):
    older, newer, _ = await pair(parties, db)
    ids = (older.party_id, newer.party_id)
    rows_before = snapshot(db, *ids)
    api_before = [await api_view(parties, p) for p in ids]
    history_before = (
        await parties.GetFieldHistory(pb.GetFieldHistoryRequest(party_id=older.party_id, field="person.birth_date"))
    ).entries

    merged = (await parties.MergeParties(merge_req(older.party_id, newer.party_id))).merge
    assert snapshot(db, *ids) != rows_before
    in_between = datetime.now(UTC)
    resp = await parties.UnmergeParties(
        pb.UnmergePartiesRequest(request_id=rid(), merge_id=merged.merge_id, context=ctx(reason="not the same man"))
    )
    assert resp.merge.state == pb.MERGE_STATE_UNMERGED and resp.merge.unmerge_reason == "not the same man"
    assert resp.restored.party_id == newer.party_id and resp.restored.status == pb.PARTY_STATUS_ACTIVE

    assert snapshot(db, *ids) == rows_before, "every current row of both parties is as before the merge"
    api_after = [await api_view(parties, p) for p in ids]
    for before, after in zip(api_before, api_after, strict=True):
        for key in before:
            assert before[key] == after[key], key
    history_after = (
        await parties.GetFieldHistory(pb.GetFieldHistoryRequest(party_id=older.party_id, field="person.birth_date"))
    ).entries
    current = [(e.value_json, e.validity) for e in history_after if not e.HasField("superseded_at")]
    assert current == [(e.value_json, e.validity) for e in history_before if not e.HasField("superseded_at")]
    # What was known while merged stays known: read as of then, the survivor had the duplicate's SNILS.
    ts = pb.GetPartyRequest(party_id=older.party_id)
    ts.known_at.FromDatetime(in_between)
    then = (await parties.GetParty(ts)).party
    assert any(i.type == pb.IDENTIFIER_TYPE_SNILS for i in then.identifiers)

    low, high = sorted(ids)
    assert db.scalar(f"SELECT count(*) FROM parties.not_duplicate WHERE party_a = '{low}' AND party_b = '{high}'") == 1
    await rpc_error(
        parties.UnmergeParties(pb.UnmergePartiesRequest(request_id=rid(), merge_id=merged.merge_id, context=CTX)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    # They can be merged again (the steward changed their mind once more).
    again = await parties.MergeParties(merge_req(older.party_id, newer.party_id))
    assert again.merge.merge_id != merged.merge_id


async def test_survivorship_rules_and_manual_choices(parties, db):
    a = await new_person(
        parties, profile=person("Кузнецова", "Анна", "", birth="1990-01-02"), context=ctx(source="dms")
    )
    b = await new_person(
        parties,
        profile=person("Кузнецова", "Анна", "", birth="1990-02-01"),
        context=ctx(source="web"),
        duplicate_override=LET_IN,
    )
    keep = await parties.MergeParties(merge_req(a.party_id, b.party_id, default_rule=pb.SURVIVORSHIP_RULE_SURVIVOR))
    assert keep.survivor.person.birth_date == d("1990-01-02")

    c = await new_person(parties, profile=person("Орлова", "Вера", "", birth="1970-07-07"), context=ctx(source="dms"))
    e = await new_person(
        parties,
        profile=person("Орлова", "Вера", "", birth="1970-07-17"),
        context=ctx(source="web"),
        duplicate_override=LET_IN,
    )
    trusted = await parties.MergeParties(
        merge_req(
            e.party_id,
            c.party_id,
            default_rule=pb.SURVIVORSHIP_RULE_MOST_TRUSTED_SOURCE,
            trusted_sources=["dms", "web"],
        )
    )
    assert trusted.survivor.person.birth_date == d("1970-07-07"), "the dealer system is trusted over the web form"

    f = await new_person(parties, profile=person("Белов", "Олег", "", birth="1960-01-01"))
    g = await new_person(parties, profile=person("Белов", "Олег", "", birth="1961-01-01"), duplicate_override=LET_IN)
    manual = await parties.MergeParties(
        merge_req(
            f.party_id,
            g.party_id,
            field_choices=[pb.FieldChoice(field="person.birth_date", take=pb.MERGE_SIDE_SURVIVOR)],
        )
    )
    assert manual.survivor.person.birth_date == d("1960-01-01")
    assert [(x.field, x.rule) for x in manual.merge.decisions] == [("person.birth_date", "manual")]


async def test_a_retried_merge_answers_the_same(parties, db):
    a = await new_person(parties)
    b = await new_person(parties)
    req = merge_req(a.party_id, b.party_id)
    first = await parties.MergeParties(req)
    counts = db.counts()
    again = await parties.MergeParties(req)
    assert again == first and db.counts() == counts


async def test_concurrent_merges_of_one_party_one_wins(parties, db):
    duplicate = await new_person(parties, contact_points=[pb.ContactPoint(phone=phone())])
    a = await new_person(parties)
    b = await new_person(parties)
    results = await asyncio.gather(
        parties.MergeParties(merge_req(a.party_id, duplicate.party_id)),
        parties.MergeParties(merge_req(b.party_id, duplicate.party_id)),
        return_exceptions=True,
    )
    ok = [r for r in results if isinstance(r, pb.MergePartiesResponse)]
    failed = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(ok) == 1 and len(failed) == 1
    assert failed[0].code() == grpc.StatusCode.FAILED_PRECONDITION and "already merged" in failed[0].details()
    winner = ok[0].survivor.party_id
    loser = b.party_id if winner == a.party_id else a.party_id
    loser_party = (await parties.GetParty(pb.GetPartyRequest(party_id=loser))).party
    assert not any(c.phone for c in loser_party.contact_points), "nothing moved to the losing survivor"
    live = db.scalar(
        f"SELECT count(*) FROM parties.merge WHERE merged_id = '{duplicate.party_id}' AND state = 'merged'"
    )
    assert live == 1


async def test_crossed_merges_do_not_deadlock(parties, db):
    a = await new_person(parties)
    b = await new_person(parties)
    results = await asyncio.gather(
        parties.MergeParties(merge_req(a.party_id, b.party_id)),
        parties.MergeParties(merge_req(b.party_id, a.party_id)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["AioRpcError", "MergePartiesResponse"]


async def test_unmerge_refuses_when_merged_data_changed_since(parties, db):
    a = await new_person(parties, profile=person("Зайцев", "Пётр", ""))
    b = await new_person(parties, profile=person("Зайцев", "Пётр", "Ильич"), duplicate_override=LET_IN)
    merge = (await parties.MergeParties(merge_req(a.party_id, b.party_id))).merge
    await parties.UpdateParty(
        pb.UpdatePartyRequest(
            party_id=a.party_id, person=pb.Person(name=pb.PersonName(patronymic="Ильич-Оглы")), context=CTX,
        )
    )  # fmt: skip
    counts = db.counts()
    err = await rpc_error(
        parties.UnmergeParties(pb.UnmergePartiesRequest(request_id=rid(), merge_id=merge.merge_id, context=CTX)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "changed since" in err.details()
    assert db.counts() == counts


async def test_bad_merge_requests_change_nothing(parties, db):
    person_a = await new_person(parties)
    org = await new_org(parties, "Ромашка")
    other = await new_person(parties)
    tomb_target = await new_person(parties)
    await parties.MergeParties(merge_req(tomb_target.party_id, other.party_id))
    counts = db.counts()

    await invalid(parties.MergeParties(merge_req(person_a.party_id, person_a.party_id)), "merged_party_id")
    await invalid(parties.MergeParties(merge_req("", "not-a-uuid")), "survivor_party_id", "merged_party_id")
    await invalid(
        parties.MergeParties(
            merge_req(person_a.party_id, tomb_target.party_id, field_choices=[pb.FieldChoice(field="x")])
        ),
        "field_choices[0].take",
    )
    await invalid(
        parties.MergeParties(
            merge_req(
                person_a.party_id,
                tomb_target.party_id,
                field_choices=[pb.FieldChoice(field="f" * 10_000, take=pb.MERGE_SIDE_MERGED)],
            )
        ),
        "field_choices[0].field",
    )
    await invalid(
        parties.MergeParties(
            merge_req(
                person_a.party_id,
                tomb_target.party_id,
                field_choices=[pb.FieldChoice(field=f"f{i}", take=pb.MERGE_SIDE_MERGED) for i in range(201)],
            )
        ),
        "field_choices",
    )
    await invalid(
        parties.MergeParties(
            merge_req(person_a.party_id, tomb_target.party_id, default_rule=pb.SURVIVORSHIP_RULE_MOST_TRUSTED_SOURCE)
        ),
        "trusted_sources",
    )
    await invalid(
        parties.MergeParties(
            merge_req(
                person_a.party_id,
                tomb_target.party_id,
                field_choices=[pb.FieldChoice(field="person.no_such_field", take=pb.MERGE_SIDE_MERGED)],
            )
        ),
        "field_choices",
    )
    await invalid(
        parties.MergeParties(merge_req(person_a.party_id, tomb_target.party_id, context=ctx(actor="x" * 5000))),
        "context.actor",
    )
    await rpc_error(
        parties.MergeParties(merge_req(person_a.party_id, other.party_id)), grpc.StatusCode.FAILED_PRECONDITION
    )  # a tombstone cannot be merged again
    await rpc_error(
        parties.MergeParties(merge_req(other.party_id, person_a.party_id)), grpc.StatusCode.FAILED_PRECONDITION
    )  # nor survive a merge
    await rpc_error(
        parties.MergeParties(merge_req(person_a.party_id, org.party_id)), grpc.StatusCode.FAILED_PRECONDITION
    )
    await rpc_error(
        parties.MergeParties(merge_req(person_a.party_id, "00000000-0000-4000-8000-000000000000")),
        grpc.StatusCode.NOT_FOUND,
    )
    await rpc_error(
        parties.MergeParties(merge_req(person_a.party_id, tomb_target.party_id, survivor_expected_version=999)),
        grpc.StatusCode.ABORTED,
    )
    await invalid(parties.UnmergeParties(pb.UnmergePartiesRequest(merge_id="nope", context=CTX)), "merge_id")
    await rpc_error(
        parties.UnmergeParties(
            pb.UnmergePartiesRequest(merge_id="00000000-0000-4000-8000-000000000000", request_id=rid(), context=CTX)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await invalid(
        parties.MarkNotDuplicate(pb.MarkNotDuplicateRequest(party_id=org.party_id, other_party_id=org.party_id)),
        "other_party_id",
    )
    assert db.counts() == counts


@pytest.mark.parametrize("field", ["survivor_party_id", "merged_party_id"])
async def test_merge_names_the_missing_party(parties, field):  # type: ignore[no-untyped-def]
    real = await new_person(parties)
    ids = {"survivor_party_id": real.party_id, "merged_party_id": real.party_id}
    ids[field] = "00000000-0000-4000-8000-00000000abcd"
    err = await rpc_error(
        parties.MergeParties(merge_req(ids["survivor_party_id"], ids["merged_party_id"])), grpc.StatusCode.NOT_FOUND
    )
    assert field in err.details()
