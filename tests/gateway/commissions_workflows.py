"""For gateway tests of plan documents and disputes: a commissions server whose Temporal client points
at the session's Temporal dev server, with a worker running every workflow (its activities call that
server), and a commissions world built through the gateway.

The world: director gleb (D1) > manager vera (M1) > representatives anna (R1), boris (R2) and carl
(R3), all parties of the register created through the gateway. The representatives' plan (quota
100,000; 2% below it, 4% from 1.0, 6% from 1.2) has a target incentive of 120,000, below the 300,000
threshold above which a director approves; boris's position overrides it to 500,000. The managers'
plan pays 1% of the team and applies to the director too. March: anna sells 130,000 (1.3 -> 6%:
7,800.00), boris 30,000 (0.3 -> 2%: 600.00); the period is run once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from crm_runtime.settings import Settings
from crmctl.infra import LocalTemporal
from tests.gateway.conftest import TokenFactory, new_person
from workflows.worker import run_worker

BASE = "/api/v1/commissions"
PERIOD = "2026-03"
DAY = "2026-01-01"
#: The compensation team member who drafts and submits the documents.
OLGA = "olga"
TITLES = (("DIR", "Director"), ("MGR", "Manager"), ("REP", "Representative"))
REP_PLAN: dict[str, Any] = {
    "plan_id": "rep",
    "name": "Representatives 2026",
    "variables": {"quota": "100000", "target_incentive": "120000"},
    "credit_rules": [{"rule_id": "all"}],
    "measurements": [{"measurement_id": "revenue", "filter": {"credit_types": "DIRECT"}}],
    "incentives": [
        {
            "kind": "RATE_TABLE",
            "incentive_id": "commission",
            "base": "revenue",
            "basis": "ATTAINMENT",
            "quota": "quota",
            "tiers": [
                {"lower": "0", "upper": "1", "rate": "0.02"},
                {"lower": "1", "upper": "1.2", "rate": "0.04"},
                {"lower": "1.2", "rate": "0.06"},
            ],
        }
    ],
}
MGR_PLAN: dict[str, Any] = {
    "plan_id": "mgr",
    "measurements": [{"measurement_id": "team", "filter": {"credit_types": "INDIRECT"}}],
    "incentives": [
        {"kind": "RATE_TABLE", "incentive_id": "override", "base": "team", "tiers": [{"lower": "0", "rate": "0.01"}]}
    ],
}


@asynccontextmanager
async def commissions_with_workflows(db_url: str, temporal: LocalTemporal, **overrides: Any) -> AsyncIterator[str]:
    """A commissions server started by the real entry point, talking to the Temporal dev server on a
    task queue of its own, and a worker polling that queue; yields the server's address."""
    from services.commissions.main import start

    values: dict[str, Any] = {
        "commissions_database_url": db_url,
        "temporal_address": temporal.address,
        "temporal_namespace": temporal.namespace,
        "temporal_task_queue": f"gateway-{uuid.uuid4().hex[:8]}",
        "grpc_port": 0,
        "db_pool_size": 5,
        **overrides,
    }
    settings = Settings(**values)
    grpc_app, _ = await start(settings, port=0)
    address = f"127.0.0.1:{grpc_app.port}"
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings.model_copy(update={"commissions_address": address}), stop=stop))
    try:
        yield address
    finally:
        stop.set()
        try:
            await asyncio.wait_for(worker, timeout=30)
        finally:
            await grpc_app.stop(grace=1)


@dataclass(frozen=True)
class World:
    gleb: str
    vera: str
    anna: str
    boris: str
    carl: str


async def build_world(client: httpx.AsyncClient, auth: TokenFactory) -> World:
    """The organisation, plans and March's sales of the module docstring, set up through the gateway,
    and March run once."""
    gleb = await new_person(client, auth, "Орлов", "Глеб")
    vera = await new_person(client, auth, "Соколова", "Вера")
    anna = await new_person(client, auth, "Смирнова", "Анна")
    boris = await new_person(client, auth, "Ким", "Борис")
    carl = await new_person(client, auth, "Мартин", "Карл")
    admin = auth("admin", sub="root")
    positions = [
        {"position_id": "D1", "title_id": "DIR", "valid_from": DAY},
        {"position_id": "M1", "title_id": "MGR", "manager_position_id": "D1", "valid_from": DAY},
        *(
            {"position_id": p, "title_id": "REP", "manager_position_id": "M1", "valid_from": DAY}
            for p in ("R1", "R2", "R3")
        ),
    ]
    people = ((gleb, "D1", "Глеб Орлов"), (vera, "M1", "Вера Соколова"), (anna, "R1", "Анна Смирнова"))
    people += ((boris, "R2", "Борис Ким"), (carl, "R3", "Карл Мартин"))
    org = await client.post(
        f"{BASE}/organisation",
        json={
            "titles": [{"title_id": t, "name": n} for t, n in TITLES],
            "positions": positions,
            "participants": [{"participant_id": p, "name": n} for p, _, n in people],
            "assignments": [{"participant_id": p, "position_id": pos, "valid_from": DAY} for p, pos, _ in people],
        },
        headers=admin,
    )
    assert org.status_code == 200, org.text
    for plan in (REP_PLAN, MGR_PLAN):
        saved = await client.post(f"{BASE}/plans", json={"plan": plan}, headers=admin)
        assert saved.status_code == 201, saved.text
    for plan_id, title in (("rep", "REP"), ("mgr", "MGR"), ("mgr", "DIR")):
        assigned = await client.post(
            f"{BASE}/plans/{plan_id}/assignments", json={"title_id": title, "valid_from": DAY}, headers=admin
        )
        assert assigned.status_code == 201, assigned.text
    override = await client.post(
        f"{BASE}/plans/rep/overrides",
        json={"variable": "target_incentive", "value": "500000", "position_id": "R2", "valid_from": DAY},
        headers=admin,
    )
    assert override.status_code == 201, override.text
    csv = (
        "transaction_id,date,amount,currency,position_id,product\n"
        "a-1,2026-03-05,100000,RUB,R1,loan\n"
        "a-2,2026-03-12,30000,RUB,R1,loan\n"
        "b-1,2026-03-06,30000,RUB,R2,loan\n"
    )
    upload = await client.post(
        f"{BASE}/transactions", content=csv.encode(), headers={**auth("finance"), "Content-Type": "text/csv"}
    )
    assert upload.status_code == 200 and upload.json()["accepted"] == 3, upload.text
    run = await client.post(f"{BASE}/periods/{PERIOD}/runs", json={}, headers=auth("finance"))
    assert run.status_code == 201, run.text
    return World(gleb=gleb, vera=vera, anna=anna, boris=boris, carl=carl)


async def eventually(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 60.0) -> Any:
    """Polls an async check until it returns something truthy (workflows act after the answer)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened within {seconds:.0f} s: {what}")
        await asyncio.sleep(0.2)


def fields(resp: httpx.Response) -> set[str]:
    """The fields a problem names (asserting it is a problem document)."""
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return {e["field"] for e in resp.json()["errors"]}
