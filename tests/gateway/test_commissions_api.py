"""Commissions through the gateway: the real app against the real commissions and parties servers.

The sales people are parties of the register (created through the gateway); their party ids are their
participant ids, so a token whose subject is a party id is that participant. The organisation and the
plans are set up through the gateway too (POST /organisation, /plans, /plans/{plan_id}/assignments),
transactions are uploaded as CSV, the period is run, and the dashboard, statement and payroll are read
back and checked against the hand arithmetic of tests/commissions/test_service.py:

  anna  revenue 130,000, attainment 1.3 -> tier 2 at 6%: 7,800.00
  boris revenue  30,000, attainment 0.3 -> tier 0 at 2%:   600.00 (to quota 70,000; next tier 4%)
  vera  team    160,000 x 1%                          : 1,600.00
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest_asyncio

from gateway.routes.commissions import MAX_CSV_BYTES
from tests.commissions.test_service import MGR_PLAN, REP_PLAN
from tests.gateway.conftest import TokenFactory, new_person

BASE = "/api/v1/commissions"
CSV = "text/csv"


@dataclass(frozen=True)
class World:
    anna: str
    boris: str
    vera: str
    upload: httpx.Response


def _csv() -> str:
    lines = [
        "transaction_id,date,amount,currency,position_id,product,original_id",
        "t1,2026-03-05,100000,RUB,R1,loan,",
        "t2,2026-03-10,30000.00,RUB,R1,loan,",
        "t3,2026-03-12,40000,RUB,R2,loan,",
        "bad-pos,2026-03-12,500,RUB,R9,loan,",  # line 5
        "t4,2026-03-20,-10000,RUB,,loan,t3",
        "bad-cur,2026-03-12,500,USD,R1,loan,",  # line 7
        "bad-date,2026-02-30,500,RUB,R1,loan,",  # line 8
        "t1,2026-03-05,100000,RUB,R1,loan,",  # resent: a duplicate
    ]
    return "\n".join(lines) + "\n"


@pytest_asyncio.fixture(scope="module")
async def world(client: httpx.AsyncClient, auth: TokenFactory) -> AsyncIterator[World]:
    anna = await new_person(client, auth, "Смирнова", "Анна")
    boris = await new_person(client, auth, "Кузнецов", "Борис")
    vera = await new_person(client, auth, "Попова", "Вера")
    finance = auth("finance", sub="fiona")
    day = "2026-01-01"
    org = await client.post(
        f"{BASE}/organisation",
        json={
            "titles": [{"title_id": "MGR"}, {"title_id": "REP"}],
            "positions": [
                {"position_id": "M1", "title_id": "MGR", "valid_from": day},
                {"position_id": "R1", "title_id": "REP", "manager_position_id": "M1", "valid_from": day},
                {"position_id": "R2", "title_id": "REP", "manager_position_id": "M1", "valid_from": day},
            ],
            "participants": [
                {"participant_id": anna, "name": "Анна"},
                {"participant_id": boris, "name": "Борис"},
                {"participant_id": vera, "name": "Вера"},
            ],
            "assignments": [
                {"participant_id": vera, "position_id": "M1", "valid_from": day},
                {"participant_id": anna, "position_id": "R1", "valid_from": day},
                {"participant_id": boris, "position_id": "R2", "valid_from": day},
            ],
        },
        headers={**finance, "Idempotency-Key": "org-1"},
    )
    assert org.status_code == 200, org.text
    for plan, title in ((REP_PLAN, "REP"), (MGR_PLAN, "MGR")):
        saved = await client.post(f"{BASE}/plans", json={"plan": plan}, headers=finance)
        assert saved.status_code == 201, saved.text
        assigned = await client.post(
            f"{BASE}/plans/{plan['plan_id']}/assignments", json={"title_id": title, "valid_from": day}, headers=finance
        )
        assert assigned.status_code == 201, assigned.text
    upload = await client.post(
        f"{BASE}/transactions",
        content=_csv().encode(),
        headers={**auth("finance", sub="fiona"), "Content-Type": CSV},
    )
    yield World(anna, boris, vera, upload)


@pytest_asyncio.fixture(scope="module")
async def march(client: httpx.AsyncClient, auth: TokenFactory, world: World) -> dict:
    resp = await client.post(
        f"{BASE}/periods/2026-03/runs",
        json={"currency": "RUB"},
        headers={**auth("finance"), "Idempotency-Key": "run-march-1"},
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_csv_upload_reports_bad_rows_and_keeps_good_ones(world: World) -> None:
    assert world.upload.status_code == 200, world.upload.text
    body = world.upload.json()
    assert (body["rows"], body["accepted"], body["duplicates"]) == (8, 4, 1)
    rejected = {(r["line"], r["transaction_id"], r["field"]) for r in body["rejected"]}
    assert rejected == {(5, "bad-pos", "position_id"), (7, "bad-cur", "currency"), (8, "bad-date", "date")}
    assert all(r["reason"] for r in body["rejected"])


async def test_run_pays_the_hand_computed_amounts(march: dict, world: World) -> None:
    assert (march["period"], march["run_version"]) == ("2026-03", 1)
    paid = {p["participant_id"]: p["payment"] for p in march["payments"]}
    assert paid[world.anna] == {"amount": "7800.00", "currency": "RUB", "minor_units": 780_000}
    assert paid[world.boris]["amount"] == "600.00"
    assert paid[world.vera]["amount"] == "1600.00"
    assert march["total_payment"]["amount"] == "10000.00"


async def test_a_sales_person_sees_their_own_dashboard_but_not_a_colleagues(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, march: dict
) -> None:
    boris = auth("sales", sub=world.boris)
    resp = await client.get(f"{BASE}/periods/2026-03/participants/{world.boris}/dashboard", headers=boris)
    assert resp.status_code == 200, resp.text
    dash = resp.json()
    assert dash["expected_payout"]["amount"] == "600.00" and dash["run_version"] == 1
    kpi = {k["measurement_id"]: k for k in dash["kpis"]}["revenue"]
    assert (Decimal(kpi["value"]), Decimal(kpi["attainment"]), Decimal(kpi["to_quota"])) == (
        Decimal(30000),
        Decimal("0.3"),
        Decimal(70000),
    )
    assert (kpi["tier_index"], kpi["tier_rate"], kpi["next_tier_rate"], kpi["to_next_tier"]) == (
        0,
        "0.02",
        "0.04",
        "70000",
    )
    assert (kpi["rank"], kpi["peers"]) == (2, 2)

    other = await client.get(f"{BASE}/periods/2026-03/participants/{world.anna}/dashboard", headers=boris)
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")
    statement = await client.get(f"{BASE}/periods/2026-03/participants/{world.anna}/statement", headers=boris)
    assert statement.status_code == 403

    anna_dashboard = f"{BASE}/periods/2026-03/participants/{world.anna}/dashboard"
    for headers in (auth("manager", sub=world.vera), auth("finance"), auth("admin")):
        seen = await client.get(anna_dashboard, headers=headers)
        assert seen.status_code == 200, seen.text
        assert {k["measurement_id"]: k for k in seen.json()["kpis"]}["revenue"]["rank"] == 1
    # a manager sees only the participants below their position, and only with the manager role
    for headers in (
        auth("manager", sub="someone-else"),
        auth("manager", sub=world.boris),
        auth("sales", sub=world.vera),
    ):
        assert (await client.get(anna_dashboard, headers=headers)).status_code == 403
    not_then = await client.get(
        f"{BASE}/periods/2025-12/participants/{world.anna}/statement", headers=auth("manager", sub=world.vera)
    )
    assert not_then.status_code == 403  # the hierarchy starts in 2026
    assert (
        await client.get(f"{BASE}/periods/2026-03/participants/{world.anna}/dashboard", headers=auth("marketer"))
    ).status_code == 403
    assert (await client.get(f"{BASE}/periods/2026-03/participants/{world.anna}/dashboard")).status_code == 401


async def test_statement_traces_lines_to_measurements_credits_and_transactions(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, march: dict
) -> None:
    resp = await client.get(
        f"{BASE}/periods/2026-03/participants/{world.anna}/statement", headers=auth("sales", sub=world.anna)
    )
    assert resp.status_code == 200, resp.text
    st = resp.json()
    assert (st["run_version"], st["state"], st["payment"]["amount"]) == (1, "open", "7800.00")
    (line,) = st["lines"]
    assert (line["plan_id"], line["incentive_id"], line["earning_code"], line["base_measurement_id"]) == (
        "rep",
        "commission",
        "COMMISSION",
        "revenue",
    )
    assert (line["base_value"], line["quota"], line["tier_value"], line["tier_index"], line["rate"]) == (
        "130000",
        "100000",
        "1.3",
        2,
        "0.06",
    )
    assert line["amount"]["amount"] == "7800.00"
    revenue = {m["measurement_id"]: m for m in st["measurements"]}["revenue"]
    assert [(c["transaction_id"], c["rule_id"], c["level"], c["amount"]["amount"]) for c in revenue["credits"]] == [
        ("t1", "all", 0, "100000.00"),
        ("t2", "all", 0, "30000.00"),
    ]
    assert revenue["credits"][0]["credit_date"] == "2026-03-05"
    assert [(p["earning_code"], p["amount"]["amount"]) for p in st["payroll"]] == [("COMMISSION", "7800.00")]
    assert st["adjustments"] == []


async def test_payroll_csv_download(client: httpx.AsyncClient, auth: TokenFactory, world: World, march: dict) -> None:
    resp = await client.get(f"{BASE}/periods/2026-03/payroll", headers=auth("finance"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.headers["content-disposition"] == 'attachment; filename="payroll-2026-03.csv"'
    lines = resp.text.strip().splitlines()
    assert lines[0].split(",") == ["period", "participant_id", "earning_code", "amount", "currency"]
    rows = {tuple(line.split(",")[1:3]): line.split(",")[3] for line in lines[1:]}
    assert {k: Decimal(v) for k, v in rows.items()} == {
        (world.anna, "COMMISSION"): Decimal("7800.00"),
        (world.boris, "COMMISSION"): Decimal("600.00"),
        (world.vera, "COMMISSION"): Decimal("1600.00"),
    }
    denied = await client.get(f"{BASE}/periods/2026-03/payroll", headers=auth("sales", sub=world.anna))
    assert denied.status_code == 403
    for role in ("sales", "manager"):
        assert (await client.post(f"{BASE}/periods/2026-03/runs", headers=auth(role))).status_code == 403
        assert (await client.post(f"{BASE}/periods/2026-03/finalize", headers=auth(role))).status_code == 403
        upload = await client.post(f"{BASE}/transactions", content=b"x", headers={**auth(role), "Content-Type": CSV})
        assert upload.status_code == 403


def _fields(resp: httpx.Response) -> set[str]:
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return {e["field"] for e in resp.json()["errors"]}


async def test_bad_input_gets_a_problem_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, march: dict
) -> None:
    admin = auth("admin")
    for period in ("2026-13", "2026-3", "march"):
        resp = await client.get(f"{BASE}/periods/{period}/participants/{world.anna}/dashboard", headers=admin)
        assert resp.status_code == 422 and _fields(resp) == {"path.period"}, resp.text
    resp = await client.post(f"{BASE}/periods/2026-00/runs", headers=auth("finance"))
    assert resp.status_code == 422 and _fields(resp) == {"path.period"}

    unknown = await client.get(f"{BASE}/periods/2026-03/participants/nobody/statement", headers=admin)
    assert unknown.status_code == 404 and unknown.json()["type"] == "urn:crm:problem:not-found"
    never_run = await client.get(f"{BASE}/periods/2025-01/participants/{world.anna}/dashboard", headers=admin)
    assert never_run.status_code == 404
    assert (await client.get(f"{BASE}/periods/2025-01/payroll", headers=admin)).status_code == 404

    bad_currency = await client.post(f"{BASE}/periods/2026-03/runs", json={"currency": "ZZZ"}, headers=admin)
    assert bad_currency.status_code == 422 and _fields(bad_currency) == {"body.currency"}

    def upload(body: bytes, content_type: str = CSV, **params: str):  # type: ignore[no-untyped-def]
        return client.post(
            f"{BASE}/transactions", content=body, params=params, headers={**admin, "Content-Type": content_type}
        )

    header = b"transaction_id,date,amount,currency,position_id\n"
    assert (await upload(header + b"x1,2026-03-01,1,RUB,R1\n", "application/json")).status_code == 415
    empty = await upload(b"")
    assert empty.status_code == 422 and _fields(empty) == {"body"}
    no_rows = await upload(header)
    assert no_rows.status_code == 422 and _fields(no_rows) == {"body"}
    bad_header = await upload(b"transaction_id,date,ammount,currency\nx1,2026-03-01,1,RUB\n")
    assert bad_header.status_code == 422 and _fields(bad_header) == {"body.header"}
    assert {e["reason"] for e in bad_header.json()["errors"]} == {
        "unknown column 'ammount'",
        "column 'amount' is missing",
    }
    not_utf8 = await upload(header + "x1,2026-03-01,1,RUB,Р1\n".encode("cp1251"))
    assert not_utf8.status_code == 422 and _fields(not_utf8) == {"body"}
    too_wide = await upload(header + b"x1,2026-03-01,1,RUB,R1,extra\n")
    assert too_wide.status_code == 422 and _fields(too_wide) == {"body.line[2]"}
    currency = await upload(header + b"x1,2026-03-01,1,RUB,R1\n", currency="ZZZ")
    assert currency.status_code == 422 and _fields(currency) == {"query.currency"}

    big = header + b"x" * MAX_CSV_BYTES
    too_big = await upload(big)
    assert too_big.status_code == 413 and too_big.json()["type"] == "urn:crm:problem:payload-too-large"
    # the 10 MB cap is this route's: other routes keep the gateway's 1 MB
    other = await client.post(f"{BASE}/periods/2026-03/runs", content=b"{}" + b" " * (2 * 1024 * 1024), headers=admin)
    assert other.status_code == 413


async def test_finalize_then_no_more_runs(
    client: httpx.AsyncClient, auth: TokenFactory, world: World, march: dict
) -> None:
    finance = auth("finance")
    again = await client.post(f"{BASE}/periods/2026-03/runs", headers={**finance, "Idempotency-Key": "run-march-2"})
    assert again.status_code == 201 and again.json()["run_version"] == 2
    done = await client.post(f"{BASE}/periods/2026-03/finalize", headers=finance)
    assert done.status_code == 200, done.text
    assert done.json() == {"period": "2026-03", "run_version": 2, "state": "finalized"}
    refused = await client.post(f"{BASE}/periods/2026-03/runs", headers=finance)
    assert refused.status_code == 409 and refused.json()["type"] == "urn:crm:problem:failed-precondition"
    st = await client.get(f"{BASE}/periods/2026-03/participants/{world.anna}/statement", headers=finance)
    assert (st.json()["run_version"], st.json()["state"]) == (2, "finalized")
