"""Bad input gets an RFC 9457 problem document naming each offending field, and changes nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.gateway.conftest import TokenFactory, person_body, unique_phone, valid_person_inn

PROBLEM = "application/problem+json"


def fields_of(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == PROBLEM, response.text
    body = response.json()
    assert {"type", "title", "status", "detail", "instance", "errors"} <= body.keys()
    assert body["status"] == response.status_code
    return [e["field"] for e in body["errors"]]


async def create(client: httpx.AsyncClient, auth: TokenFactory, body: object) -> httpx.Response:
    return await client.post("/api/v1/parties", json=body, headers=auth("agent"))


async def test_bad_inn_check_digit(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    inn = valid_person_inn()
    wrong = inn[:-1] + str((int(inn[-1]) + 1) % 10)
    response = await create(client, auth, person_body(identifiers=[{"type": "inn", "value": wrong}]))
    assert response.status_code == 422
    assert fields_of(response) == ["body.identifiers[0].value"]
    assert response.json()["type"].endswith(":validation-error")
    assert response.json()["instance"] == "/api/v1/parties"


async def test_invalid_phone_and_several_errors_at_once(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    body = person_body(
        contact_points=[{"phone": unique_phone()}, {"phone": "12"}], identifiers=[{"type": "inn", "value": "1"}]
    )
    response = await create(client, auth, body)
    assert response.status_code == 422
    assert set(fields_of(response)) == {"body.contact_points[1].phone", "body.identifiers[0].value"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "alien", "person": {"name": {"last_name": "Иванов"}}}, "body.kind"),
        ({"kind": "person", "organization": {"legal_name": "Ромашка"}}, "body.organization"),
        (person_body("И" * 10_000), "body.person.name.last_name"),
        (person_body("Robert'); DROP TABLE parties;--"), "body.person.name.last_name"),
        (person_body(contact_points=[{"phone": 79161234567}]), "body.contact_points[0].phone"),
        (person_body(contact_points=[{"phone": "+79161234567", "primary": "yes"}]), "body.contact_points[0].primary"),
        (person_body(valid_from=20240101), "body.valid_from"),
        (person_body(valid_from="2024-02-30"), "body.valid_from"),
        (person_body(identifiers="inn"), "body.identifiers"),
        (person_body(nickname="Юра"), "body.nickname"),
        ([person_body()], "body"),
    ],
    ids=[
        "unknown-kind",
        "profile-not-of-kind",
        "10000-char-name",
        "sql-in-name",
        "number-for-string",
        "string-for-bool",
        "number-for-date",
        "impossible-date",
        "string-for-list",
        "unknown-field",
        "array-for-object",
    ],
)
async def test_field_errors(client: httpx.AsyncClient, auth: TokenFactory, body: object, field: str) -> None:
    response = await create(client, auth, body)
    assert response.status_code == 422, response.text
    assert field in fields_of(response)


async def test_sql_looking_text_is_harmless(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    """Stored verbatim where free text is allowed, and searching with it finds nothing and breaks nothing."""
    legal_name = "Ромашка'; DROP TABLE parties.party; --"
    body = {"kind": "organization", "organization": {"legal_name": legal_name}}
    created = await create(client, auth, body)
    assert created.status_code == 201, created.text
    assert created.json()["organization"]["legal_name"] == legal_name
    search = await client.get("/api/v1/parties", params={"q": "' OR 1=1 --"}, headers=auth())
    assert search.status_code in (200, 422), search.text
    again = await client.get(f"/api/v1/parties/{created.json()['party_id']}", headers=auth())
    assert again.status_code == 200


async def test_missing_and_malformed_body(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    missing = await client.post("/api/v1/parties", headers=auth())
    assert missing.status_code == 422
    assert fields_of(missing) == ["body"]
    malformed = await client.post(
        "/api/v1/parties", content=b'{"kind": "person",', headers={**auth(), "Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    assert fields_of(malformed) == ["body"]
    assert "invalid JSON" in malformed.json()["errors"][0]["reason"]
    not_json = await client.post(
        "/api/v1/parties",
        content=b"kind=person",
        headers={**auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_json.status_code == 415 and not_json.headers["content-type"] == PROBLEM


async def test_body_over_one_mebibyte(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    big = person_body(padding="x" * (1024 * 1024 + 1))
    response = await create(client, auth, big)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith(":payload-too-large")


async def test_not_found_conflicts_and_bad_ids(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    missing = await client.get(f"/api/v1/parties/{uuid.uuid4()}", headers=auth())
    assert missing.status_code == 404 and missing.json()["type"].endswith(":not-found")
    assert fields_of(missing) == []

    not_uuid = await client.get("/api/v1/parties/not-a-uuid", headers=auth())
    assert not_uuid.status_code == 422 and fields_of(not_uuid) == ["path.party_id"]

    bad_query = await client.get("/api/v1/parties", params={"page_size": 1000, "kind": "alien"}, headers=auth())
    assert bad_query.status_code == 422 and fields_of(bad_query) == ["query.kind"]
    too_many = await client.get("/api/v1/parties", params={"page_size": 1000}, headers=auth())
    assert too_many.status_code == 422 and fields_of(too_many) == ["query.page_size"]

    inn = valid_person_inn()
    first = await create(client, auth, person_body(identifiers=[{"type": "inn", "value": inn}]))
    assert first.status_code == 201, first.text
    second = await create(client, auth, person_body("Другой", identifiers=[{"type": "inn", "value": inn}]))
    assert second.status_code == 409
    assert second.json()["type"].endswith(":already-exists")
    assert second.json()["existing_id"] == first.json()["party_id"]

    bad_if_match = await client.patch(
        f"/api/v1/parties/{first.json()['party_id']}",
        json={"person": {"gender": "female"}},
        headers={**auth(), "If-Match": "yesterday"},
    )
    assert bad_if_match.status_code == 422 and fields_of(bad_if_match) == ["header.if-match"]


async def test_unknown_route_and_method(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    unknown = await client.get("/api/v1/nothing-here", headers=auth())
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    wrong_method = await client.put("/api/v1/parties", headers=auth())
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"] == PROBLEM


async def test_unavailable_dependency_is_503(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    """Erasure needs the workflow engine, which these tests do not start: a clean, retryable 503."""
    person = await create(client, auth, person_body("Сидоров", "Семён"))
    response = await client.get(
        f"/api/v1/parties/{person.json()['party_id']}/erasure-request", headers=auth("data_steward")
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "1"
    assert "temporal" not in response.text.lower()  # no internals leaked
