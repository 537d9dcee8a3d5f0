"""The parties resources end to end: HTTP -> gateway -> gRPC -> parties service -> PostgreSQL."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import TokenFactory, new_key, person_body, unique_phone, valid_person_inn

PROBLEM = "application/problem+json"


async def test_party_lifecycle(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    agent = auth("agent", sub="ivanova")
    inn, phone = valid_person_inn(), unique_phone()
    body = person_body(
        "Щербаков",
        "Юрий",
        identifiers=[{"type": "inn", "value": inn}],
        contact_points=[{"phone": phone, "primary": True, "purpose": "personal"}],
        role_types=["customer"],
        consents=[{"channel": "sms", "purpose": "marketing", "status": "granted", "evidence": "form 17"}],
        valid_from="2024-01-15",
    )
    body["person"]["birth_date"] = "1980-05-17"  # type: ignore[index]
    created = await client.post("/api/v1/parties", json=body, headers=agent)
    assert created.status_code == 201, created.text
    party = created.json()
    pid = party["party_id"]
    assert created.headers["location"] == f"/api/v1/parties/{pid}"
    assert created.headers["etag"] == '"1"'
    assert party["kind"] == "person" and party["status"] == "active" and party["version"] == 1
    assert party["person"]["birth_date"] == "1980-05-17"
    assert party["person"]["gender"] == "male"
    assert party["identifiers"][0]["type"] == "inn" and party["identifiers"][0]["value"] == inn
    assert party["identifiers"][0]["validity"]["valid_from"] == "2024-01-15"
    assert party["contact_points"][0]["type"] == "phone" and party["contact_points"][0]["phone"] == phone
    assert party["identifiers"][0]["recorded"]["actor"] == "user:ivanova"
    assert party["identifiers"][0]["recorded"]["source"] == "gateway"
    assert [r["role_type"] for r in party["roles"]] == ["customer"]

    got = await client.get(f"/api/v1/parties/{pid}", headers=agent)
    assert got.status_code == 200
    assert got.json()["display_name"] == "Щербаков Юрий"
    assert got.headers["etag"] == '"1"'

    before = await client.get(f"/api/v1/parties/{pid}", params={"as_of": "2024-01-01"}, headers=agent)
    assert before.status_code == 200 and before.json()["identifiers"] == []

    found = await client.get("/api/v1/parties", params={"q": "Shcherbakov Yurii"}, headers=agent)
    assert found.status_code == 200, found.text
    assert pid in [h["party"]["party_id"] for h in found.json()["hits"]]
    by_phone = await client.get("/api/v1/parties", params={"phone": phone, "kind": "person"}, headers=agent)
    assert [h["party"]["party_id"] for h in by_phone.json()["hits"]] == [pid]
    assert by_phone.json()["hits"][0]["party"]["primary_phone"] == phone
    by_inn = await client.get(
        "/api/v1/parties", params={"identifier_type": "inn", "identifier_value": inn}, headers=agent
    )
    assert [h["party"]["party_id"] for h in by_inn.json()["hits"]] == [pid]

    patch = {"person": {"name": {"last_name": "Щербакова"}, "gender": "female"}}
    changed = await client.patch(f"/api/v1/parties/{pid}", json=patch, headers={**agent, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.headers["etag"] == '"2"'
    assert changed.json()["display_name"] == "Щербакова Юрий"
    assert changed.json()["person"]["gender"] == "female"

    stale = await client.patch(f"/api/v1/parties/{pid}", json=patch, headers={**agent, "If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.headers["content-type"] == PROBLEM
    assert stale.json()["type"].endswith(":version-conflict")
    assert stale.json()["title"] == "Version conflict"

    cleared = await client.patch(f"/api/v1/parties/{pid}", json={"person": {"birth_date": None}}, headers=agent)
    assert cleared.status_code == 200 and cleared.json()["person"]["birth_date"] is None

    card = await client.get(f"/api/v1/parties/{pid}/card", headers=agent)
    assert card.status_code == 200, card.text
    assert card.json()["party"]["party_id"] == pid
    assert card.json()["consents"][0] == {
        "channel": "sms",
        "purpose": "marketing",
        "status": "granted",
        "evidence": "form 17",
        "recorded": card.json()["consents"][0]["recorded"],
    }

    history = await client.get(
        f"/api/v1/parties/{pid}/history", params={"field": "person.name.last_name"}, headers=agent
    )
    assert history.status_code == 200, history.text
    values = [e["value"] for e in history.json()["entries"]]
    assert "Щербаков" in values and "Щербакова" in values
    assert {e["actor"] for e in history.json()["entries"]} == {"user:ivanova"}
    consent_history = await client.get(
        f"/api/v1/parties/{pid}/history", params={"field": "consents/sms/marketing"}, headers=agent
    )
    assert consent_history.status_code == 200, consent_history.text


async def test_idempotency_key_replay_returns_the_same_party(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    headers = {**auth("sales"), "Idempotency-Key": new_key()}
    body = person_body("Петров", "Пётр", contact_points=[{"phone": unique_phone()}])
    first = await client.post("/api/v1/parties", json=body, headers=headers)
    again = await client.post("/api/v1/parties", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["party_id"] == again.json()["party_id"]
    # Another key is another request: for the same person, the register refuses a duplicate.
    other = await client.post("/api/v1/parties", json=body, headers={**headers, "Idempotency-Key": new_key()})
    assert other.status_code == 409 and other.json()["existing_id"] == first.json()["party_id"]

    too_long = await client.post("/api/v1/parties", json=body, headers={**headers, "Idempotency-Key": "k" * 129})
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["header.idempotency-key"]


async def test_items_catalogue_and_vehicles(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    """Each item route once, through the real service: catches any conversion mistake."""
    admin, agent = auth("admin", sub="root"), auth("agent")
    person = (await client.post("/api/v1/parties", json=person_body("Смирнова", "Анна"), headers=agent)).json()
    org_body = {"kind": "organization", "organization": {"legal_name": "Ромашка", "legal_form": "ООО"}}
    org = (await client.post("/api/v1/parties", json=org_body, headers=agent)).json()
    pid = person["party_id"]

    ident = await client.post(
        f"/api/v1/parties/{pid}/identifiers",
        json={"type": "inn", "value": valid_person_inn(), "valid_from": "2024-01-01"},
        headers=agent,
    )
    assert ident.status_code == 201, ident.text
    ident_id = ident.json()["identifier"]["identifier_id"]
    ended = await client.delete(f"/api/v1/parties/{pid}/identifiers/{ident_id}", headers=agent)
    assert ended.status_code == 200, ended.text
    assert ended.json()["identifier"]["validity"]["valid_to"] is not None

    cp = await client.post(
        f"/api/v1/parties/{pid}/contact-points", json={"email": "Anna.Smirnova@Example.COM"}, headers=agent
    )
    assert cp.status_code == 201, cp.text
    cp_id = cp.json()["contact_point"]["contact_point_id"]
    assert cp.json()["contact_point"]["email"] == "anna.smirnova@example.com"
    patched = await client.patch(
        f"/api/v1/parties/{pid}/contact-points/{cp_id}", json={"primary": True, "purpose": "work"}, headers=agent
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["contact_point"]["primary"] is True
    assert patched.json()["contact_point"]["email"] == "anna.smirnova@example.com"
    assert patched.json()["contact_point"]["purpose"] == "work"

    role = await client.post(f"/api/v1/parties/{pid}/roles", json={"role_type": "customer"}, headers=agent)
    assert role.status_code == 201, role.text
    again = await client.post(f"/api/v1/parties/{pid}/roles", json={"role_type": "customer"}, headers=agent)
    assert again.status_code == 409 and again.json()["existing_id"] == role.json()["role"]["role_id"]

    definition = {"code": "loyalty_tier", "name": "Loyalty tier", "value_type": "enum", "applies_to": ["person"]}
    definition["validation"] = {"allowed_values": ["silver", "gold"]}
    defined = await client.post("/api/v1/catalogue/attributes", json=definition, headers=admin)
    assert defined.status_code == 201, defined.text
    assert defined.json()["status"] == "active"
    listed = await client.get("/api/v1/catalogue/attributes", headers=agent)
    assert "loyalty_tier" in [d["code"] for d in listed.json()["definitions"]]
    attrs = await client.put(
        f"/api/v1/parties/{pid}/attributes",
        json={"values": [{"code": "loyalty_tier", "enum_value": "gold"}]},
        headers=agent,
    )
    assert attrs.status_code == 200, attrs.text
    assert attrs.json()["values"][0]["enum_value"] == "gold"
    bad_attr = await client.put(
        f"/api/v1/parties/{pid}/attributes",
        json={"values": [{"code": "loyalty_tier", "enum_value": "platinum"}]},
        headers=agent,
    )
    assert bad_attr.status_code == 422
    assert bad_attr.json()["errors"][0]["field"] == "body.values[0].enum_value"

    consent = await client.put(
        f"/api/v1/parties/{pid}/consents/email/marketing", json={"status": "withdrawn"}, headers=agent
    )
    assert consent.status_code == 200, consent.text
    assert consent.json()["consent"]["status"] == "withdrawn"
    prefs = await client.patch(
        f"/api/v1/parties/{pid}/preferences",
        json={"time_zone": "Europe/Moscow", "quiet_hours": {"start": "22:00", "end": "09:00"}},
        headers=agent,
    )
    assert prefs.status_code == 200, prefs.text
    assert prefs.json()["preferences"]["quiet_hours"] == {"start": "22:00", "end": "09:00"}
    bad_tz = await client.patch(f"/api/v1/parties/{pid}/preferences", json={"time_zone": "Mars/Base"}, headers=agent)
    assert bad_tz.status_code == 422 and bad_tz.json()["errors"][0]["field"] == "body.time_zone"

    types = (await client.get("/api/v1/catalogue/relationship-types", headers=agent)).json()["relationship_types"]
    assert "employee_of" in [t["code"] for t in types]
    relation = {"relationship_type": "employee_of", "from_party_id": pid, "to_party_id": org["party_id"]}
    rel = await client.post("/api/v1/relationships", json={**relation, "valid_from": "2024-01-01"}, headers=agent)
    assert rel.status_code == 201, rel.text
    card = (await client.get(f"/api/v1/parties/{org['party_id']}/card", headers=agent)).json()
    assert card["relationships"][0]["counterpart"]["party_id"] == pid
    assert card["relationships"][0]["label"] == "employer of"
    end = await client.post(f"/api/v1/relationships/{rel.json()['relationship_id']}/end", headers=agent)
    assert end.status_code == 200, end.text
    assert end.json()["validity"]["valid_to"] is not None

    vehicle = await client.post(
        f"/api/v1/parties/{pid}/vehicles",
        json={
            "vehicle": {"vin": "WVWZZZ1JZXW000001", "make": "VW", "model": "Golf", "model_year": 2019},
            "valid_from": "2024-01-01",
        },
        headers=agent,
    )
    assert vehicle.status_code == 201, vehicle.text
    vid = vehicle.json()["vehicle"]["vehicle_id"]
    mileage = await client.post(
        f"/api/v1/vehicles/{vid}/mileage", json={"kilometres": 12000, "read_on": "2024-03-01"}, headers=agent
    )
    assert mileage.status_code == 201, mileage.text
    assert mileage.json()["mileage"][0]["kilometres"] == 12000
    by_vin = await client.get("/api/v1/vehicles/WVWZZZ1JZXW000001", headers=agent)
    assert by_vin.status_code == 200 and by_vin.json()["vehicle"]["vehicle_id"] == vid
    other = (await client.post("/api/v1/parties", json=person_body("Орлов", "Олег"), headers=agent)).json()
    moved = await client.post(
        f"/api/v1/vehicles/{vid}/transfer", json={"to_party_id": other["party_id"]}, headers=agent
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["party_id"] == other["party_id"]

    erase_org = await client.post(f"/api/v1/parties/{org['party_id']}/erasure-request", headers=admin)
    assert erase_org.status_code == 409 and erase_org.json()["type"].endswith(":failed-precondition")

    feed = await client.get("/api/v1/changes", params={"party_id": pid, "limit": 100}, headers=auth("data_steward"))
    assert feed.status_code == 200, feed.text
    changes = feed.json()["changes"]
    assert changes[0]["change_type"] == "party.created"
    assert {c["actor"] for c in changes} >= {"user:tester"} and {c["source"] for c in changes} == {"gateway"}
    assert feed.json()["next_after"] == changes[-1]["sequence"]


async def test_bulk_import(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    rows = [
        {"row_ref": "1", "party": {**person_body("Зайцев", "Иван"), "request_id": new_key()}},
        {"row_ref": "2", "party": {**person_body("Бел0в", "Иван"), "request_id": new_key()}},
    ]
    result = await client.post("/api/v1/parties/import", json={"rows": rows}, headers=auth("data_steward"))
    assert result.status_code == 200, result.text
    assert result.json()["parties_created"] == 1
    assert result.json()["errors"][0]["row_ref"] == "2"
    assert result.json()["errors"][0]["errors"][0]["field"] == "person.name.last_name"
    denied = await client.post("/api/v1/parties/import", json={"rows": rows}, headers=auth("agent"))
    assert denied.status_code == 403
