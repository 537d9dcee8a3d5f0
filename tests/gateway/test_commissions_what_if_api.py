"""What-if modelling and deal estimates through the gateway, against the real commissions service:
changed plans and overrides run on March's real data beside production (nothing stored), and what a
participant would earn with one more deal; who may ask, and bad input to both routes.

The world of commissions_workflows: anna sold 130,000 in March (attainment 1.3 -> 6%: 7,800.00), boris
30,000 (0.3 -> 2%: 600.00), both on a 100,000 quota.

  top tier 8% instead of 6%          anna 130,000 x 8% = 10,400.00 (+2,600.00, +33.33%); boris unchanged
  boris's quota 25,000               boris 30,000 / 25,000 = 1.2 -> 6%: 1,800.00 (+1,200.00)
  both                               anna +2,600.00, boris at 8%: 2,400.00 (+1,800.00): +4,400.00
  anna + a 10,000 deal               140,000 -> 6%: 8,400.00 (+600.00), no new tier
  boris + a 70,000 deal              100,000 -> 1.0 -> 4%: 4,000.00 (+3,400.00), a new tier
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest_asyncio

from tests.gateway.commissions_workflows import BASE, PERIOD, REP_PLAN, World, build_world, fields
from tests.gateway.conftest import TokenFactory

WHAT_IF = f"{BASE}/periods/{PERIOD}/what-if"


@pytest_asyncio.fixture(scope="module")
async def world(client: httpx.AsyncClient, auth: TokenFactory) -> World:
    return await build_world(client, auth)


def richer_top_tier() -> dict[str, Any]:
    plan = copy.deepcopy(REP_PLAN)
    plan["incentives"][0]["tiers"][2]["rate"] = "0.08"
    return plan


def estimate_url(participant: str, period: str = PERIOD) -> str:
    return f"{BASE}/periods/{period}/participants/{participant}/deal-estimate"


async def test_a_changed_plan_is_compared_with_production_and_nothing_is_stored(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    finance = auth("finance")
    totals = (await client.get(f"{BASE}/periods/{PERIOD}/totals", headers=finance)).json()
    resp = await client.post(WHAT_IF, json={"plans": [richer_top_tier()]}, headers=auth("compensation"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["period"] == PERIOD
    earnings = sum(float(e["amount"]["amount"]) for e in totals["earnings_by_code"])
    assert float(body["baseline_cost"]["amount"]) == earnings
    assert body["change"] == {"amount": "2600.00", "currency": "RUB", "minor_units": 260_000}
    assert float(body["scenario_cost"]["amount"]) == earnings + 2600
    assert (body["better_off"], body["worse_off"]) == (1, 0)
    assert body["unchanged"] == len(body["participants"]) - 1
    top = body["participants"][0]  # the largest change first
    assert (top["participant_id"], top["title_id"], top["change_percent"]) == (world.anna, "REP", "33.33")
    assert (top["baseline"]["amount"], top["scenario"]["amount"], top["change"]["amount"]) == (
        "7800.00",
        "10400.00",
        "2600.00",
    )
    boris = next(p for p in body["participants"] if p["participant_id"] == world.boris)
    assert (boris["change"]["amount"], boris["change_percent"]) == ("0.00", "0.00")
    incentives = {i["incentive_id"]: i for i in body["incentives"]}
    assert (incentives["commission"]["baseline"]["amount"], incentives["commission"]["change"]["amount"]) == (
        "8400.00",
        "2600.00",
    )
    assert body["seconds"] >= 0

    # production is untouched: still one run, the same statement
    runs = (await client.get(f"{BASE}/periods/{PERIOD}/runs", headers=finance)).json()["runs"]
    assert len(runs) == 1
    statement = await client.get(f"{BASE}/periods/{PERIOD}/participants/{world.anna}/statement", headers=finance)
    assert statement.json()["payment"]["amount"] == "7800.00"
    plans = (await client.get(f"{BASE}/plans/rep", headers=finance)).json()
    assert [v["version"] for v in plans["versions"]] == [1]


async def test_an_override_scenario_and_the_limit(client: httpx.AsyncClient, auth: TokenFactory, world: World) -> None:
    override = {
        "plan_id": "rep",
        "variable": "quota",
        "value": "25000",
        "position_id": "R2",
        "valid_from": "2026-01-01",
    }
    resp = await client.post(WHAT_IF, json={"overrides": [override], "limit": 1}, headers=auth("finance"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    (only,) = body["participants"]
    assert (only["participant_id"], only["baseline"]["amount"], only["scenario"]["amount"]) == (
        world.boris,
        "600.00",
        "1800.00",
    )
    assert (body["change"]["amount"], body["better_off"], body["worse_off"]) == ("1200.00", 1, 0)
    both = await client.post(
        WHAT_IF, json={"plans": [richer_top_tier()], "overrides": [override]}, headers=auth("admin")
    )
    assert both.status_code == 200 and both.json()["change"]["amount"] == "4400.00", both.text  # boris at 8%: +1,800
    for role in ("manager", "sales", "director", "marketer"):
        denied = await client.post(WHAT_IF, json={"plans": [REP_PLAN]}, headers=auth(role, sub=world.vera))
        assert denied.status_code == 403, denied.text
    assert (await client.post(WHAT_IF, json={"plans": [REP_PLAN]})).status_code == 401


async def test_a_participant_estimates_a_deal(client: httpx.AsyncClient, auth: TokenFactory, world: World) -> None:
    anna = auth("sales", sub=world.anna)
    small = await client.post(estimate_url(world.anna), json={"amount": "10000", "product": "loan"}, headers=anna)
    assert small.status_code == 200, small.text
    body = small.json()
    assert (body["participant_id"], body["period"], body["new_tier"]) == (world.anna, PERIOD, False)
    assert (body["current_payout"]["amount"], body["payout_with_deal"]["amount"], body["difference"]["amount"]) == (
        "7800.00",
        "8400.00",
        "600.00",
    )
    kpis = {k["measurement_id"]: k for k in body["kpis"]}
    assert (kpis["revenue"]["before"], kpis["revenue"]["after"]) == ("130000", "140000")
    assert (kpis["revenue"]["tier_before"], kpis["revenue"]["tier_after"]) == (None, None)
    assert (kpis["commission:tier"]["tier_before"], kpis["commission:tier"]["tier_after"]) == (2, 2)

    big = await client.post(
        estimate_url(world.boris),
        json={"amount": "70000.00", "date": "2026-03-20"},
        headers=auth("sales", sub=world.boris),
    )
    assert big.status_code == 200, big.text
    boris = big.json()
    assert (boris["current_payout"]["amount"], boris["payout_with_deal"]["amount"], boris["new_tier"]) == (
        "600.00",
        "4000.00",
        True,
    )
    tier = {k["measurement_id"]: k for k in boris["kpis"]}["commission:tier"]
    assert (tier["before"], tier["after"], tier["tier_before"], tier["tier_after"]) == ("0.3", "1", 0, 1)

    # nothing was stored: the statement and the runs are as before
    statement = await client.get(f"{BASE}/periods/{PERIOD}/participants/{world.boris}/statement", headers=auth("admin"))
    assert statement.json()["payment"]["amount"] == "600.00"
    assert len((await client.get(f"{BASE}/periods/{PERIOD}/runs", headers=auth("admin"))).json()["runs"]) == 1

    # the participant, their managers, finance, the compensation team and admins may ask
    for headers in (
        auth("manager", sub=world.vera),
        auth("manager", sub=world.gleb),
        auth("finance"),
        auth("compensation"),
        auth("admin"),
    ):
        resp = await client.post(estimate_url(world.anna), json={"amount": "1"}, headers=headers)
        assert resp.status_code == 200, resp.text
    for headers in (auth("sales", sub=world.boris), auth("manager", sub=world.boris), auth("marketer")):
        denied = await client.post(estimate_url(world.anna), json={"amount": "1"}, headers=headers)
        assert denied.status_code == 403, denied.text
    assert (await client.post(estimate_url(world.anna), json={"amount": "1"})).status_code == 401


async def test_bad_input_to_what_if_and_estimates_gets_a_problem_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    admin = auth("admin")

    async def problem(url: str, body: object, expected: set[str]) -> None:
        resp = await client.post(url, json=body, headers=admin)
        assert resp.status_code == 422, (body, resp.text)
        assert fields(resp) == expected, (body, resp.text)

    override = {"plan_id": "rep", "variable": "quota", "value": "1", "title_id": "REP", "valid_from": "2026-01-01"}
    bad_tiers = copy.deepcopy(REP_PLAN)
    bad_tiers["incentives"][0]["tiers"][1]["lower"] = "x"
    # the gateway's checks: types, sizes, unknown fields
    await problem(WHAT_IF, {"plans": REP_PLAN}, {"body.plans"})
    await problem(WHAT_IF, {"plans": ["{}"]}, {"body.plans[0]"})
    await problem(WHAT_IF, {"plans": [REP_PLAN] * 51}, {"body.plans"})
    await problem(WHAT_IF, {"plans": [REP_PLAN], "limit": 0}, {"body.limit"})
    await problem(WHAT_IF, {"plans": [REP_PLAN], "limit": 10_001}, {"body.limit"})
    await problem(WHAT_IF, {"plans": [REP_PLAN], "limit": "5"}, {"body.limit"})
    await problem(WHAT_IF, {"plans": [REP_PLAN], "name": "x"}, {"body.name"})
    await problem(WHAT_IF, {"overrides": [{**override, "value": "lots"}]}, {"body.overrides[0].value"})
    await problem(WHAT_IF, {"overrides": [{**override, "value": 1}]}, {"body.overrides[0].value"})
    no_day = {k: v for k, v in override.items() if k != "valid_from"}
    await problem(WHAT_IF, {"overrides": [no_day]}, {"body.overrides[0].valid_from"})
    await problem(WHAT_IF, {"overrides": [{**override, "plan_id": "p" * 129}]}, {"body.overrides[0].plan_id"})
    await problem(f"{BASE}/periods/2026-13/what-if", {"plans": [REP_PLAN]}, {"path.period"})
    # the service's: a scenario changes something, and what it changes must make sense
    await problem(WHAT_IF, {}, {"body.plans"})
    await problem(WHAT_IF, {"plans": [bad_tiers]}, {"body.plans[0].incentives[0].tiers[1].lower"})
    both = {**override, "position_id": "R1"}
    await problem(WHAT_IF, {"overrides": [both]}, {"body.overrides[0].title_id"})
    await problem(WHAT_IF, {"overrides": [{**override, "variable": "nope"}]}, {"body.overrides[0].variable"})

    url = estimate_url(world.anna)
    await problem(url, {}, {"body.amount"})
    await problem(url, {"amount": 100}, {"body.amount"})
    await problem(url, {"amount": "1e3"}, {"body.amount"})
    await problem(url, {"amount": "100", "date": "tomorrow"}, {"body.date"})
    await problem(url, {"amount": "100", "product": "p" * 101}, {"body.product"})
    await problem(url, {"amount": "100", "position_id": "R1"}, {"body.position_id"})
    await problem(estimate_url(world.anna, "2026-13"), {"amount": "100"}, {"path.period"})
    await problem(estimate_url("p" * 129), {"amount": "100"}, {"path.participant_id"})
    # the service's: a positive amount of at most the currency's decimals, a day of the period
    await problem(url, {"amount": "0"}, {"body.amount"})
    await problem(url, {"amount": "-5"}, {"body.amount"})
    await problem(url, {"amount": "1.234"}, {"body.amount"})
    await problem(url, {"amount": "100", "date": "2026-04-01"}, {"body.date"})
    never_run = await client.post(estimate_url(world.anna, "2026-02"), json={"amount": "100"}, headers=admin)
    assert never_run.status_code == 409 and "has not been run" in never_run.json()["detail"], never_run.text
    unknown = await client.post(estimate_url("nobody"), json={"amount": "100"}, headers=admin)
    assert unknown.status_code == 404, unknown.text


async def test_the_routes_are_documented(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/periods/{period}/what-if", "/periods/{period}/participants/{participant_id}/deal-estimate"):
        operation = paths[BASE + path]["post"]
        assert operation["description"], path
        assert list(operation["responses"]["422"]["content"]) == ["application/problem+json"], path


async def test_without_the_workflow_engine_drafts_work_and_submissions_are_503(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    """This module's commissions server has no reachable Temporal (what-if needs none): a document is
    drafted all the same, its submission answers 503 with Retry-After, and it stays a draft."""
    olga = auth("compensation", sub="olga")
    url = f"{BASE}/periods/{PERIOD}/participants/{world.carl}/plan-document"
    drafted = await client.post(url, headers=olga)
    assert drafted.status_code == 201, drafted.text
    submitted = await client.post(f"{url}/versions/1/submit", headers=olga)
    assert submitted.status_code == 503 and submitted.headers["retry-after"] == "1", submitted.text
    assert submitted.json()["type"] == "urn:crm:problem:service-unavailable"
    assert (await client.get(url, headers=olga)).json()["status"] == "DRAFT"
