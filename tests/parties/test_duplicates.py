"""Duplicate prevention on the real service: a strong duplicate is refused at the door with the existing
party and the evidence, an override is recorded, a possible duplicate opens a review case; stewards list,
read and decide cases; CheckDuplicates writes nothing; FindDuplicates streams progress, clusters and a
summary for the register or a file; concurrent creates of one person cannot both pass.

The module's server runs with explicit thresholds (configuration, as an operator would set them), far from
the scores of the pairs the tests make: the same person with the same phone is far above the match
threshold, the same name and birthday without a patronymic is between the two."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import grpc
import pytest_asyncio
from google.rpc import status_pb2
from grpc_status import rpc_status

from crm.parties.v1 import parties_pb2 as pb
from tests.conftest import make_settings
from tests.parties.support import (
    already_exists,
    ctx,
    invalid,
    new_person,
    person,
    phone,
    rid,
    rpc_error,
)

_rng = random.Random(4)
MATCH, POSSIBLE = 30.0, 5.0


@pytest_asyncio.fixture(scope="module")
async def parties_server(parties_db_url: str) -> AsyncIterator[str]:
    from services.parties.main import start

    settings = make_settings(parties_db_url, duplicate_match_threshold=MATCH, duplicate_possible_threshold=POSSIBLE)
    grpc_app, _ = await start(settings, port=0)
    yield f"127.0.0.1:{grpc_app.port}"
    await grpc_app.stop(grace=1)


LETTERS = "бвгдклмнпрстфхцчшщ"
VOWELS = "аеиоу"


def surname() -> str:
    """A fresh Russian-looking surname, so that the module's parties only match where a test wants."""
    body = "".join(_rng.choice(LETTERS) + _rng.choice(VOWELS) for _ in range(3))
    return body.capitalize() + "ов"


def someone(last: str, first: str = "Андрей", patronymic: str = "Викторович", birth: str = "1981-06-21") -> pb.Person:
    return person(last, first, patronymic, birth=birth)


def the_match(err: grpc.aio.AioRpcError) -> pb.DuplicateMatch:
    status = rpc_status.from_call(err)
    assert isinstance(status, status_pb2.Status)
    for detail in status.details:
        if detail.Is(pb.DuplicateMatch.DESCRIPTOR):
            match = pb.DuplicateMatch()
            detail.Unpack(match)
            return match
    raise AssertionError("no DuplicateMatch in the error details")


async def test_a_strong_duplicate_is_refused_with_the_existing_party_and_the_evidence(parties, db):
    last, tel, mail = surname(), phone(), f"{rid()[-10:]}@example.org"
    contacts = [pb.ContactPoint(phone=tel), pb.ContactPoint(email=mail)]
    first = await new_person(parties, profile=someone(last), contact_points=contacts)
    counts = db.counts()
    err = await rpc_error(
        parties.CreateParty(
            pb.CreatePartyRequest(request_id=rid(), person=someone(last), contact_points=contacts, context=ctx())
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert first.party_id in err.details() and "duplicate_override" in err.details()
    match = the_match(err)
    assert match.other_party_id == first.party_id and match.decision == pb.DUPLICATE_DECISION_DUPLICATE
    assert {c.field for c in match.comparisons} >= {"last_name", "first_name", "birth_date", "contact"}
    assert match.score >= MATCH
    assert db.counts() == counts, "a refused create writes nothing"

    # The same person typed in Latin letters, with the phone in another notation, is refused too.
    latin = pb.Person(
        name=pb.PersonName(last_name=_latin(last), first_name="Andrey", patronymic="Viktorovich"),
        birth_date=someone(last).birth_date,
    )
    local = "8 " + tel[2:5] + " " + tel[5:8] + "-" + tel[8:10] + "-" + tel[10:]
    assert (
        await already_exists(
            parties.CreateParty(
                pb.CreatePartyRequest(
                    request_id=rid(), person=latin, contact_points=[pb.ContactPoint(phone=local)], context=ctx()
                )
            )
        )
        == first.party_id
    )


def _latin(cyrillic: str) -> str:
    from services.parties.domain.names import transliterate

    return transliterate(cyrillic)


async def test_an_override_creates_and_is_recorded(parties, db):
    last, tel = surname(), phone()
    contacts = [pb.ContactPoint(phone=tel)]
    first = await new_person(parties, profile=someone(last), contact_points=contacts)
    req = pb.CreatePartyRequest(request_id=rid(), person=someone(last), contact_points=contacts, context=ctx())
    req.duplicate_override.allow = True
    await invalid(parties.CreateParty(req), "duplicate_override.reason")
    req.duplicate_override.reason = "twins: same name, same day, one phone at home"
    second = (await parties.CreateParty(req)).party
    row = db.sql(
        f"SELECT existing_party_id, reason FROM parties.duplicate_override WHERE party_id = '{second.party_id}'"
    )
    assert row == f"{first.party_id}|twins: same name, same day, one phone at home"


async def test_a_possible_duplicate_opens_a_case_that_a_steward_decides(parties, db):
    last = surname()
    first = await new_person(parties, profile=someone(last), contact_points=[pb.ContactPoint(phone=phone())])
    resp = await parties.CreateParty(
        pb.CreatePartyRequest(
            request_id=rid(),
            person=someone(last, patronymic=""),
            contact_points=[pb.ContactPoint(phone=phone())],
            context=ctx(),
        )
    )
    (case,) = resp.duplicate_cases
    assert case.status == pb.DUPLICATE_CASE_STATUS_OPEN
    assert {case.party_id, case.other_party_id} == {resp.party.party_id, first.party_id}
    assert case.match.decision == pb.DUPLICATE_DECISION_POSSIBLE_DUPLICATE
    assert case.workflow_id == "", "the module's server has no workflow engine: the case is decided directly"

    listed = await parties.ListDuplicateCases(pb.ListDuplicateCasesRequest(party_id=first.party_id))
    assert [c.case_id for c in listed.cases] == [case.case_id]
    side_by_side = await parties.GetDuplicateCase(pb.GetDuplicateCaseRequest(case_id=case.case_id))
    assert side_by_side.party.person.name.last_name == side_by_side.other_party.person.name.last_name == last

    await invalid(
        parties.DecideDuplicateCase(
            pb.DecideDuplicateCaseRequest(case_id=case.case_id, resolution=pb.DUPLICATE_CASE_RESOLUTION_MERGE)
        ),
        "survivor_party_id",
    )
    await invalid(
        parties.DecideDuplicateCase(
            pb.DecideDuplicateCaseRequest(
                case_id=case.case_id,
                resolution=pb.DUPLICATE_CASE_RESOLUTION_MERGE,
                survivor_party_id="00000000-0000-4000-8000-000000000000",
                context=ctx(actor="user:steward"),
            )
        ),
        "survivor_party_id",
    )
    decided = await parties.DecideDuplicateCase(
        pb.DecideDuplicateCaseRequest(
            case_id=case.case_id,
            resolution=pb.DUPLICATE_CASE_RESOLUTION_MERGE,
            survivor_party_id=first.party_id,
            context=ctx(actor="user:steward", reason="same man, patronymic left out"),
        )
    )
    assert decided.case.status == pb.DUPLICATE_CASE_STATUS_MERGED and decided.case.merge_id
    assert decided.case.decided_by == "user:steward"
    tomb = await parties.GetParty(pb.GetPartyRequest(party_id=resp.party.party_id))
    assert tomb.party.party_id == first.party_id
    await rpc_error(
        parties.DecideDuplicateCase(
            pb.DecideDuplicateCaseRequest(
                case_id=case.case_id,
                resolution=pb.DUPLICATE_CASE_RESOLUTION_NOT_DUPLICATE,
                context=ctx(actor="user:steward"),
            )
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert not (await parties.ListDuplicateCases(pb.ListDuplicateCasesRequest(party_id=first.party_id))).cases


async def test_not_a_duplicate_is_remembered(parties, db):
    last = surname()
    a = await new_person(parties, profile=someone(last), contact_points=[pb.ContactPoint(phone=phone())])
    resp = await parties.CreateParty(
        pb.CreatePartyRequest(request_id=rid(), person=someone(last, patronymic=""), context=ctx())
    )
    (case,) = resp.duplicate_cases
    await parties.DecideDuplicateCase(
        pb.DecideDuplicateCaseRequest(
            case_id=case.case_id,
            resolution=pb.DUPLICATE_CASE_RESOLUTION_NOT_DUPLICATE,
            context=ctx(actor="user:steward", reason="father and son"),
        )
    )
    check = await parties.CheckDuplicates(pb.CheckDuplicatesRequest(party_id=resp.party.party_id))
    assert a.party_id not in [m.other_party_id for m in check.matches]
    # A later change of the second party opens no new case for the pair.
    updated = await parties.UpdateParty(
        pb.UpdatePartyRequest(party_id=resp.party.party_id, person=pb.Person(gender=pb.GENDER_MALE), context=ctx())
    )
    assert not updated.duplicate_cases


async def test_check_duplicates_writes_nothing_and_explains(parties, db):
    last, tel = surname(), phone()
    existing = await new_person(parties, profile=someone(last), contact_points=[pb.ContactPoint(phone=tel)])
    counts = db.counts()
    candidate = pb.CreatePartyRequest(person=someone(last), contact_points=[pb.ContactPoint(phone=tel)])
    resp = await parties.CheckDuplicates(pb.CheckDuplicatesRequest(candidate=candidate))
    assert resp.decision == pb.DUPLICATE_DECISION_DUPLICATE
    assert resp.matches[0].other_party_id == existing.party_id and resp.candidates_compared >= 1
    assert db.counts() == counts
    distinct = await parties.CheckDuplicates(
        pb.CheckDuplicatesRequest(candidate=pb.CreatePartyRequest(person=someone(surname(), "Олег")))
    )
    assert distinct.decision == pb.DUPLICATE_DECISION_DISTINCT and not distinct.matches
    await invalid(parties.CheckDuplicates(pb.CheckDuplicatesRequest()), "subject")
    await invalid(
        parties.CheckDuplicates(pb.CheckDuplicatesRequest(candidate=pb.CreatePartyRequest())), "candidate.profile"
    )


async def test_an_update_into_a_strong_duplicate_is_refused(parties, db):
    last, tel = surname(), phone()
    await new_person(parties, profile=someone(last), contact_points=[pb.ContactPoint(phone=tel)])
    other = await new_person(parties, profile=someone(surname()), contact_points=[pb.ContactPoint(phone=tel)])
    counts = db.counts()
    await already_exists(
        parties.UpdateParty(
            pb.UpdatePartyRequest(
                party_id=other.party_id, person=pb.Person(name=pb.PersonName(last_name=last)), context=ctx()
            )
        )
    )
    assert db.counts() == counts


async def test_concurrent_creates_of_one_person_cannot_both_pass(parties, db):
    last, tel, mail = surname(), phone(), f"{rid()[-10:]}@example.org"

    def req() -> pb.CreatePartyRequest:
        contacts = [pb.ContactPoint(phone=tel), pb.ContactPoint(email=mail)]
        return pb.CreatePartyRequest(request_id=rid(), person=someone(last), contact_points=contacts, context=ctx())

    results = await asyncio.gather(*(parties.CreateParty(req()) for _ in range(4)), return_exceptions=True)
    created = [r for r in results if isinstance(r, pb.CreatePartyResponse)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1 and len(refused) == 3
    assert all(r.code() == grpc.StatusCode.ALREADY_EXISTS for r in refused)


async def test_find_duplicates_in_the_register_streams_progress_clusters_and_a_summary(parties, db):
    last, tel = surname(), phone()
    contacts = [pb.ContactPoint(phone=tel)]
    a = await new_person(parties, profile=someone(last), contact_points=contacts)
    req = pb.CreatePartyRequest(request_id=rid(), person=someone(last), contact_points=contacts, context=ctx())
    req.duplicate_override.CopyFrom(pb.DuplicateOverride(allow=True, reason="loaded by the old system"))
    b = (await parties.CreateParty(req)).party
    events = [e async for e in parties.FindDuplicates(pb.FindDuplicatesRequest(whole_register=True))]
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "progress" and kinds[-1] == "summary"
    stages = {e.progress.stage for e in events if e.HasField("progress")}
    assert "loading" in stages and len(stages) >= 2
    clusters = [set(e.cluster.members) for e in events if e.HasField("cluster")]
    assert {a.party_id, b.party_id} in clusters
    summary = events[-1].summary
    assert summary.records >= 2 and summary.clusters == len(clusters) and summary.pairs_compared >= 1


async def test_find_duplicates_in_an_incoming_file(parties, db):
    last, tel = surname(), phone()
    existing = await new_person(parties, profile=someone(last), contact_points=[pb.ContactPoint(phone=tel)])
    other_last, other_tel = surname(), phone()

    def row(ref: str, who: pb.Person, tel: str = "") -> pb.ImportRow:
        contacts = [pb.ContactPoint(phone=tel)] if tel else []
        return pb.ImportRow(row_ref=ref, party=pb.CreatePartyRequest(person=who, contact_points=contacts))

    rows = [
        row("1", someone(last), tel),
        row("2", someone(other_last), other_tel),
        row("3", someone(other_last), other_tel),
        row("4", someone("", "")),
    ]
    counts = db.counts()
    request = pb.FindDuplicatesRequest(incoming=pb.IncomingRows(rows=rows, against_register=True))
    events = [e async for e in parties.FindDuplicates(request)]
    clusters = [set(e.cluster.members) for e in events if e.HasField("cluster")]
    assert {"row:2", "row:3"} in clusters
    assert {"row:1", existing.party_id} in clusters
    summary = events[-1].summary
    assert [r.row_ref for r in summary.rejected_rows] == ["4"]
    assert db.counts() == counts, "looking for duplicates in a file writes nothing"


async def test_bad_duplicate_requests(parties, db):
    counts = db.counts()
    await invalid(parties.FindDuplicates(pb.FindDuplicatesRequest()).read(), "source")
    await invalid(
        parties.FindDuplicates(pb.FindDuplicatesRequest(whole_register=True, max_clusters=1_000_000)).read(),
        "max_clusters",
    )
    await invalid(parties.ListDuplicateCases(pb.ListDuplicateCasesRequest(status=99)), "status")
    await invalid(parties.GetDuplicateCase(pb.GetDuplicateCaseRequest(case_id="x")), "case_id")
    await rpc_error(
        parties.GetDuplicateCase(pb.GetDuplicateCaseRequest(case_id="00000000-0000-4000-8000-000000000000")),
        grpc.StatusCode.NOT_FOUND,
    )
    await invalid(parties.DecideDuplicateCase(pb.DecideDuplicateCaseRequest(case_id="x")), "case_id", "resolution")
    await invalid(
        parties.ResolveDuplicateCase(
            pb.ResolveDuplicateCaseRequest(
                case_id="00000000-0000-4000-8000-000000000000", resolution=pb.DUPLICATE_CASE_RESOLUTION_NOT_DUPLICATE
            )
        ),
        "request_id",
    )
    await invalid(parties.NoteDuplicateCaseSla(pb.NoteDuplicateCaseSlaRequest(case_id="x")), "case_id", "stage")
    await invalid(
        parties.CreateParty(
            pb.CreatePartyRequest(
                request_id=rid(),
                person=someone(surname()),
                duplicate_override=pb.DuplicateOverride(allow=True, reason="x" * 501),
            )
        ),
        "duplicate_override.reason",
    )
    assert db.counts() == counts
