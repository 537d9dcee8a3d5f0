"""Setting up and operating commissions through the gateway: the organisation, plans, assignments and
variable overrides, adjustments, incremental runs, run lists and totals, a manager's team, and the
prior-period adjustments a late transaction causes. The real app against the real commissions and
parties servers (a fresh database of each for this module); nothing is set up behind the API's back.

The world: vera manages (M1) the representatives anna (R1) and boris (R2). The representatives' plan
of tests/commissions/test_service.py (quota 100,000; 2% below quota, 4% from 1.0, 6% from 1.2) has
boris's quota overridden to 50,000 for his position; the managers' plan pays 1% of the team's sales.

  March, upload 1   anna 100,000 (1.0 -> 4%: 4,000.00)  boris 50,000 (1.0 -> 4%: 2,000.00)  vera 1,500.00
  run 1             INCREMENTAL asked, no earlier run: FULL, with a note saying why
  upload 2          anna +20,000 -> 120,000 (1.2 -> 6%: 7,200.00); vera 1,700.00
  run 2             INCREMENTAL
  adjustment        boris +500.00 bonus -> 2,500.00
  run 3             INCREMENTAL; March is then finalized
  late upload       anna +10,000 in March (130,000: 7,800.00, +600.00), boris's 50,000 reversed by 20,000
                    (30,000 of 50,000: 2% = 600.00, -1,400.00), vera's team 160,000 (1,600.00, -100.00)
  April             anna 100,000 (4,000.00) and boris 50,000 (2,000.00); the run carries March's
                    differences: +600.00 PAID to anna, the overpayments (OTHER) RECORDED, not deducted
  plan change       anna's quota 200,000 from April: an INCREMENTAL run runs in FULL and says why
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio

from tests.commissions.test_service import MGR_PLAN, REP_PLAN
from tests.gateway.conftest import TokenFactory, new_person

BASE = "/api/v1/commissions"
CSV = "text/csv"
DAY = "2026-01-01"
HEADER = "transaction_id,date,amount,currency,position_id,product,original_id\n"


@dataclass(frozen=True)
class World:
    anna: str
    boris: str
    vera: str
    organisation: httpx.Response
    plans: list[httpx.Response]


@dataclass(frozen=True)
class March:
    first: dict[str, Any]
    second: dict[str, Any]
    third: dict[str, Any]
    adjustment: dict[str, Any]


def _fields(resp: httpx.Response) -> set[str]:
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return {e["field"] for e in resp.json()["errors"]}


def _paid(run: dict[str, Any]) -> dict[str, str]:
    return {p["participant_id"]: p["payment"]["amount"] for p in run["payments"]}


def _organisation(anna: str, boris: str, vera: str) -> dict[str, Any]:
    return {
        "titles": [{"title_id": "MGR", "name": "Manager"}, {"title_id": "REP", "name": "Representative"}],
        "positions": [
            {"position_id": "M1", "title_id": "MGR", "valid_from": DAY},
            {"position_id": "R1", "title_id": "REP", "manager_position_id": "M1", "valid_from": DAY},
            {"position_id": "R2", "title_id": "REP", "manager_position_id": "M1", "valid_from": DAY},
        ],
        "participants": [
            {"participant_id": anna, "name": "Анна Смирнова"},
            {"participant_id": boris, "name": "Борис Кузнецов"},
            {"participant_id": vera, "name": "Вера Попова", "role": "EMPLOYEE"},
        ],
        "assignments": [
            {"participant_id": vera, "position_id": "M1", "valid_from": DAY},
            {"participant_id": anna, "position_id": "R1", "valid_from": DAY},
            {"participant_id": boris, "position_id": "R2", "valid_from": DAY, "valid_to": None},
        ],
    }


async def _upload(client: httpx.AsyncClient, auth: TokenFactory, *rows: str) -> dict[str, Any]:
    resp = await client.post(
        f"{BASE}/transactions",
        content=(HEADER + "".join(r + "\n" for r in rows)).encode(),
        headers={**auth("finance"), "Content-Type": CSV},
    )
    assert resp.status_code == 200, resp.text
    body = dict(resp.json())
    assert body["rejected"] == [], body
    return body


async def _run(client: httpx.AsyncClient, auth: TokenFactory, period: str, key: str, **body: object) -> dict[str, Any]:
    resp = await client.post(
        f"{BASE}/periods/{period}/runs", json=body, headers={**auth("finance"), "Idempotency-Key": key}
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


@pytest_asyncio.fixture(scope="module")
async def world(client: httpx.AsyncClient, auth: TokenFactory) -> AsyncIterator[World]:
    anna = await new_person(client, auth, "Смирнова", "Анна")
    boris = await new_person(client, auth, "Кузнецов", "Борис")
    vera = await new_person(client, auth, "Попова", "Вера")
    admin = auth("admin", sub="carl")
    organisation = await client.post(
        f"{BASE}/organisation",
        json=_organisation(anna, boris, vera),
        headers={**admin, "Idempotency-Key": "org-1"},
    )
    plans = [
        await client.post(f"{BASE}/plans", json={"plan": plan}, headers={**admin, "Idempotency-Key": f"plan-{n}"})
        for n, plan in enumerate((REP_PLAN, MGR_PLAN))
    ]
    for plan_id, title in (("rep", "REP"), ("mgr", "MGR")):
        assigned = await client.post(
            f"{BASE}/plans/{plan_id}/assignments", json={"title_id": title, "valid_from": DAY}, headers=admin
        )
        assert assigned.status_code == 201, assigned.text
    override = await client.post(
        f"{BASE}/plans/rep/overrides",
        json={"variable": "quota", "value": "50000", "position_id": "R2", "valid_from": DAY},
        headers=admin,
    )
    assert override.status_code == 201, override.text
    yield World(anna, boris, vera, organisation, plans)


@pytest_asyncio.fixture(scope="module")
async def march(client: httpx.AsyncClient, auth: TokenFactory, world: World) -> March:
    await _upload(client, auth, "a-03,2026-03-05,100000,RUB,R1,loan,", "b-03,2026-03-06,50000,RUB,R2,loan,")
    first = await _run(client, auth, "2026-03", "march-1", mode="INCREMENTAL")
    await _upload(client, auth, "a-03b,2026-03-15,20000,RUB,R1,loan,")
    second = await _run(client, auth, "2026-03", "march-2", mode="INCREMENTAL")
    added = await client.post(
        f"{BASE}/periods/2026-03/adjustments",
        json={"participant_id": world.boris, "amount": "500.00", "currency": "RUB", "reason": "Q1 bonus"},
        headers={**auth("finance"), "Idempotency-Key": "bonus-boris"},
    )
    assert added.status_code == 201, added.text
    third = await _run(client, auth, "2026-03", "march-3", mode="INCREMENTAL")
    return March(first, second, third, dict(added.json()))


@pytest_asyncio.fixture(scope="module")
async def april(client: httpx.AsyncClient, auth: TokenFactory, march: March) -> dict[str, Any]:
    finance = auth("finance")
    done = await client.post(f"{BASE}/periods/2026-03/finalize", headers=finance)
    assert done.status_code == 200, done.text
    await _upload(
        client,
        auth,
        "a-03c,2026-03-28,10000,RUB,R1,loan,",  # late: March is finalized
        "b-03r,2026-03-29,-20000,RUB,,loan,b-03",  # a late partial reversal of boris's March sale
        "a-04,2026-04-10,100000,RUB,R1,loan,",
        "b-04,2026-04-10,50000,RUB,R2,loan,",
    )
    return await _run(client, auth, "2026-04", "april-1")


# -- organisation and plans ------------------------------------------------------------------------


async def test_organisation_plans_assignments_and_overrides(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    assert world.organisation.status_code == 200, world.organisation.text
    assert world.organisation.json() == {"titles": 2, "positions": 3, "participants": 3, "assignments": 3}
    saved = [r.json() for r in world.plans]
    assert all(r.status_code == 201 for r in world.plans)
    assert saved == [
        {"plan_id": "rep", "version": 1, "effective_period": None},
        {"plan_id": "mgr", "version": 1, "effective_period": None},
    ]
    assert world.plans[0].headers["location"] == f"{BASE}/plans/rep"
    # the same organisation again is harmless (an Idempotency-Key retry or an unchanged resend)
    again = await client.post(
        f"{BASE}/organisation", json=_organisation(world.anna, world.boris, world.vera), headers=auth("finance")
    )
    assert again.status_code == 200, again.text

    everything = await client.get(f"{BASE}/plans", headers=auth("finance"))
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert [(v["plan_id"], v["version"]) for v in body["versions"]] == [("mgr", 1), ("rep", 1)]
    assert body["versions"][1]["plan"]["variables"] == {"quota": "100000"}
    assert {(a["plan_id"], a["title_id"], a["position_id"], a["valid_from"]) for a in body["assignments"]} == {
        ("rep", "REP", None, DAY),
        ("mgr", "MGR", None, DAY),
    }

    # a new version of rep from December: the stored plan is a JSON object, with its version
    v2 = await client.post(
        f"{BASE}/plans", json={"plan": {**REP_PLAN, "version": 7}, "effective_period": "2026-12"}, headers=auth("admin")
    )
    assert v2.status_code == 201, v2.text
    assert v2.json() == {"plan_id": "rep", "version": 2, "effective_period": "2026-12"}
    rep = await client.get(f"{BASE}/plans/rep", headers=auth("admin"))
    assert rep.status_code == 200, rep.text
    rep_body = rep.json()
    versions = {v["version"]: v for v in rep_body["versions"]}
    assert set(versions) == {1, 2} and {v["plan_id"] for v in rep_body["versions"]} == {"rep"}
    assert (versions[1]["effective_period"], versions[2]["effective_period"]) == (None, "2026-12")
    plan = versions[2]["plan"]
    assert isinstance(plan, dict) and (plan["plan_id"], plan["version"]) == ("rep", 2)
    assert plan["incentives"][0]["tiers"][2]["rate"] == "0.06"
    assert versions[2]["recorded_on"]
    # a retry with the first save's Idempotency-Key answers as the first time and stores nothing
    retry = await client.post(
        f"{BASE}/plans", json={"plan": REP_PLAN}, headers={**auth("admin"), "Idempotency-Key": "plan-0"}
    )
    assert (retry.status_code, retry.json()["version"]) == (201, 1)
    assert len((await client.get(f"{BASE}/plans/rep", headers=auth("admin"))).json()["versions"]) == 2
    assert [(a["plan_id"], a["title_id"]) for a in rep_body["assignments"]] == [("rep", "REP")]
    (override,) = rep_body["overrides"]
    assert (override["variable"], Decimal(override["value"]), override["position_id"], override["title_id"]) == (
        "quota",
        Decimal(50000),
        "R2",
        None,
    )
    assert (override["valid_from"], override["valid_to"]) == (DAY, None)
    assert isinstance(override["override_id"], int)

    # setting up the organisation and the plans is for finance and admins
    for role in ("sales", "manager", "marketer"):
        headers = auth(role, sub=world.vera)
        assert (await client.post(f"{BASE}/organisation", json={}, headers=headers)).status_code == 403
        assert (await client.post(f"{BASE}/plans", json={"plan": REP_PLAN}, headers=headers)).status_code == 403
        assert (await client.get(f"{BASE}/plans", headers=headers)).status_code == 403
        assert (await client.get(f"{BASE}/plans/rep", headers=headers)).status_code == 403
        for what in ("assignments", "overrides"):
            assert (await client.post(f"{BASE}/plans/rep/{what}", json={}, headers=headers)).status_code == 403
    assert (await client.get(f"{BASE}/plans")).status_code == 401


async def test_bad_organisation_and_plans_get_a_problem_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    admin = auth("admin")
    org = f"{BASE}/organisation"

    async def problem(url: str, body: object) -> set[str]:
        resp = await client.post(url, json=body, headers=admin)
        assert resp.status_code == 422, resp.text
        return _fields(resp)

    # the gateway's own checks: missing fields, wrong types, oversized strings, unknown fields
    assert await problem(org, {"positions": [{"position_id": "X1", "valid_from": DAY}]}) == {
        "body.positions[0].title_id"
    }
    assert await problem(
        org, {"assignments": [{"participant_id": "p", "position_id": "R1", "valid_from": 20260101}]}
    ) == {"body.assignments[0].valid_from"}
    assert await problem(org, {"titles": [{"title_id": "T" * 129}]}) == {"body.titles[0].title_id"}
    assert await problem(org, {"titles": [{"title_id": "T", "name": "n" * 201}]}) == {"body.titles[0].name"}
    assert await problem(org, {"participants": [{"participant_id": "p", "role": "BOSS"}]}) == {
        "body.participants[0].role"
    }
    assert await problem(org, {"titles": "REP"}) == {"body.titles"}
    assert await problem(org, {"title": []}) == {"body.title"}
    # the service's: the resulting organisation must hold together (a position of an unknown title)
    assert await problem(org, {"positions": [{"position_id": "X1", "title_id": "NOPE", "valid_from": DAY}]}) == {
        "body.positions[0].title_id"
    }
    # an assignment to a position that another participant already holds on those days
    two_holders = await client.post(
        org,
        json={"assignments": [{"participant_id": world.anna, "position_id": "R2", "valid_from": DAY}]},
        headers=admin,
    )
    assert two_holders.status_code == 422 and _fields(two_holders) == {"body.assignments"}
    assert "'R2' has two holders" in two_holders.json()["errors"][0]["reason"]

    plans = f"{BASE}/plans"
    assert await problem(plans, {}) == {"body.plan"}
    assert await problem(plans, {"plan": "{}"}) == {"body.plan"}  # the plan is an object, not JSON text
    assert await problem(plans, {"plan": REP_PLAN, "effective_period": "2026-13"}) == {"body.effective_period"}
    assert await problem(plans, {"plan": REP_PLAN, "effective_period": 202603}) == {"body.effective_period"}
    tiers = [{"lower": "0", "upper": "1", "rate": "0.02"}, {"lower": "x", "rate": "0.04"}]
    bad_tiers = {**REP_PLAN, "incentives": [{**REP_PLAN["incentives"][0], "tiers": tiers}]}  # type: ignore[index]
    assert await problem(plans, {"plan": bad_tiers}) == {"body.plan.incentives[0].tiers[1].lower"}
    no_id = {k: v for k, v in REP_PLAN.items() if k != "plan_id"}
    assert await problem(plans, {"plan": no_id}) == {"body.plan.plan_id"}

    assert (await client.get(f"{BASE}/plans/nope", headers=admin)).status_code == 404
    assert (await client.get(f"{BASE}/plans/{'p' * 129}", headers=admin)).status_code == 422
    for what, body in (
        ("assignments", {"title_id": "REP", "valid_from": DAY}),
        ("overrides", {"variable": "quota", "value": "1", "title_id": "REP", "valid_from": DAY}),
    ):
        unknown = await client.post(f"{BASE}/plans/nope/{what}", json=body, headers=admin)
        assert unknown.status_code == 404 and unknown.json()["type"] == "urn:crm:problem:not-found", unknown.text

    assign = f"{BASE}/plans/rep/assignments"
    assert await problem(assign, {"title_id": "REP"}) == {"body.valid_from"}
    assert await problem(assign, {"title_id": "REP", "position_id": "R1", "valid_from": DAY}) == {"body.title_id"}
    assert await problem(assign, {"valid_from": DAY}) == {"body.title_id"}
    assert await problem(assign, {"title_id": "REP", "valid_from": "2026-02-30"}) == {"body.valid_from"}
    assert await problem(assign, {"position_id": "P" * 129, "valid_from": DAY}) == {"body.position_id"}

    overrides = f"{BASE}/plans/rep/overrides"
    base = {"variable": "quota", "value": "60000", "title_id": "REP", "valid_from": DAY}
    assert await problem(overrides, {**base, "value": "lots"}) == {"body.value"}
    assert await problem(overrides, {**base, "value": 60000}) == {"body.value"}  # decimal text, not a number
    assert await problem(overrides, {k: v for k, v in base.items() if k != "variable"}) == {"body.variable"}
    assert await problem(overrides, {**base, "variable": "v" * 129}) == {"body.variable"}
    assert await problem(overrides, {**base, "variable": "nope"}) == {"body.variable"}  # not declared by the plan


# -- runs, adjustments, team -----------------------------------------------------------------------


async def test_an_incremental_run_without_an_earlier_run_runs_in_full_and_says_why(march: March, world: World) -> None:
    first = march.first
    assert (first["period"], first["run_version"], first["kind"]) == ("2026-03", 1, "FULL")
    assert first["note"] and "no earlier run" in first["note"]
    assert _paid(first) == {world.anna: "4000.00", world.boris: "2000.00", world.vera: "1500.00"}
    assert first["prior_period_adjustments"] == []


async def test_an_incremental_run_after_a_second_upload(march: March, world: World) -> None:
    second = march.second
    assert (second["run_version"], second["kind"], second["note"]) == (2, "INCREMENTAL", None)
    assert second["recomputed_participants"] >= 1
    assert _paid(second) == {world.anna: "7200.00", world.boris: "2000.00", world.vera: "1700.00"}
    assert second["total_payment"]["amount"] == "10900.00"


async def test_adjustments_are_listed_and_paid_by_the_next_run(
    client: httpx.AsyncClient, auth: TokenFactory, march: March, world: World
) -> None:
    assert march.adjustment["period"] == "2026-03" and march.adjustment["adjustment_id"]
    third = march.third
    assert (third["run_version"], third["kind"], third["recomputed_participants"]) == (3, "INCREMENTAL", 1)
    assert _paid(third) == {world.anna: "7200.00", world.boris: "2500.00", world.vera: "1700.00"}

    retry = await client.post(
        f"{BASE}/periods/2026-03/adjustments",
        json={"participant_id": world.boris, "amount": "500.00", "currency": "RUB", "reason": "Q1 bonus"},
        headers={**auth("finance"), "Idempotency-Key": "bonus-boris"},
    )
    assert retry.status_code == 201 and retry.json() == march.adjustment  # a retry records nothing new
    listed = await client.get(f"{BASE}/periods/2026-03/adjustments", headers=auth("finance"))
    assert listed.status_code == 200, listed.text
    (line,) = listed.json()["adjustments"]
    assert line["adjustment_id"] == march.adjustment["adjustment_id"]
    assert (line["participant_id"], line["amount"], line["reason"]) == (
        world.boris,
        {"amount": "500.00", "currency": "RUB", "minor_units": 50_000},
        "Q1 bonus",
    )
    assert (line["overpayment_class"], line["origin_period"], line["period"]) == (None, None, "2026-03")
    only_anna = await client.get(
        f"{BASE}/periods/2026-03/adjustments", params={"participant_id": world.anna}, headers=auth("admin")
    )
    assert only_anna.status_code == 200 and only_anna.json() == {"period": "2026-03", "adjustments": []}

    st = await client.get(
        f"{BASE}/periods/2026-03/participants/{world.boris}/statement", headers=auth("sales", sub=world.boris)
    )
    assert st.status_code == 200, st.text
    (paid,) = st.json()["adjustments"]
    assert (paid["adjustment_id"], paid["amount"]["amount"], paid["treatment"], paid["origin_period"]) == (
        march.adjustment["adjustment_id"],
        "500.00",
        "PAID",
        None,
    )
    for role in ("sales", "manager"):
        headers = auth(role, sub=world.vera)
        assert (await client.get(f"{BASE}/periods/2026-03/adjustments", headers=headers)).status_code == 403
        body = {"participant_id": world.boris, "amount": "1", "reason": "x"}
        added = await client.post(f"{BASE}/periods/2026-03/adjustments", json=body, headers=headers)
        assert added.status_code == 403


async def test_a_manager_sees_their_own_team(
    client: httpx.AsyncClient, auth: TokenFactory, march: March, world: World
) -> None:
    url = f"{BASE}/periods/2026-03/participants/{world.vera}/team"
    resp = await client.get(url, headers=auth("manager", sub=world.vera))
    assert resp.status_code == 200, resp.text
    team = resp.json()
    assert (team["manager_id"], team["period"], team["run_version"]) == (world.vera, "2026-03", 3)
    members = {m["participant_id"]: m for m in team["members"]}
    assert set(members) == {world.anna, world.boris}
    anna = members[world.anna]
    assert (anna["name"], anna["position_id"], anna["title_id"]) == ("Анна Смирнова", "R1", "REP")
    assert anna["expected_payout"]["amount"] == "7200.00"
    assert members[world.boris]["expected_payout"]["amount"] == "2500.00"
    headline = anna["headline"]
    assert (headline["measurement_id"], Decimal(headline["attainment"]), headline["tier_index"]) == (
        "revenue",
        Decimal("1.2"),
        2,
    )
    assert (headline["tier_rate"], headline["rank"], headline["peers"]) == ("0.06", 1, 2)
    boris_headline = members[world.boris]["headline"]
    assert (Decimal(boris_headline["quota"]), Decimal(boris_headline["attainment"])) == (Decimal(50000), 1)
    assert team["team_expected_payout"]["amount"] == "9700.00"
    for headers in (auth("finance"), auth("admin")):
        assert (await client.get(url, headers=headers)).status_code == 200

    # a participant cannot read another's team, nor a manager someone else's; one's own needs role manager
    for headers in (
        auth("sales", sub=world.anna),
        auth("manager", sub=world.anna),
        auth("sales", sub=world.vera),
        auth("marketer", sub=world.vera),
    ):
        denied = await client.get(url, headers=headers)
        assert denied.status_code == 403 and denied.json()["type"] == "urn:crm:problem:forbidden", denied.text
    assert (await client.get(url)).status_code == 401
    # a representative's team is empty
    own = await client.get(
        f"{BASE}/periods/2026-03/participants/{world.anna}/team", headers=auth("manager", sub=world.anna)
    )
    assert own.status_code == 200 and own.json()["members"] == []


async def test_finance_lists_runs_and_reads_their_totals(
    client: httpx.AsyncClient, auth: TokenFactory, march: March, world: World
) -> None:
    finance = auth("finance")
    runs = await client.get(f"{BASE}/periods/2026-03/runs", headers=finance)
    assert runs.status_code == 200, runs.text
    body = runs.json()
    assert (body["period"], body["state"]) == ("2026-03", "open")
    assert [(r["run_version"], r["kind"], r["payees"], r["finalized"]) for r in body["runs"]] == [
        (1, "FULL", 3, False),
        (2, "INCREMENTAL", 3, False),
        (3, "INCREMENTAL", 3, False),
    ]
    assert [r["total_payment"]["amount"] for r in body["runs"]] == ["7500.00", "10900.00", "11400.00"]
    assert all(r["recorded_at"] for r in body["runs"])

    latest = await client.get(f"{BASE}/periods/2026-03/totals", headers=finance)
    assert latest.status_code == 200, latest.text
    t = latest.json()
    assert (t["period"], t["run_version"], t["kind"], t["state"], t["payees"]) == (
        "2026-03",
        3,
        "INCREMENTAL",
        "open",
        3,
    )
    assert (t["total_payment"]["amount"], t["manual_adjustments"]["amount"]) == ("11400.00", "500.00")
    assert (t["previous_run_version"], t["change_in_total_payment"]["amount"], t["participants_changed"]) == (
        2,
        "500.00",
        1,
    )
    assert t["prior_period_adjustments"]["amount"] == "0.00"
    codes = {e["earning_code"]: e["amount"]["amount"] for e in t["earnings_by_code"]}
    assert codes["COMMISSION"] == "10900.00"
    first = await client.get(f"{BASE}/periods/2026-03/totals", params={"run_version": 1}, headers=finance)
    assert first.status_code == 200, first.text
    assert (first.json()["run_version"], first.json()["previous_run_version"]) == (1, None)
    assert (await client.get(f"{BASE}/periods/2026-03/totals", headers=auth("admin"))).status_code == 200

    # a participant (and a manager) may not read the totals nor the runs
    for headers in (auth("sales", sub=world.anna), auth("manager", sub=world.vera)):
        assert (await client.get(f"{BASE}/periods/2026-03/totals", headers=headers)).status_code == 403
        assert (await client.get(f"{BASE}/periods/2026-03/runs", headers=headers)).status_code == 403


async def test_bad_input_to_runs_adjustments_totals_and_team(
    client: httpx.AsyncClient, auth: TokenFactory, march: March, world: World
) -> None:
    finance = auth("finance")
    for url in (
        f"{BASE}/periods/2026-13/runs",
        f"{BASE}/periods/2026-13/totals",
        f"{BASE}/periods/2026-13/adjustments",
        f"{BASE}/periods/2026-13/participants/{world.vera}/team",
    ):
        resp = await client.get(url, headers=finance)
        assert resp.status_code == 422 and _fields(resp) == {"path.period"}, (url, resp.text)
    never = "2025-01"
    for url in (f"{BASE}/periods/{never}/runs", f"{BASE}/periods/{never}/totals"):
        assert (await client.get(url, headers=finance)).status_code == 404
    assert (
        await client.get(f"{BASE}/periods/{never}/participants/{world.vera}/team", headers=finance)
    ).status_code == 404
    unknown_manager = await client.get(f"{BASE}/periods/2026-03/participants/nobody/team", headers=finance)
    assert unknown_manager.status_code == 404
    long_id = await client.get(f"{BASE}/periods/2026-03/participants/{'m' * 129}/team", headers=finance)
    assert long_id.status_code == 422 and _fields(long_id) == {"path.manager_id"}

    totals = f"{BASE}/periods/2026-03/totals"
    for value in ("0", "-1", "two"):
        resp = await client.get(totals, params={"run_version": value}, headers=finance)
        assert resp.status_code == 422 and _fields(resp) == {"query.run_version"}, resp.text
    assert (await client.get(totals, params={"run_version": 99}, headers=finance)).status_code == 404
    long_query = await client.get(
        f"{BASE}/periods/2026-03/adjustments", params={"participant_id": "p" * 129}, headers=finance
    )
    assert long_query.status_code == 422 and _fields(long_query) == {"query.participant_id"}

    runs = f"{BASE}/periods/2026-03/runs"

    async def run_problem(body: object) -> set[str]:
        resp = await client.post(runs, json=body, headers=finance)
        assert resp.status_code == 422, resp.text
        return _fields(resp)

    assert await run_problem({"mode": "PARTIAL"}) == {"body.mode"}
    assert await run_problem({"mode": "incremental"}) == {"body.mode"}
    assert await run_problem({"participant_ids": [world.anna]}) == {"body.participant_ids"}  # FULL takes none
    assert await run_problem({"mode": "INCREMENTAL", "participant_ids": ["nobody"]}) == {"body.participant_ids"}
    assert await run_problem({"mode": "INCREMENTAL", "participant_ids": world.anna}) == {"body.participant_ids"}
    assert await run_problem({"mode": "INCREMENTAL", "participant_ids": ["p" * 129]}) == {"body.participant_ids[0]"}
    assert (await client.post(f"{BASE}/periods/2026-13/runs", json={}, headers=finance)).status_code == 422

    adjustments = f"{BASE}/periods/2026-03/adjustments"
    good = {"participant_id": world.anna, "amount": "100.00", "reason": "fix"}

    async def adjustment_problem(body: object, url: str = adjustments) -> set[str]:
        resp = await client.post(url, json=body, headers=finance)
        assert resp.status_code == 422, resp.text
        return _fields(resp)

    assert await adjustment_problem(good, f"{BASE}/periods/2026-13/adjustments") == {"path.period"}
    assert await adjustment_problem({k: v for k, v in good.items() if k != "reason"}) == {"body.reason"}
    assert await adjustment_problem({k: v for k, v in good.items() if k != "participant_id"}) == {"body.participant_id"}
    assert await adjustment_problem({**good, "amount": 100}) == {"body.amount"}  # decimal text, not a number
    assert await adjustment_problem({**good, "amount": "1.234"}) == {"body.amount"}  # finer than kopecks
    assert await adjustment_problem({**good, "amount": "1e3"}) == {"body.amount"}
    assert await adjustment_problem({**good, "amount": "0.00"}) == {"body.amount"}
    assert await adjustment_problem({**good, "currency": "ZZZ"}) == {"body.currency"}
    assert await adjustment_problem({**good, "reason": "r" * 501}) == {"body.reason"}
    assert await adjustment_problem({**good, "reason": "   "}) == {"body.reason"}
    assert await adjustment_problem({**good, "participant_id": "nobody"}) == {"body.participant_id"}
    assert await adjustment_problem({**good, "participant_id": "p" * 129}) == {"body.participant_id"}
    assert await adjustment_problem({**good, "amount": "-100"}) == {"body.overpayment_class"}
    assert await adjustment_problem({**good, "amount": "-100", "overpayment_class": "MISTAKE"}) == {
        "body.overpayment_class"
    }
    # nothing of that was written
    listed = await client.get(adjustments, params={"participant_id": world.anna}, headers=finance)
    assert listed.json()["adjustments"] == []


async def test_a_late_transaction_after_finalize_is_a_prior_period_adjustment(
    client: httpx.AsyncClient, auth: TokenFactory, april: dict[str, Any], world: World
) -> None:
    finance = auth("finance")
    runs = await client.get(f"{BASE}/periods/2026-03/runs", headers=finance)
    assert runs.json()["state"] == "finalized" and runs.json()["runs"][-1]["finalized"] is True
    late = await client.post(
        f"{BASE}/periods/2026-03/adjustments",
        json={"participant_id": world.anna, "amount": "1", "reason": "too late"},
        headers=finance,
    )
    assert late.status_code == 409 and late.json()["type"] == "urn:crm:problem:failed-precondition"

    assert (april["period"], april["run_version"], april["kind"]) == ("2026-04", 1, "FULL")
    lines = {a["participant_id"]: a for a in april["prior_period_adjustments"]}
    assert {a["origin_period"] for a in april["prior_period_adjustments"]} == {"2026-03"}
    assert {a["period"] for a in april["prior_period_adjustments"]} == {"2026-04"}
    anna = lines[world.anna]
    assert (anna["amount"]["amount"], anna["treatment"], anna["overpayment_class"]) == ("600.00", "PAID", None)
    assert (anna["position_id"], anna["incentive_id"]) == ("R1", "commission")
    boris = lines[world.boris]
    assert (boris["amount"]["amount"], boris["overpayment_class"], boris["treatment"]) == (
        "-1400.00",
        "OTHER",
        "RECORDED",
    )
    vera = lines[world.vera]
    assert (vera["amount"]["amount"], vera["overpayment_class"], vera["treatment"], vera["incentive_id"]) == (
        "-100.00",
        "OTHER",
        "RECORDED",
        "override",
    )
    assert {a["reason"] for a in april["prior_period_adjustments"]} == {"late change to the finalized period 2026-03"}
    # anna is paid the difference; the overpayments are recorded, not deducted
    assert _paid(april) == {world.anna: "4600.00", world.boris: "2000.00", world.vera: "1500.00"}

    st = await client.get(
        f"{BASE}/periods/2026-04/participants/{world.anna}/statement", headers=auth("sales", sub=world.anna)
    )
    assert st.status_code == 200, st.text
    (line,) = [a for a in st.json()["adjustments"] if a["origin_period"] == "2026-03"]
    assert (line["adjustment_id"], line["amount"]["amount"], line["treatment"], line["period"]) == (
        anna["adjustment_id"],
        "600.00",
        "PAID",
        "2026-04",
    )
    totals = await client.get(f"{BASE}/periods/2026-04/totals", headers=finance)
    assert totals.status_code == 200, totals.text
    ppa_total = sum(Decimal(a["amount"]["amount"]) for a in april["prior_period_adjustments"])
    assert Decimal(totals.json()["prior_period_adjustments"]["amount"]) == ppa_total


async def test_an_incremental_run_after_a_plan_change_runs_in_full(
    client: httpx.AsyncClient, auth: TokenFactory, april: dict[str, Any], world: World
) -> None:
    # anna's quota doubles from April: 100,000 of 200,000 -> 2% (2,000.00), plus March's 600.00
    override = await client.post(
        f"{BASE}/plans/rep/overrides",
        json={"variable": "quota", "value": "200000", "position_id": "R1", "valid_from": "2026-04-01"},
        headers=auth("admin"),
    )
    assert override.status_code == 201, override.text
    again = await _run(client, auth, "2026-04", "april-2", mode="INCREMENTAL")
    assert (again["run_version"], again["kind"]) == (2, "FULL")
    assert "plans changed" in again["note"]
    assert _paid(again)[world.anna] == "2600.00"
    assert {a["participant_id"] for a in again["prior_period_adjustments"]} == {world.anna, world.boris, world.vera}


async def test_the_new_routes_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path, method in (
        ("/organisation", "post"),
        ("/plans", "post"),
        ("/plans", "get"),
        ("/plans/{plan_id}", "get"),
        ("/plans/{plan_id}/assignments", "post"),
        ("/plans/{plan_id}/overrides", "post"),
        ("/periods/{period}/adjustments", "post"),
        ("/periods/{period}/adjustments", "get"),
        ("/periods/{period}/runs", "get"),
        ("/periods/{period}/totals", "get"),
        ("/periods/{period}/participants/{manager_id}/team", "get"),
    ):
        operation = paths[BASE + path][method]
        assert operation["description"], path
        assert list(operation["responses"]["422"]["content"]) == ["application/problem+json"], path
    schemas = spec["components"]["schemas"]
    assert schemas["OverpaymentClass"]["enum"] == ["CALCULATION_ERROR", "EMPLOYEE_FAULT", "OTHER"]
    assert schemas["RunMode"]["enum"] == ["FULL", "INCREMENTAL"]
    assert "adjustments" in schemas["Statement"]["properties"]
    assert {"kind", "note", "prior_period_adjustments"} <= set(schemas["Run"]["properties"])
