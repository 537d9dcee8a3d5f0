"""The data steward's duplicate work through the gateway: check before creating, the review cases (list,
compare side by side, decide), merges and unmerges, and the tombstone's redirect.

This module's parties server runs with a match threshold above any score, so that every match it finds
is a possible duplicate, which opens a case (thresholds are configuration)."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio

from tests.conftest import make_settings
from tests.gateway.conftest import new_key, person_body, unique_phone


@pytest_asyncio.fixture(scope="module")
async def parties_server(parties_db_url: str) -> AsyncIterator[str]:
    from services.parties.main import start

    settings = make_settings(parties_db_url, duplicate_match_threshold=200.0, duplicate_possible_threshold=0.0)
    grpc_app, _ = await start(settings, port=0)
    yield f"127.0.0.1:{grpc_app.port}"
    await grpc_app.stop(grace=1)


def unique(stem: str) -> str:
    """A surname of its own for each test, so that only the pairs a test makes match each other."""
    return stem + "".join(random.choice("абвгдежзиклмнопрстуфхцчшщ") for _ in range(5))


def twin(last: str, phone: str, **person: object) -> dict[str, object]:
    body = person_body(last, "Роман", contact_points=[{"phone": phone}])
    body["person"].update({"birth_date": "1977-11-03", **person})  # type: ignore[union-attr]
    return body


async def create(client, auth, body) -> dict:  # type: ignore[no-untyped-def]
    resp = await client.post("/api/v1/parties", json=body, headers={**auth("agent"), "Idempotency-Key": new_key()})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_a_steward_reviews_and_merges_then_unmerges(client, auth):
    last, phone = unique("Крылов"), unique_phone()
    first = await create(client, auth, twin(last, phone))
    second = await create(client, auth, twin(last, phone))
    steward = auth("data_steward", sub="olga")

    assert (await client.get("/api/v1/duplicate-cases", headers=auth("agent"))).status_code == 403
    listed = await client.get("/api/v1/duplicate-cases", params={"party_id": first["party_id"]}, headers=steward)
    assert listed.status_code == 200, listed.text
    (case,) = listed.json()["cases"]
    assert case["status"] == "open" and case["match"]["decision"] == "possible_duplicate"
    assert {c["field"] for c in case["match"]["comparisons"]} >= {"last_name", "birth_date"}

    view = (await client.get(f"/api/v1/duplicate-cases/{case['case_id']}", headers=steward)).json()
    assert view["party"]["person"]["name"]["last_name"] == view["other_party"]["person"]["name"]["last_name"] == last

    bad = await client.post(
        f"/api/v1/duplicate-cases/{case['case_id']}/decision",
        json={"resolution": "merge", "survivor_party_id": str(uuid.uuid4())},
        headers=steward,
    )
    assert bad.status_code == 422 and any("survivor_party_id" in e["field"] for e in bad.json()["errors"])
    unknown = await client.post(
        f"/api/v1/duplicate-cases/{case['case_id']}/decision", json={"resolution": "delete"}, headers=steward
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.resolution"

    decided = await client.post(
        f"/api/v1/duplicate-cases/{case['case_id']}/decision",
        json={
            "resolution": "merge",
            "survivor_party_id": first["party_id"],
            "field_choices": [{"field": "person.gender", "take": "survivor"}],
            "note": "same man, typed twice",
        },
        headers=steward,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "merged" and decided.json()["decided_by"] == "user:olga"
    again = await client.post(
        f"/api/v1/duplicate-cases/{case['case_id']}/decision", json={"resolution": "not_duplicate"}, headers=steward
    )
    assert again.status_code == 409

    tomb = await client.get(f"/api/v1/parties/{second['party_id']}", headers=auth("agent"))
    assert tomb.status_code == 200 and tomb.json()["party_id"] == first["party_id"]
    assert tomb.headers["Content-Location"] == f"/api/v1/parties/{first['party_id']}"
    assert tomb.headers["X-Merged-Party-Id"] == second["party_id"]

    (merge,) = (await client.get(f"/api/v1/parties/{first['party_id']}/merges", headers=steward)).json()["merges"]
    assert merge["merged_party_id"] == second["party_id"] and merge["state"] == "merged"
    undone = await client.post(
        f"/api/v1/merges/{merge['merge_id']}/unmerge", json={"reason": "two brothers"}, headers=steward
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["merge"]["state"] == "unmerged" and undone.json()["restored"]["party_id"] == second["party_id"]
    back = await client.get(f"/api/v1/parties/{second['party_id']}", headers=auth("agent"))
    assert back.json()["party_id"] == second["party_id"] and "X-Merged-Party-Id" not in back.headers


async def test_check_before_create_explains_and_writes_nothing(client, auth):
    last, phone = unique("Лебедев"), unique_phone()
    existing = await create(client, auth, twin(last, phone))
    resp = await client.post("/api/v1/duplicates/check", json=twin(last, phone), headers=auth("agent"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["decision"] == "possible_duplicate"
    assert body["matches"][0]["other_party_id"] == existing["party_id"]
    bad = await client.post("/api/v1/duplicates/check", json={"kind": "person"}, headers=auth("agent"))
    assert bad.status_code == 422


async def test_merge_and_not_duplicate_routes(client, auth):
    steward = auth("data_steward")
    a = await create(client, auth, twin(unique("Зимин"), unique_phone()))
    b = await create(client, auth, twin(unique("Летов"), unique_phone()))
    self_merge = await client.post(
        f"/api/v1/parties/{a['party_id']}/merges", json={"merged_party_id": a["party_id"]}, headers=steward
    )
    assert self_merge.status_code == 422 and self_merge.json()["errors"][0]["field"] == "body.merged_party_id"
    marked = await client.post(
        f"/api/v1/parties/{a['party_id']}/not-duplicates", json={"other_party_id": b["party_id"]}, headers=steward
    )
    assert marked.status_code == 204
    merged = await client.post(
        f"/api/v1/parties/{a['party_id']}/merges",
        json={"merged_party_id": b["party_id"], "default_rule": "survivor"},
        headers=steward,
    )
    assert merged.status_code == 201, merged.text
    assert merged.json()["survivor"]["party_id"] == a["party_id"]
    assert (await client.post(f"/api/v1/parties/{a['party_id']}/merges", json={"merged_party_id": b["party_id"]},
                              headers=steward)).status_code == 409  # fmt: skip
