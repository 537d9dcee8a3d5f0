"""The commissions journey of a sales representative, end to end through the gateway as it runs in
production (uvicorn on a real socket) over the real parties and commissions services, whose approval
and dispute workflows run on the Temporal dev server with a worker:

  a manager approves, a participant signs, the signed PDF's hash is stable; a dispute leads to an
  adjustment and a corrected statement.

The compensation team drafts and submits anna's plan document for March; vera, her manager, approves;
finance approves; anna signs. The PDF she downloads before and after signing is the same file, whose
SHA-256 is the document's pdf_hash. Then anna disputes the commission line of her March statement,
vera approves, the compensation team resolves with +500.00, and the dispute's workflow recalculates
anna: her statement shows the adjustment and a payment exactly 500.00 higher."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio

from crm_runtime.settings import Settings
from crmctl.infra import LocalTemporal, free_port
from gateway.main import serve
from tests.gateway.commissions_workflows import BASE, OLGA, PERIOD, build_world, commissions_with_workflows, eventually
from tests.gateway.conftest import TokenFactory
from tests.gateway.test_serve import wait_until_up


@pytest_asyncio.fixture(scope="module")
async def commissions_server(commissions_db_url: str, temporal_server: LocalTemporal) -> AsyncIterator[str]:
    """The commissions server of this module starts real workflows, run by a worker."""
    async with commissions_with_workflows(commissions_db_url, temporal_server) as address:
        yield address


@pytest_asyncio.fixture(scope="module")
async def gateway(gateway_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway served by uvicorn on a free port."""
    port = free_port()
    settings = gateway_settings.model_copy(update={"gateway_port": port, "log_format": "text"})
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # serve() configures the process's logging
    shutdown = asyncio.Event()
    task = asyncio.create_task(serve(settings, shutdown=shutdown))
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(f"{base}/healthz")
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            yield http
    finally:
        shutdown.set()
        await asyncio.wait_for(task, timeout=15)
        root.handlers[:] = handlers
        root.setLevel(level)


async def ok(resp: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    return dict(resp.json())


async def test_a_manager_approves_a_participant_signs_and_a_dispute_corrects_the_statement(
    gateway: httpx.AsyncClient, auth: TokenFactory
) -> None:
    world = await build_world(gateway, auth)
    olga = auth("compensation", sub=OLGA)
    vera = auth("manager", sub=world.vera)
    fiona = auth("finance", sub="fiona")
    anna = auth("sales", sub=world.anna)
    document = f"{BASE}/periods/{PERIOD}/participants/{world.anna}/plan-document"

    # -- the plan document: drafted and submitted, approved by the manager and finance, signed ----------
    drafted = await ok(await gateway.post(document, headers={**olga, "Idempotency-Key": "e2e-draft"}), 201)
    version = drafted["version"]
    submitted = await ok(await gateway.post(f"{document}/versions/{version}/submit", headers=olga))
    assert [s["step"] for s in submitted["chain"]] == ["manager", "finance", "participant"]

    async def decide(headers: dict[str, str], action: str, comment: str = "") -> httpx.Response:
        return await gateway.post(
            f"{document}/versions/{version}/decisions", json={"action": action, "comment": comment}, headers=headers
        )

    async def trail_has(url: str, action: str) -> bool:
        return action in [e["action"] for e in (await ok(await gateway.get(url, headers=olga)))["history"]]

    await eventually(lambda: trail_has(document, "submitted"), "the approval workflow records the submission")

    # anna cannot sign before her manager and finance have approved: the workflow says whose turn it is
    early = await decide(anna, "accept")
    assert early.status_code == 409 and "at the manager step" in early.json()["detail"], early.text
    assert (await ok(await decide(vera, "approve", "targets agreed")))["current_step"] == "finance"
    distributed = await ok(await decide(fiona, "approve"))
    assert (distributed["status"], distributed["current_step"]) == ("DISTRIBUTED", "participant")

    # anna finds the document to sign among her notifications, reads the PDF and signs
    inbox = await ok(await gateway.get(f"{BASE}/notifications", headers=anna))
    assert ("distributed", f"plan-approval/{PERIOD}/{world.anna}") in {
        (n["kind"], n["ref"]) for n in inbox["notifications"]
    }
    pdf_url = distributed["pdf_url"]
    read = await gateway.get(pdf_url, headers=anna)
    assert read.status_code == 200 and read.headers["content-type"] == "application/pdf", read.text
    signed = await ok(await decide(anna, "accept"))
    assert signed["status"] == "ACCEPTED"

    # the signed file is stable: the same bytes before and after the signature, downloaded twice after
    after = [await gateway.get(pdf_url, headers=headers) for headers in (anna, olga)]
    digests = {hashlib.sha256(r.content).hexdigest() for r in (read, *after)}
    assert digests == {signed["pdf_hash"]} == {drafted["pdf_hash"]}
    assert {r.headers["etag"] for r in (read, *after)} == {f'"{signed["pdf_hash"]}"'}
    assert all(r.content.startswith(b"%PDF") for r in after)
    trail = (await ok(await gateway.get(document, headers=anna)))["history"]
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("drafted", OLGA),
        ("submitted", OLGA),
        ("approved", world.vera),
        ("approved", "fiona"),
        ("distributed", "system:plan-approval"),
        ("accepted", world.anna),
    ]

    # -- a dispute of the March statement: approved by the manager, resolved with an adjustment ----------
    statement_url = f"{BASE}/periods/{PERIOD}/participants/{world.anna}/statement"
    before = await ok(await gateway.get(statement_url, headers=anna))
    (line,) = before["lines"]
    assert (line["position_id"], line["incentive_id"], before["payment"]["amount"]) == ("R1", "commission", "7800.00")
    assert before["adjustments"] == []
    opened = await ok(
        await gateway.post(
            f"{BASE}/periods/{PERIOD}/participants/{world.anna}/disputes",
            json={
                "reason": "MISSING_CREDIT",
                "text": "a deal of 25,000 closed on 31 March is missing",
                "position_id": line["position_id"],
                "incentive_id": line["incentive_id"],
                "references": ["contract 2026/0331"],
            },
            headers={**anna, "Idempotency-Key": "e2e-dispute"},
        ),
        201,
    )
    dispute = f"{BASE}/disputes/{opened['dispute_id']}"
    assert (opened["status"], opened["assignee"]) == ("open", world.vera)
    await eventually(lambda: trail_has(dispute, "opened"), "the dispute workflow records the opening")

    waiting = await ok(await gateway.get(f"{BASE}/disputes", params={"assignee": "me"}, headers=vera))
    assert opened["dispute_id"] in [d["dispute_id"] for d in waiting["disputes"]]
    approved = await ok(await gateway.post(f"{dispute}/decisions", json={"action": "approve"}, headers=vera))
    assert (approved["status"], approved["assignee"]) == ("approved", "role:compensation")
    resolved = await ok(
        await gateway.post(
            f"{dispute}/decisions",
            json={"action": "resolve", "comment": "credit for the missing deal", "adjustment": "500.00"},
            headers=olga,
        )
    )
    assert (resolved["status"], resolved["adjustment"]["amount"], resolved["adjustment_period"]) == (
        "resolved",
        "500.00",
        PERIOD,
    )

    # the dispute's workflow recalculates anna incrementally: poll her statement until it shows the adjustment
    async def corrected() -> dict[str, Any] | None:
        statement = await ok(await gateway.get(statement_url, headers=anna))
        return statement if statement["run_version"] > before["run_version"] else None

    after_statement = await eventually(corrected, "anna's statement is recalculated after the resolution")
    (adjustment,) = after_statement["adjustments"]
    assert (adjustment["adjustment_id"], adjustment["amount"]["amount"], adjustment["treatment"]) == (
        resolved["adjustment_id"],
        "500.00",
        "PAID",
    )
    assert opened["dispute_id"] in adjustment["reason"]
    assert Decimal(after_statement["payment"]["amount"]) - Decimal(before["payment"]["amount"]) == Decimal("500.00")
    assert after_statement["lines"] == before["lines"]  # the commission itself is unchanged
    runs = await ok(await gateway.get(f"{BASE}/periods/{PERIOD}/runs", headers=fiona))
    assert runs["runs"][-1]["kind"] == "INCREMENTAL"

    # anna is told, and the trail of the dispute says who did what
    told = await ok(await gateway.get(f"{BASE}/notifications", headers=anna))
    assert ("dispute_resolved", opened["workflow_id"]) in {(n["kind"], n["ref"]) for n in told["notifications"]}
    history = (await ok(await gateway.get(dispute, headers=anna)))["history"]
    assert [(e["action"], e["actor"]) for e in history] == [
        ("opened", world.anna),
        ("approved", world.vera),
        ("resolved", OLGA),
    ]
