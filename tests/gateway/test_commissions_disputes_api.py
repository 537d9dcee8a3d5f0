"""Commission disputes through the gateway: a participant opens one on a statement line or a
transaction, their manager and then the compensation team decide in the dispute's workflow (on the
Temporal dev server, see commissions_workflows), a resolution becomes an adjustment; who reads and
lists which disputes, the report, the notifications, and bad input to every route.

The gateway only authenticates decisions: who may decide what is the workflow's rule, and a decision
that is not the caller's to take comes back as a 409 carrying the workflow's reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio

from crmctl.infra import LocalTemporal
from tests.gateway.commissions_workflows import (
    BASE,
    OLGA,
    PERIOD,
    World,
    build_world,
    commissions_with_workflows,
    eventually,
    fields,
)
from tests.gateway.conftest import TokenFactory


@pytest_asyncio.fixture(scope="module")
async def commissions_server(commissions_db_url: str, temporal_server: LocalTemporal) -> AsyncIterator[str]:
    """This module's commissions server starts real workflows (the default one has no Temporal)."""
    async with commissions_with_workflows(commissions_db_url, temporal_server) as address:
        yield address


@pytest_asyncio.fixture(scope="module")
async def world(client: httpx.AsyncClient, auth: TokenFactory) -> World:
    return await build_world(client, auth)


@dataclass(frozen=True)
class Cases:
    """The disputes the module's tests open: anna's (resolved), boris's on a transaction (rejected),
    carl's (withdrawn) and boris's on his statement line (left open)."""

    resolved: dict[str, Any]
    rejected: dict[str, Any]
    withdrawn: dict[str, Any]
    still_open: dict[str, Any]


def disputes_url(participant: str, period: str = PERIOD) -> str:
    return f"{BASE}/periods/{period}/participants/{participant}/disputes"


def line(text: str = "the rate should be 6%", **extra: Any) -> dict[str, Any]:
    return {
        "reason": "WRONG_RATE",
        "text": text,
        "position_id": "R1",
        "incentive_id": "commission",
        "references": ["ticket-42"],
        **extra,
    }


async def open_dispute(
    client: httpx.AsyncClient, auth: TokenFactory, participant: str, body: dict[str, Any], **headers: str
) -> dict[str, Any]:
    resp = await client.post(
        disputes_url(participant), json=body, headers={**auth("sales", sub=participant), **headers}
    )
    assert resp.status_code == 201, resp.text
    opened = dict(resp.json())
    await recorded(client, auth, opened["dispute_id"], "opened")
    return opened


async def recorded(client: httpx.AsyncClient, auth: TokenFactory, dispute_id: str, action: str) -> dict[str, Any]:
    """Waits until the dispute workflow recorded the action (it records the opening on its own)."""

    async def check() -> dict[str, Any] | None:
        resp = await client.get(f"{BASE}/disputes/{dispute_id}", headers=auth("admin"))
        assert resp.status_code == 200, resp.text
        return resp.json() if action in [e["action"] for e in resp.json()["history"]] else None

    return dict(await eventually(check, f"{action} of dispute {dispute_id} is recorded"))


async def decide(
    client: httpx.AsyncClient, headers: dict[str, str], dispute_id: str, action: str, comment: str = "", **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{BASE}/disputes/{dispute_id}/decisions", json={"action": action, "comment": comment, **extra}, headers=headers
    )


def refused(resp: httpx.Response, reason: str) -> None:
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["type"] == "urn:crm:problem:failed-precondition", body
    assert reason in body["detail"], body["detail"]


@pytest_asyncio.fixture(scope="module")
async def cases(client: httpx.AsyncClient, auth: TokenFactory, world: World) -> Cases:
    """Every dispute of the module, taken through its workflow (the tests then check what it led to)."""
    anna, vera = auth("sales", sub=world.anna), auth("manager", sub=world.vera)
    olga = auth("compensation", sub=OLGA)
    first = await open_dispute(client, auth, world.anna, line(), **{"Idempotency-Key": "anna-1"})
    d = first["dispute_id"]
    # the manager asks, anna answers, the manager approves, the compensation team resolves
    assert (await decide(client, vera, d, "request_info", "which deal?")).status_code == 200
    assert (await decide(client, anna, d, "provide_info", "deal a-2 was credited at 4%")).status_code == 200
    assert (await decide(client, vera, d, "approve", "agreed")).status_code == 200
    resolved = await decide(client, olga, d, "resolve", "rate corrected", adjustment="500.00")
    assert resolved.status_code == 200, resolved.text

    second = await open_dispute(
        client, auth, world.boris, {"reason": "MISSING_CREDIT", "text": "b-1 was larger", "transaction_id": "b-1"}
    )
    rejected = await decide(client, vera, second["dispute_id"], "reject", "the contract says 30,000")
    assert rejected.status_code == 200, rejected.text

    third = await open_dispute(
        client, auth, world.carl, {"reason": "SPLIT", "text": "I co-sold a-1", "transaction_id": "a-1"}
    )
    withdrawn = await decide(client, auth("sales", sub=world.carl), third["dispute_id"], "withdraw")
    assert withdrawn.status_code == 200, withdrawn.text

    fourth = await open_dispute(
        client, auth, world.boris, line("my quota is 50,000", reason="WRONG_AMOUNT", position_id="R2", references=[])
    )
    return Cases(first, rejected.json(), withdrawn.json(), fourth)


async def test_a_dispute_goes_from_the_manager_to_the_compensation_team_and_is_resolved(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, cases: Cases
) -> None:
    opened = cases.resolved
    assert (opened["participant_id"], opened["period"], opened["reason"], opened["status"]) == (
        world.anna,
        PERIOD,
        "WRONG_RATE",
        "open",
    )
    assert (opened["position_id"], opened["incentive_id"], opened["transaction_id"], opened["references"]) == (
        "R1",
        "commission",
        None,
        ["ticket-42"],
    )
    assert (opened["assignee"], opened["manager_id"], opened["adjustment"], opened["closed_at"]) == (
        world.vera,
        world.vera,
        None,
        None,
    )
    d = opened["dispute_id"]
    assert opened["workflow_id"] == f"dispute/{PERIOD}/{world.anna}/{d}" and opened["opened_at"]
    # the Idempotency-Key of the opening makes a retry answer the same dispute
    retry = await client.post(
        disputes_url(world.anna), json=line(), headers={**auth("sales", sub=world.anna), "Idempotency-Key": "anna-1"}
    )
    assert retry.status_code == 201 and retry.json()["dispute_id"] == d

    done = await client.get(f"{BASE}/disputes/{d}", headers=auth("sales", sub=world.anna))
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["assignee"], body["adjustment_id"], body["adjustment_period"]) == (
        "resolved",
        None,
        f"DSP:{d}",
        PERIOD,
    )
    assert body["adjustment"] == {"amount": "500.00", "currency": "RUB", "minor_units": 50_000}
    assert body["closed_at"]
    assert [(e["action"], e["actor"], e["comment"]) for e in body["history"]] == [
        ("opened", world.anna, None),
        ("info_requested", world.vera, "which deal?"),
        ("info_provided", world.anna, "deal a-2 was credited at 4%"),
        ("approved", world.vera, "agreed"),
        ("resolved", OLGA, "rate corrected"),
    ]
    assert all(e["version"] is None and e["at"] for e in body["history"])
    # the resolution is an adjustment of the open period, and the workflow recalculates anna
    adjustments = await client.get(
        f"{BASE}/periods/{PERIOD}/adjustments", params={"participant_id": world.anna}, headers=auth("finance")
    )
    (adjustment,) = adjustments.json()["adjustments"]
    assert (adjustment["adjustment_id"], adjustment["amount"]["amount"]) == (f"DSP:{d}", "500.00")
    assert f"dispute {d}" in adjustment["reason"] and "rate corrected" in adjustment["reason"]
    refused(await decide(client, auth("compensation"), d, "reject", "no"), "the dispute is closed (resolved)")

    # the others: rejected by the manager, withdrawn by the participant
    assert (cases.rejected["status"], cases.rejected["transaction_id"], cases.rejected["closed_at"] is not None) == (
        "rejected",
        "b-1",
        True,
    )
    assert (cases.withdrawn["status"], cases.withdrawn["reason"]) == ("withdrawn", "SPLIT")
    assert (cases.still_open["status"], cases.still_open["assignee"]) == ("open", world.vera)


async def test_the_workflow_refuses_decisions_that_are_not_the_callers(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, cases: Cases
) -> None:
    d = cases.still_open["dispute_id"]
    anna, boris = auth("sales", sub=world.anna), auth("sales", sub=world.boris)
    vera = auth("manager", sub=world.vera)
    refused(
        await decide(client, anna, d, "approve"), f"the dispute is {world.vera}'s to decide now, not {world.anna}'s"
    )
    refused(await decide(client, boris, d, "approve"), f"not {world.boris}'s")
    # a manager who is not boris's, even with every role: the workflow names people, not roles
    refused(await decide(client, auth("manager", "finance", "compensation", sub=world.carl), d, "approve"), "to decide")
    refused(
        await decide(client, auth("compensation"), d, "resolve", adjustment="10"),
        "while the dispute is open the actions are: approve, reject, request_info",
    )
    refused(await decide(client, vera, d, "reject"), "reject needs a comment")
    refused(await decide(client, vera, d, "request_info"), "request_info needs a comment")
    refused(await decide(client, anna, d, "withdraw"), "only the participant who opened the dispute may withdraw it")
    # approved, it is the compensation team's (role compensation), not finance's before an escalation
    assert (await decide(client, vera, d, "approve")).status_code == 200
    refused(await decide(client, auth("finance"), d, "resolve", adjustment="10"), "role:compensation's to decide now")
    refused(await decide(client, vera, d, "approve"), "while the dispute is approved the actions are: resolve, reject")
    for closed in (cases.rejected, cases.withdrawn):
        refused(await decide(client, auth("admin"), closed["dispute_id"], "approve"), f"closed ({closed['status']})")
    still = await client.get(f"{BASE}/disputes/{d}", headers=auth("admin"))
    assert (still.json()["status"], still.json()["assignee"]) == ("approved", "role:compensation")


async def test_who_reads_a_dispute(client: httpx.AsyncClient, auth: TokenFactory, world: World, cases: Cases) -> None:
    url = f"{BASE}/disputes/{cases.resolved['dispute_id']}"
    for headers in (
        auth("sales", sub=world.anna),  # the participant
        auth("marketer", sub=world.vera),  # the dispute's manager
        auth("manager", sub=world.gleb),  # a manager above anna
        auth("director", sub=world.gleb),
        auth("compensation"),
        auth("finance"),
        auth("admin"),
    ):
        resp = await client.get(url, headers=headers)
        assert resp.status_code == 200, (headers, resp.text)
    for headers in (auth("sales", sub=world.boris), auth("manager", sub=world.carl), auth("marketer")):
        denied = await client.get(url, headers=headers)
        assert denied.status_code == 403 and denied.json()["type"] == "urn:crm:problem:forbidden", denied.text
    # the compensation team reads what waits for it (and so would role compensation anyway)
    waiting = f"{BASE}/disputes/{cases.still_open['dispute_id']}"
    assert (await client.get(waiting, headers=auth("compensation", sub="clara"))).status_code == 200
    assert (await client.get(url)).status_code == 401
    unknown = await client.get(f"{BASE}/disputes/00000000-0000-0000-0000-000000000000", headers=auth("admin"))
    assert unknown.status_code == 404 and unknown.json()["type"] == "urn:crm:problem:not-found", unknown.text
    # opening a dispute is for the participant themselves (or an admin)
    for headers in (auth("manager", sub=world.vera), auth("compensation"), auth("finance"), auth("sales")):
        denied = await client.post(disputes_url(world.anna), json=line(), headers=headers)
        assert denied.status_code == 403, denied.text
    by_admin = await client.post(disputes_url(world.anna), json=line("on anna's behalf"), headers=auth("admin"))
    assert by_admin.status_code == 201, by_admin.text
    await recorded(client, auth, by_admin.json()["dispute_id"], "opened")
    withdrawn = await decide(client, auth("sales", sub=world.anna), by_admin.json()["dispute_id"], "withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn", withdrawn.text


async def test_who_lists_disputes_and_reads_the_report(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, cases: Cases
) -> None:
    url = f"{BASE}/disputes"
    olga = auth("compensation", sub=OLGA)
    everything = await client.get(url, params={"period": PERIOD}, headers=olga)
    assert everything.status_code == 200, everything.text
    listed = everything.json()["disputes"]
    ids = [x["dispute_id"] for x in listed]
    for case in (cases.resolved, cases.rejected, cases.withdrawn, cases.still_open):
        assert case["dispute_id"] in ids
    assert [x["opened_at"] for x in listed] == sorted(x["opened_at"] for x in listed)
    assert all(x["history"] == [] for x in listed)
    resolved = await client.get(url, params={"status": "resolved"}, headers=auth("finance"))
    assert [x["dispute_id"] for x in resolved.json()["disputes"]] == [cases.resolved["dispute_id"]]
    assert (await client.get(url, params={"period": "2026-04"}, headers=auth("admin"))).json() == {"disputes": []}
    team = await client.get(url, params={"assignee": "role:compensation"}, headers=olga)
    assert cases.still_open["dispute_id"] in [x["dispute_id"] for x in team.json()["disputes"]]

    # a participant lists their own; a manager what waits for them; neither anyone else's
    own = await client.get(url, params={"participant_id": "me"}, headers=auth("sales", sub=world.boris))
    assert own.status_code == 200, own.text
    assert {x["participant_id"] for x in own.json()["disputes"]} == {world.boris}
    assert len(own.json()["disputes"]) == 2
    boris_waiting = await client.get(url, params={"assignee": "me"}, headers=auth("manager", sub=world.vera))
    assert boris_waiting.status_code == 200, boris_waiting.text
    assert all(x["assignee"] == world.vera for x in boris_waiting.json()["disputes"])
    for params, headers in (
        ({}, auth("manager", sub=world.vera)),
        ({"assignee": world.gleb}, auth("manager", sub=world.vera)),
        ({"assignee": "me"}, auth("sales", sub=world.vera)),
        ({"participant_id": world.anna}, auth("sales", sub=world.boris)),
        ({"participant_id": "me", "assignee": world.vera}, auth("sales", sub=world.boris)),
        ({}, auth("sales", sub=world.boris)),
        ({"period": PERIOD}, auth("director", sub=world.gleb)),
    ):
        denied = await client.get(url, params=params, headers=headers)
        assert denied.status_code == 403, (params, denied.text)

    report = await client.get(f"{BASE}/disputes/report", params={"period": PERIOD}, headers=auth("finance"))
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["period"] == PERIOD
    still_open = [x for x in listed if x["status"] not in ("resolved", "rejected", "withdrawn")]
    assert body["open"] == len(still_open) == sum(b["count"] for b in body["open_by_age"])
    assert {(b["reason"], b["age"]) for b in body["open_by_age"]} <= {(x["reason"], "0-2d") for x in still_open}
    times = {r["reason"]: r for r in body["resolution"]}
    assert set(times) == {"WRONG_RATE", "MISSING_CREDIT"}  # withdrawn disputes are no resolution
    assert times["WRONG_RATE"]["closed"] == 1 and 0 <= times["WRONG_RATE"]["p90_hours"] < 1
    whole = await client.get(f"{BASE}/disputes/report", headers=auth("compensation"))
    assert whole.status_code == 200 and whole.json()["period"] is None
    for role in ("manager", "sales", "director"):
        assert (await client.get(f"{BASE}/disputes/report", headers=auth(role))).status_code == 403


async def test_the_people_involved_are_notified(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, cases: Cases
) -> None:
    ref = cases.resolved["workflow_id"]

    async def kinds(headers: dict[str, str]) -> list[tuple[str, str]]:
        resp = await client.get(f"{BASE}/notifications", params={"limit": 200}, headers=headers)
        assert resp.status_code == 200, resp.text
        return [(n["recipient"], n["kind"]) for n in resp.json()["notifications"] if n["ref"] == ref]

    anna = await kinds(auth("sales", sub=world.anna))
    assert anna == [
        (world.anna, "dispute_resolved"),
        (world.anna, "dispute_approved"),
        (world.anna, "dispute_info_requested"),
    ]
    assert await kinds(auth("manager", sub=world.vera)) == [
        (world.vera, "dispute_info_provided"),
        (world.vera, "dispute_opened"),
    ]
    assert await kinds(auth("compensation", sub="clara")) == [("role:compensation", "dispute_approved")]


async def test_bad_input_to_the_dispute_routes_gets_a_problem_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, cases: Cases
) -> None:
    anna = auth("sales", sub=world.anna)

    async def problem(body: object, expected: set[str], url: str | None = None) -> None:
        resp = await client.post(url or disputes_url(world.anna), json=body, headers=anna)
        assert resp.status_code == 422, (body, resp.text)
        assert fields(resp) == expected, (body, resp.text)

    good = line()
    # the gateway's checks: missing fields, wrong types, oversized strings, unknown fields and values
    await problem({k: v for k, v in good.items() if k != "reason"}, {"body.reason"})
    await problem({**good, "reason": "GREED"}, {"body.reason"})
    await problem({**good, "reason": "wrong_rate"}, {"body.reason"})
    await problem({k: v for k, v in good.items() if k != "text"}, {"body.text"})
    await problem({**good, "text": 42}, {"body.text"})
    await problem({**good, "text": "t" * 2001}, {"body.text"})
    await problem({**good, "position_id": "p" * 129}, {"body.position_id"})
    await problem({**good, "references": "ticket-42"}, {"body.references"})
    await problem({**good, "references": [f"r{i}" for i in range(11)]}, {"body.references"})
    await problem({**good, "references": ["r" * 201]}, {"body.references[0]"})
    await problem({**good, "amount": "1"}, {"body.amount"})
    await problem(good, {"path.period"}, disputes_url(world.anna, "2026-13"))
    await problem(good, {"path.participant_id"}, disputes_url("p" * 129))
    # the service's: what is disputed must exist and be one thing
    await problem({**good, "text": "   "}, {"body.text"})
    await problem({**good, "transaction_id": "a-1"}, {"body.transaction_id"})
    await problem({**good, "incentive_id": ""}, {"body.incentive_id"})
    await problem({**good, "incentive_id": "bonus"}, {"body.incentive_id"})
    await problem({"reason": "OTHER", "text": "x"}, {"body.transaction_id"})
    await problem({"reason": "OTHER", "text": "x", "transaction_id": "nope"}, {"body.transaction_id"})
    never_run = await client.post(disputes_url(world.anna, "2026-02"), json=good, headers=anna)
    assert never_run.status_code == 409 and "has not been run" in never_run.json()["detail"], never_run.text
    unknown = await client.post(disputes_url("nobody"), json=good, headers=auth("admin"))
    assert unknown.status_code == 404, unknown.text

    d = cases.still_open["dispute_id"]
    decisions = f"{BASE}/disputes/{d}/decisions"
    olga = auth("compensation", sub=OLGA)
    await problem({}, {"body.action"}, decisions)
    await problem({"action": "close"}, {"body.action"}, decisions)
    await problem({"action": "approve", "comment": "c" * 2001}, {"body.comment"}, decisions)
    await problem({"action": "approve", "comment": ["c"]}, {"body.comment"}, decisions)
    await problem({"action": "resolve", "adjustment": 500}, {"body.adjustment"}, decisions)
    await problem({"action": "resolve", "adjustment": "five hundred"}, {"body.adjustment"}, decisions)
    await problem({"action": "resolve", "adjustment": "1.234"}, {"body.adjustment"}, decisions)
    await problem({"action": "resolve", "adjustment": "10", "currency": "RUBLES"}, {"body.currency"}, decisions)
    await problem({"action": "resolve", "adjustment": "10", "currency": "R1"}, {"body.currency"}, decisions)
    await problem(
        {"action": "resolve", "adjustment": "10", "overpayment_class": "OOPS"}, {"body.overpayment_class"}, decisions
    )
    await problem({"action": "resolve", "adjustment": "10", "actor": world.vera}, {"body.actor"}, decisions)
    # the service's: a resolution names a non-zero adjustment, a negative one its class; only it has one
    for body, field in (
        ({"action": "resolve"}, "body.adjustment"),
        ({"action": "resolve", "adjustment": "0.00"}, "body.adjustment"),
        ({"action": "resolve", "adjustment": "-100"}, "body.overpayment_class"),
        ({"action": "reject", "comment": "no", "adjustment": "100"}, "body.adjustment"),
    ):
        resp = await client.post(decisions, json=body, headers=olga)
        assert resp.status_code == 422 and fields(resp) == {field}, (body, resp.text)
    for url in (f"{BASE}/disputes/nope/decisions", f"{BASE}/disputes/00000000-0000-0000-0000-000000000000/decisions"):
        missing = await client.post(url, json={"action": "approve"}, headers=olga)
        assert missing.status_code == 404, missing.text
        resolving = await client.post(url, json={"action": "resolve", "adjustment": "5"}, headers=olga)
        assert resolving.status_code == 404, resolving.text
    long_id = await client.get(f"{BASE}/disputes/{'d' * 129}", headers=olga)
    assert long_id.status_code == 422 and fields(long_id) == {"path.dispute_id"}
    await problem({"action": "approve"}, {"path.dispute_id"}, f"{BASE}/disputes/{'d' * 129}/decisions")

    for params, field in (
        ({"period": "2026-13"}, "query.period"),
        ({"period": "march"}, "query.period"),
        ({"status": "closed"}, "query.status"),
        ({"assignee": "a" * 129}, "query.assignee"),
        ({"participant_id": "p" * 129}, "query.participant_id"),
    ):
        resp = await client.get(f"{BASE}/disputes", params=params, headers=olga)
        assert resp.status_code == 422 and fields(resp) == {field}, (params, resp.text)
    for period in ("2026-13", "26-03"):
        resp = await client.get(f"{BASE}/disputes/report", params={"period": period}, headers=olga)
        assert resp.status_code == 422 and fields(resp) == {"query.period"}, resp.text
    # none of that changed the open dispute
    still = await client.get(f"{BASE}/disputes/{d}", headers=olga)
    assert still.json()["adjustment"] is None


async def test_the_routes_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path, method in (
        ("/periods/{period}/participants/{participant_id}/disputes", "post"),
        ("/disputes", "get"),
        ("/disputes/report", "get"),
        ("/disputes/{dispute_id}", "get"),
        ("/disputes/{dispute_id}/decisions", "post"),
    ):
        operation = paths[BASE + path][method]
        assert operation["description"], path
        assert list(operation["responses"]["422"]["content"]) == ["application/problem+json"], path
    assert "409" in paths[BASE + "/disputes/{dispute_id}/decisions"]["post"]["responses"]
    schemas = spec["components"]["schemas"]
    assert schemas["DisputeReason"]["enum"] == [
        "MISSING_CREDIT",
        "WRONG_AMOUNT",
        "WRONG_RATE",
        "SPLIT",
        "REVERSAL",
        "OTHER",
    ]
    action = schemas["DisputeDecisionIn"]["properties"]["action"]
    assert action["enum"] == ["approve", "reject", "request_info", "provide_info", "resolve", "withdraw"]
