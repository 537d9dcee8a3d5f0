"""SearchParties: fuzzy names in Cyrillic and Latin with typos, exact phone, e-mail and identifier
lookups in any notation, kind and role filters, ordering and paging."""

from __future__ import annotations

import base64

import pytest_asyncio

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import create_person_req, inn_id, invalid, new_org, new_person, person, person_inn


@pytest_asyncio.fixture(scope="module")
async def people(parties) -> dict[str, pb.Party]:
    inn = person_inn()
    out = {
        "shcherbakov": await new_person(
            parties,
            profile=person("Щербаков", "Юрий", "Петрович"),
            identifiers=[inn_id(inn)],
            contact_points=[pb.ContactPoint(phone="+7 916 123 45 67"), pb.ContactPoint(email="yuri@example.com")],
            role_types=["customer"],
        ),
        "zhukova": await new_person(
            parties,
            profile=person("Жукова", "Ксения", "Андреевна", gender=pb.GENDER_FEMALE),
            contact_points=[pb.ContactPoint(phone="+7 701 555 00 11")],
            role_types=["prospect"],
        ),
        "smith": await new_person(parties, profile=person("", "", "", latin=("Smith", "John"))),
        "romashka": await new_org(parties, "Ромашка", role_types=["customer"]),
    }
    out["inn"] = pb.Party(party_id=inn)  # carried along for the identifier search
    return out


def ids(resp: pb.SearchPartiesResponse) -> list[str]:
    return [h.party.party_id for h in resp.hits]


async def search(parties, **kw) -> pb.SearchPartiesResponse:
    return await parties.SearchParties(pb.SearchPartiesRequest(**kw))


async def test_fuzzy_cyrillic_latin_and_typos(parties, people):
    target = people["shcherbakov"].party_id
    for query in (
        "Щербаков",
        "щербаков юрий",
        "Юрий Щербаков",
        "Shcherbakov",
        "Shcherbakov Iurii",
        "Scherbakov Yuri",
        "Щербоков",
        "Shcherbakow",
    ):
        resp = await search(parties, query=query)
        assert ids(resp)[:1] == [target], (query, [(h.party.display_name, h.score) for h in resp.hits])
        assert 0 < resp.hits[0].score <= 1
    resp = await search(parties, query="Zhukova Kseniia")
    assert ids(resp)[:1] == [people["zhukova"].party_id]
    resp = await search(parties, query="Смит")  # Cyrillic typing of a Latin-only name
    assert people["smith"].party_id in ids(resp)
    resp = await search(parties, query="Ромашка")
    assert ids(resp)[:1] == [people["romashka"].party_id]
    assert not (await search(parties, query="Абрикосов")).hits


async def test_summary_content(parties, people):
    hit = (await search(parties, query="Щербаков Юрий")).hits[0].party
    assert hit.display_name == "Щербаков Юрий Петрович"
    assert hit.kind == pb.PARTY_KIND_PERSON
    assert hit.primary_phone == "+79161234567"
    assert hit.primary_email == "yuri@example.com"
    assert list(hit.role_types) == ["customer"]
    assert hit.birth_date.year > 1900  # the fixture gives everyone a birthday of their own


async def test_exact_lookups(parties, people):
    target = people["shcherbakov"].party_id
    for phone in ("8 (916) 123-45-67", "+79161234567", "9161234567"):
        resp = await search(parties, phone=phone)
        assert ids(resp) == [target], phone
        assert resp.hits[0].score == 1.0
    assert ids(await search(parties, phone="+7 (701) 555-00-11")) == [people["zhukova"].party_id]
    assert ids(await search(parties, email="YURI@EXAMPLE.COM")) == [target]
    assert ids(await search(parties, email="  Yuri@Example.com ")) == [target]
    inn = people["inn"].party_id
    spaced = f"{inn[:4]} {inn[4:]}"
    assert ids(await search(parties, identifier_type=pb.IDENTIFIER_TYPE_INN, identifier_value=spaced)) == [target]
    # Criteria combine: the phone and a name that is not the phone's owner find nobody.
    assert not (await search(parties, phone="+79161234567", query="Жукова")).hits
    assert not (await search(parties, phone="+79169999999")).hits


async def test_kind_and_role_filters(parties, people):
    orgs = ids(await search(parties, kind=pb.PARTY_KIND_ORGANIZATION))
    assert people["romashka"].party_id in orgs
    assert people["shcherbakov"].party_id not in orgs
    customers = set(ids(await search(parties, role_type="customer", page=common_pb2.PageRequest(page_size=100))))
    assert {people["shcherbakov"].party_id, people["romashka"].party_id} <= customers
    assert people["zhukova"].party_id not in customers
    both = ids(await search(parties, role_type="customer", kind=pb.PARTY_KIND_PERSON))
    assert people["shcherbakov"].party_id in both and people["romashka"].party_id not in both


async def test_paging_without_duplicates(parties, people):
    created = set()
    for i in range(23):
        p = (
            await parties.CreateParty(
                create_person_req(
                    profile=person("Пейджеров", f"Пётр{'а' * (i % 3)}", ""),
                    role_types=["supplier"],
                    # Namesakes on purpose: the test is about paging, not the duplicate check.
                    duplicate_override=pb.DuplicateOverride(allow=True, reason="paging test"),
                )
            )
        ).party
        created.add(p.party_id)
    for order in (pb.SEARCH_ORDER_DISPLAY_NAME, pb.SEARCH_ORDER_CREATED_AT_DESC, pb.SEARCH_ORDER_RELEVANCE):
        seen: list[str] = []
        token = ""
        pages = 0
        while True:
            resp = await search(
                parties,
                query="Пейджеров" if order == pb.SEARCH_ORDER_RELEVANCE else "",
                role_type="supplier",
                order_by=order,
                page=common_pb2.PageRequest(page_size=5, page_token=token),
            )
            assert len(resp.hits) <= 5
            seen.extend(ids(resp))
            pages += 1
            token = resp.page.next_page_token
            if not token:
                break
        assert len(seen) == len(set(seen)) == 23, order
        assert set(seen) == created
        assert pages == 5
    by_name = [
        h.party.display_name for h in (await search(parties, role_type="supplier", page={"page_size": 100})).hits
    ]
    assert by_name == sorted(by_name)


async def test_bad_page_tokens(parties, people):
    for token in ("garbage", base64.urlsafe_b64encode(b"o:-5").decode(), base64.urlsafe_b64encode(b"x:5").decode()):
        await invalid(
            search(parties, query="Щербаков", page=common_pb2.PageRequest(page_token=token)), "page.page_token"
        )
    await invalid(search(parties, page=common_pb2.PageRequest(page_size=1000)), "page.page_size")
    await invalid(search(parties, page=common_pb2.PageRequest(page_size=-1)), "page.page_size")
