"""ImportParties (client streaming): good rows go in, bad rows come back with their row_ref and field
violations, duplicate INNs are caught against the register and within the batch, and a re-run counts
the rows already present instead of duplicating them."""

from __future__ import annotations

import asyncio
import json

import grpc

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import (
    bad_check_digit,
    create_org_req,
    create_person_req,
    d,
    days_ago,
    inn_id,
    new_person,
    org_inn,
    person,
    person_inn,
    rpc_error,
)


async def stream(*batches: list[pb.ImportRow]):
    for rows in batches:
        yield pb.ImportPartiesRequest(rows=rows)


def row(ref: str, req: pb.CreatePartyRequest) -> pb.ImportRow:
    return pb.ImportRow(row_ref=ref, party=req)


async def test_import_good_bad_and_rerun(parties, db):
    taken = person_inn()
    holder = await new_person(parties, identifiers=[inn_id(taken)])
    twice = org_inn()
    good_inn = person_inn()
    batch1 = [
        row(
            "line-1",
            create_person_req(
                request_id="imp-1",
                profile=person("Импортов", "Игорь", "Ильич"),
                identifiers=[inn_id(good_inn)],
                contact_points=[pb.ContactPoint(phone="8 916 765 43 21", primary=True)],
                role_types=["customer"],
                valid_from=d(days_ago(10)),
            ),
        ),
        row("line-2", create_org_req("Импорт-Сервис", request_id="imp-2", identifiers=[inn_id(twice)])),
        row("line-3", create_person_req(request_id="imp-3", identifiers=[inn_id(bad_check_digit(person_inn()))])),
        row("line-4", create_person_req(request_id="imp-4", identifiers=[inn_id(taken)])),
        row("line-5", create_org_req("Двойник", request_id="imp-5", identifiers=[inn_id(twice)])),
        row("line-6", create_person_req(request_id="imp-6", profile=person("Robert'); DROP TABLE x;--"))),
        row("line-7", create_person_req(request_id="", profile=person("Безключев"))),
        row("line-8", create_person_req(request_id="imp-8", role_types=["dealer"])),
    ]
    batch2 = [
        row("line-9", create_person_req(request_id="imp-9", profile=person("Второй", "Пакет", ""))),
        row("line-10", create_person_req(request_id="imp-1", profile=person("Повтор", "Ключа", ""))),
    ]
    before = db.counts()
    resp = await parties.ImportParties(stream(batch1, batch2))
    assert resp.rows_received == 10
    assert resp.parties_created == 3  # lines 1, 2 and 9
    assert resp.rows_already_present == 1  # line 10 reuses line 1's request_id from the first batch
    errors = {e.row_ref: e for e in resp.errors}
    assert sorted(errors) == ["line-3", "line-4", "line-5", "line-6", "line-7", "line-8"]
    assert [v.field for v in errors["line-3"].violations] == ["identifiers[0].value"]
    assert errors["line-4"].violations[0].field == "identifiers[0].value"
    assert holder.party_id in errors["line-4"].violations[0].description
    assert errors["line-5"].violations[0].field == "identifiers[0].value", "duplicate within the batch"
    assert errors["line-6"].violations[0].field == "person.name.last_name"
    assert errors["line-7"].violations[0].field == "request_id"
    assert errors["line-8"].violations[0].field == "role_types[0]"
    after = db.counts()
    assert after["party"] == before["party"] + 3
    assert after["change"] == before["change"] + 3
    assert after["idempotency"] == before["idempotency"] + 3

    found = await parties.SearchParties(
        pb.SearchPartiesRequest(identifier_type=pb.IDENTIFIER_TYPE_INN, identifier_value=good_inn)
    )
    assert len(found.hits) == 1
    imported = (await parties.GetParty(pb.GetPartyRequest(party_id=found.hits[0].party.party_id))).party
    assert imported.display_name == "Импортов Игорь Ильич"
    assert imported.version == 1
    assert [c.phone for c in imported.contact_points] == ["+79167654321"]
    assert [r.role_type for r in imported.roles] == ["customer"]
    assert imported.person.name.last_name == "Импортов"
    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=imported.party_id, field="person.name.last_name")
    )
    assert [json.loads(e.value_json) for e in history.entries] == ["Импортов"]
    assert history.entries[0].validity.valid_from == d(days_ago(10))
    changes = (await parties.ListChanges(pb.ListChangesRequest(party_ids=[imported.party_id]))).changes
    assert [c.change_type for c in changes] == ["party.created"]
    assert (await parties.SearchParties(pb.SearchPartiesRequest(phone="+79167654321"))).hits[0].party.party_id == (
        imported.party_id
    )

    # Running the same import again creates nothing new.
    before = db.counts()
    again = await parties.ImportParties(stream(batch1, batch2))
    assert again.rows_received == 10
    assert again.parties_created == 0
    assert again.rows_already_present == 4
    # line-5 is still refused: its INN now belongs to the party line-2 created.
    assert sorted(e.row_ref for e in again.errors) == sorted(errors)
    assert db.counts() == before


async def test_import_limits(parties, db):
    before = db.counts()
    big = [row(str(i), create_person_req(request_id=f"big-{i}")) for i in range(5001)]
    resp = await parties.ImportParties(stream(big))
    assert resp.rows_received == 5001
    assert resp.parties_created == 0
    assert [(e.row_ref, e.violations[0].field) for e in resp.errors] == [("*", "rows")]
    same_ids = [
        row("a", create_person_req(request_id="dup-in-batch")),
        row("b", create_person_req(request_id="dup-in-batch")),
    ]
    resp = await parties.ImportParties(stream(same_ids))
    assert resp.parties_created == 1
    assert [(e.row_ref, e.violations[0].field) for e in resp.errors] == [("b", "request_id")]
    assert db.counts()["party"] == before["party"] + 1
    # An empty stream is a valid, empty import.
    empty = await parties.ImportParties(stream())
    assert (empty.rows_received, empty.parties_created, len(empty.errors)) == (0, 0, 0)
    # A group with members cannot be bulk imported.
    group = pb.CreatePartyRequest(request_id="grp-1", group=pb.Group(name="Г", member_party_ids=["x"]))
    resp = await parties.ImportParties(stream([row("g", group)]))
    assert "group.member_party_ids" in [v.field for v in resp.errors[0].violations]
    await rpc_error(
        parties.GetParty(pb.GetPartyRequest(party_id="00000000-0000-4000-8000-000000000000")), grpc.StatusCode.NOT_FOUND
    )


async def test_rows_without_row_ref_are_named_by_position(parties):
    taken = person_inn()
    await new_person(parties, identifiers=[inn_id(taken)])
    rows = [
        pb.ImportRow(party=create_person_req(request_id="pos-0")),
        pb.ImportRow(party=create_person_req(request_id="pos-1", identifiers=[inn_id("123")])),
        pb.ImportRow(party=create_person_req(request_id="pos-2", identifiers=[inn_id(taken)])),
    ]
    resp = await parties.ImportParties(stream(rows))
    assert resp.parties_created == 1
    # Both kinds of errors (found in the request, found against the register) name the row the same way.
    assert sorted(e.row_ref for e in resp.errors) == ["1", "2"]


async def test_concurrent_reruns_of_one_import(parties, db):
    rows = [
        row(f"r{i}", create_person_req(request_id=f"conc-{i}", identifiers=[inn_id(person_inn())])) for i in range(20)
    ]
    before = db.scalar("SELECT count(*) FROM parties.party")
    results = await asyncio.gather(*(parties.ImportParties(stream(rows[:10], rows[10:])) for _ in range(3)))
    assert sum(r.parties_created for r in results) == 20
    assert sum(r.rows_already_present for r in results) == 40
    assert [list(r.errors) for r in results] == [[], [], []]
    assert db.scalar("SELECT count(*) FROM parties.party") == before + 20


async def test_import_racing_a_create_with_the_same_inn(parties, db):
    inns = [person_inn() for _ in range(30)]
    rows = [
        row(f"x{i}", create_person_req(request_id=f"race-{i}", identifiers=[inn_id(v)])) for i, v in enumerate(inns)
    ]
    creates = [parties.CreateParty(create_person_req(identifiers=[inn_id(v)])) for v in inns[::3]]
    results = await asyncio.gather(parties.ImportParties(stream(rows)), *creates, return_exceptions=True)
    imported = results[0]
    assert not isinstance(imported, BaseException), imported
    created = [r for r in results[1:] if not isinstance(r, BaseException)]
    for err in results[1:]:
        if isinstance(err, BaseException):
            assert isinstance(err, grpc.aio.AioRpcError) and err.code() == grpc.StatusCode.ALREADY_EXISTS, err
    # Every INN went to exactly one party, and every row is accounted for.
    assert imported.parties_created + len(imported.errors) == 30
    assert imported.parties_created + len(created) == 30
    for v in inns:
        assert db.scalar(f"SELECT count(*) FROM parties.item WHERE key2 = '{v}'") == 1


async def test_import_returns_party_ids_on_request(parties):
    rows = [
        row(f"erp-{i}", create_person_req(request_id=f"ids-{i}", profile=person(f"Айдиев{'а' * i}"))) for i in range(3)
    ]

    async def asking(batch: list[pb.ImportRow]):
        yield pb.ImportPartiesRequest(rows=batch, return_party_ids=True)

    first = await parties.ImportParties(asking(rows))
    assert first.parties_created == 3 and not first.party_ids_truncated
    ids = {i.row_ref: i.party_id for i in first.imported}
    assert set(ids) == {"erp-0", "erp-1", "erp-2"} and not any(i.already_present for i in first.imported)
    for ref, party_id in ids.items():
        got = (await parties.GetParty(pb.GetPartyRequest(party_id=party_id))).party
        assert got.display_name.startswith("Айдиев"), ref
    again = await parties.ImportParties(asking(rows))
    assert {i.row_ref: i.party_id for i in again.imported} == ids
    assert all(i.already_present for i in again.imported)
    silent = await parties.ImportParties(stream(rows))
    assert silent.rows_already_present == 3 and not silent.imported
