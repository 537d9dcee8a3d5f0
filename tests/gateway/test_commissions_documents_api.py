"""Individual plan documents through the gateway: drafting, submission, decisions, the audit trail, the
PDF download, listings, distribution to a plan population and the notifications on the way. The real
app against the real parties and commissions servers; the commissions server starts the approval
workflows on the Temporal dev server, where a worker runs them (see commissions_workflows).

The gateway only authenticates decisions: who may decide what is the workflow's rule, and a decision
that is not the caller's to take comes back as a 409 carrying the workflow's reason."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
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


def doc_url(participant: str, tail: str = "") -> str:
    return f"{BASE}/periods/{PERIOD}/participants/{participant}/plan-document{tail}"


async def decide(
    client: httpx.AsyncClient, headers: dict[str, str], participant: str, version: int, action: str, comment: str = ""
) -> httpx.Response:
    return await client.post(
        doc_url(participant, f"/versions/{version}/decisions"),
        json={"action": action, "comment": comment},
        headers=headers,
    )


async def draft_and_submit(client: httpx.AsyncClient, auth: TokenFactory, participant: str) -> dict[str, Any]:
    drafted = await client.post(doc_url(participant), headers=auth("compensation", sub=OLGA))
    assert drafted.status_code == 201, drafted.text
    version = drafted.json()["version"]
    submitted = await client.post(
        doc_url(participant, f"/versions/{version}/submit"), headers=auth("compensation", sub=OLGA)
    )
    assert submitted.status_code == 200, submitted.text
    await recorded(client, auth, participant, version, "submitted")
    return dict(submitted.json())


async def recorded(client: httpx.AsyncClient, auth: TokenFactory, participant: str, version: int, action: str) -> None:
    """Waits until the approval workflow recorded the action (it records the submission on its own)."""

    async def check() -> bool:
        resp = await client.get(doc_url(participant), headers=auth("admin"))
        return any((e["version"], e["action"]) == (version, action) for e in resp.json()["history"])

    await eventually(check, f"{action} v{version} of {participant}'s document is recorded")


def refused(resp: httpx.Response, reason: str) -> None:
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["type"] == "urn:crm:problem:failed-precondition", body
    assert reason in body["detail"], body["detail"]


async def test_a_document_is_approved_by_the_manager_and_finance_and_signed(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    olga = auth("compensation", sub=OLGA)
    drafted = await client.post(doc_url(world.anna), json={"language": "en"}, headers={**olga, "Idempotency-Key": "d1"})
    assert drafted.status_code == 201, drafted.text
    assert drafted.headers["location"] == doc_url(world.anna)
    doc = drafted.json()
    assert (doc["document_id"], doc["participant_id"], doc["period"]) == (
        f"plan-doc/{PERIOD}/{world.anna}",
        world.anna,
        PERIOD,
    )
    assert (doc["version"], doc["status"], doc["author"], doc["plan_id"], doc["plan_version"]) == (
        1,
        "DRAFT",
        OLGA,
        "rep",
        1,
    )
    assert doc["target_incentive"] == {"amount": "120000.00", "currency": "RUB", "minor_units": 12_000_000}
    assert len(doc["content_hash"]) == 64 and len(doc["pdf_hash"]) == 64
    assert (doc["chain"], doc["current_step"], doc["workflow_id"], doc["comment"]) == ([], None, None, None)
    assert doc["pdf_url"] == doc_url(world.anna, "/versions/1.pdf")
    assert isinstance(doc["terms"], dict) and doc["terms"]
    # unchanged terms drafted again are the same version; a retried request answers the same
    again = await client.post(doc_url(world.anna), json={"language": "en"}, headers=olga)
    assert again.status_code == 201 and again.json()["version"] == 1 and again.json()["pdf_hash"] == doc["pdf_hash"]
    retry = await client.post(doc_url(world.anna), json={"language": "en"}, headers={**olga, "Idempotency-Key": "d1"})
    assert retry.json() == doc

    submitted = await client.post(doc_url(world.anna, "/versions/1/submit"), headers=olga)
    assert submitted.status_code == 200, submitted.text
    sub = submitted.json()
    assert (sub["status"], sub["current_step"], sub["workflow_id"]) == (
        "IN_APPROVAL",
        "manager",
        f"plan-approval/{PERIOD}/{world.anna}",
    )
    assert [(s["step"], s["assignee"], s["escalation_assignee"]) for s in sub["chain"]] == [
        ("manager", world.vera, world.gleb),
        ("finance", "role:finance", "role:admin"),
        ("participant", world.anna, None),
    ]
    await recorded(client, auth, world.anna, 1, "submitted")
    resubmitted = await client.post(doc_url(world.anna, "/versions/1/submit"), headers=olga)
    assert resubmitted.status_code == 200 and resubmitted.json()["status"] == "IN_APPROVAL"

    # the workflow refuses what is not the caller's to decide, saying why; nothing changes
    vera, fiona, anna = auth("manager", sub=world.vera), auth("finance", sub="fiona"), auth("sales", sub=world.anna)
    refused(await decide(client, anna, world.anna, 1, "approve"), f"the manager step is for {world.vera} to decide")
    refused(await decide(client, fiona, world.anna, 1, "approve"), "not for fiona")
    refused(await decide(client, vera, world.anna, 1, "accept"), "at the manager step the actions are")
    refused(await decide(client, vera, world.anna, 1, "return"), "a return needs a comment")
    refused(await decide(client, anna, world.anna, 1, "withdraw"), f"only the author ({OLGA}) may withdraw")
    still = await client.get(doc_url(world.anna), headers=olga)
    assert (still.json()["status"], still.json()["current_step"]) == ("IN_APPROVAL", "manager")

    approved = await decide(client, vera, world.anna, 1, "approve", "fine")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["current_step"]) == ("IN_APPROVAL", "finance")
    refused(await decide(client, vera, world.anna, 1, "approve"), "the finance step is for role:finance to decide")
    distributed = await decide(client, fiona, world.anna, 1, "approve")
    assert distributed.status_code == 200, distributed.text
    assert (distributed.json()["status"], distributed.json()["current_step"]) == ("DISTRIBUTED", "participant")

    first_pdf = await client.get(doc_url(world.anna, "/versions/1.pdf"), headers=anna)
    assert first_pdf.status_code == 200, first_pdf.text
    accepted = await decide(client, anna, world.anna, 1, "accept")
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["current_step"]) == ("ACCEPTED", None)
    refused(await decide(client, anna, world.anna, 1, "accept"), "closed")

    # the signed file: the same bytes before and after the signature, whose SHA-256 is pdf_hash
    signed = await client.get(doc_url(world.anna, "/versions/1.pdf"), headers=anna)
    assert signed.status_code == 200, signed.text
    assert signed.headers["content-type"] == "application/pdf" and signed.content.startswith(b"%PDF")
    digest = hashlib.sha256(signed.content).hexdigest()
    assert (
        digest == doc["pdf_hash"] == signed.headers["x-content-sha256"] == hashlib.sha256(first_pdf.content).hexdigest()
    )
    assert signed.headers["etag"] == f'"{digest}"'
    assert signed.headers["content-disposition"] == f'attachment; filename="plan-{PERIOD}-{world.anna}-v1.pdf"'
    cached = await client.get(doc_url(world.anna, "/versions/1.pdf"), headers={**anna, "If-None-Match": f'"{digest}"'})
    assert cached.status_code == 304 and cached.content == b""

    # the audit trail
    full = await client.get(doc_url(world.anna), headers=anna)
    assert full.status_code == 200, full.text
    body = full.json()
    assert body["status"] == "ACCEPTED" and body["pdf_hash"] == digest
    trail = [(e["version"], e["action"], e["actor"]) for e in body["history"]]
    assert trail == [
        (1, "drafted", OLGA),
        (1, "submitted", OLGA),
        (1, "approved", world.vera),
        (1, "approved", "fiona"),
        (1, "distributed", "system:plan-approval"),
        (1, "accepted", world.anna),
    ]
    assert body["history"][2]["comment"] == "fine" and all(e["at"] for e in body["history"])
    assert (await client.get(doc_url(world.anna), params={"version": 1}, headers=anna)).json()["version"] == 1

    # the notifications on the way: anna was asked to sign, finance's team inbox to approve, olga told
    seen = await client.get(f"{BASE}/notifications", headers=anna)
    assert seen.status_code == 200, seen.text
    assert seen.json()["recipients"] == [world.anna, "role:sales"]
    assert [(n["kind"], n["ref"]) for n in seen.json()["notifications"]] == [
        ("distributed", f"plan-approval/{PERIOD}/{world.anna}")
    ]
    team = (await client.get(f"{BASE}/notifications", headers=auth("finance", sub="fred"))).json()
    assert {(n["recipient"], n["kind"]) for n in team["notifications"]} == {("role:finance", "approved")}
    authored = (await client.get(f"{BASE}/notifications", headers=olga)).json()["notifications"]
    assert [(n["recipient"], n["kind"]) for n in authored] == [(OLGA, "accepted")]
    manager = (await client.get(f"{BASE}/notifications", headers=vera)).json()["notifications"]
    assert (world.vera, "submitted") in {(n["recipient"], n["kind"]) for n in manager}


async def test_a_returned_document_is_redrafted_and_resubmitted_and_a_director_approves(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    olga = auth("compensation", sub=OLGA)
    vera, gleb = auth("manager", sub=world.vera), auth("director", sub=world.gleb)
    boris = auth("sales", sub=world.boris)
    doc = await draft_and_submit(client, auth, world.boris)
    # boris's target incentive (500,000) is above the director threshold: gleb, at the top, approves too
    assert [(s["step"], s["assignee"]) for s in doc["chain"]] == [
        ("manager", world.vera),
        ("finance", "role:finance"),
        ("director", world.gleb),
        ("participant", world.boris),
    ]
    returned = await decide(client, vera, world.boris, 1, "return", "the quota looks wrong")
    assert returned.status_code == 200, returned.text
    assert (returned.json()["status"], returned.json()["current_step"], returned.json()["comment"]) == (
        "RETURNED",
        "revision",
        "the quota looks wrong",
    )
    refused(await decide(client, vera, world.boris, 1, "approve"), "with its author")
    # the author redrafts (a returned version makes a new one even with the same terms) and resubmits it
    v2 = await client.post(doc_url(world.boris), headers=olga)
    assert v2.status_code == 201 and v2.json()["version"] == 2 and v2.json()["status"] == "DRAFT", v2.text
    refused(await decide(client, vera, world.boris, 2, "resubmit"), f"only the author ({OLGA}) may resubmit")
    refused(await decide(client, olga, world.boris, 1, "resubmit"), "resubmit a newly drafted version")
    resubmitted = await decide(client, olga, world.boris, 2, "resubmit")
    assert resubmitted.status_code == 200, resubmitted.text
    assert (resubmitted.json()["version"], resubmitted.json()["status"], resubmitted.json()["current_step"]) == (
        2,
        "IN_APPROVAL",
        "manager",
    )
    refused(await decide(client, vera, world.boris, 1, "approve"), "version 2 is current")
    for headers in (vera, auth("finance", sub="fiona")):
        assert (await decide(client, headers, world.boris, 2, "approve")).status_code == 200
    # the director reads what they approve: a director above boris's position
    assert (await client.get(doc_url(world.boris), headers=gleb)).status_code == 200
    refused(await decide(client, boris, world.boris, 2, "accept"), "at the director step")
    distributed = await decide(client, gleb, world.boris, 2, "approve")
    assert distributed.status_code == 200 and distributed.json()["status"] == "DISTRIBUTED", distributed.text
    # boris refuses to sign: back to the author, with his comment
    rejected = await decide(client, boris, world.boris, 2, "reject", "I never agreed to this quota")
    assert rejected.status_code == 200 and rejected.json()["status"] == "RETURNED", rejected.text
    history = (await client.get(doc_url(world.boris), headers=boris)).json()
    assert [(e["version"], e["action"]) for e in history["history"]] == [
        (1, "drafted"),
        (1, "submitted"),
        (1, "returned"),
        (2, "drafted"),
        (2, "resubmitted"),
        (2, "approved"),
        (2, "approved"),
        (2, "approved"),
        (2, "distributed"),
        (2, "rejected"),
    ]
    v1 = (await client.get(doc_url(world.boris), params={"version": 1}, headers=boris)).json()
    assert v1["status"] == "SUPERSEDED"


async def test_the_author_withdraws_a_document(client: httpx.AsyncClient, auth: TokenFactory, world: World) -> None:
    olga = auth("compensation", sub=OLGA)
    await draft_and_submit(client, auth, world.carl)
    refused(await decide(client, auth("compensation", sub="other"), world.carl, 1, "withdraw"), "only the author")
    withdrawn = await decide(client, olga, world.carl, 1, "withdraw", "wrong plan")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "WITHDRAWN", withdrawn.text
    refused(await decide(client, auth("manager", sub=world.vera), world.carl, 1, "approve"), "closed (withdrawn)")
    # the manager was told
    told = (await client.get(f"{BASE}/notifications", headers=auth("manager", sub=world.vera))).json()
    assert any(n["kind"] == "withdrawn" and world.carl in n["ref"] for n in told["notifications"])


async def test_who_reads_a_document(client: httpx.AsyncClient, auth: TokenFactory, world: World) -> None:
    await eventually(
        lambda: _status(client, auth, world.anna, "ACCEPTED"), "anna's document is accepted (first test)", 5
    )
    url, pdf = doc_url(world.anna), doc_url(world.anna, "/versions/1.pdf")
    for headers in (
        auth("sales", sub=world.anna),  # the participant
        auth("manager", sub=world.vera),  # their manager
        auth("director", sub=world.gleb),  # the director above them
        auth("compensation"),
        auth("finance"),
        auth("admin"),
        auth("marketer", sub=world.vera),  # named by the document's approval chain
    ):
        assert (await client.get(url, headers=headers)).status_code == 200, headers
        assert (await client.get(pdf, headers=headers)).status_code == 200, headers
    for headers in (
        auth("sales", sub=world.boris),  # a colleague
        auth("manager", sub=world.boris),  # a manager who does not manage anna
        auth("marketer"),
        auth("data_steward", sub=world.carl),
    ):
        for target in (url, pdf):
            denied = await client.get(target, headers=headers)
            assert denied.status_code == 403 and denied.json()["type"] == "urn:crm:problem:forbidden", denied.text
    # nobody learns more about a document they may not read: no document is a 403 too
    assert (await client.get(doc_url(world.gleb), headers=auth("sales", sub=world.boris))).status_code == 403
    assert (await client.get(url)).status_code == 401
    # drafting, submitting and distributing are for the compensation team and admins
    for role in ("finance", "manager", "sales", "director"):
        headers = auth(role, sub=world.vera)
        assert (await client.post(doc_url(world.carl), headers=headers)).status_code == 403
        assert (await client.post(doc_url(world.carl, "/versions/1/submit"), headers=headers)).status_code == 403
        assert (
            await client.post(f"{BASE}/periods/{PERIOD}/plans/rep/distribution", headers=headers)
        ).status_code == 403
        assert (await client.get(f"{BASE}/periods/{PERIOD}/plans/rep/distribution", headers=headers)).status_code == 403
    assert (await decide(client, {}, world.anna, 1, "approve")).status_code == 401


async def _status(client: httpx.AsyncClient, auth: TokenFactory, participant: str, status: str) -> bool:
    resp = await client.get(doc_url(participant), headers=auth("admin"))
    return resp.status_code == 200 and resp.json()["status"] == status


async def test_the_compensation_team_lists_documents_by_status_and_assignee(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    await draft_and_submit(client, auth, world.vera)  # waits for gleb, her manager
    url = f"{BASE}/periods/{PERIOD}/plan-documents"
    olga = auth("compensation", sub=OLGA)
    everything = await client.get(url, headers=olga)
    assert everything.status_code == 200, everything.text
    body = everything.json()
    statuses = {d["participant_id"]: d["status"] for d in body["documents"]}
    assert statuses[world.vera] == "IN_APPROVAL"
    assert all(d["version"] >= 1 and d["pdf_url"].endswith(".pdf") for d in body["documents"])
    assert body["by_status"] == {s: list(statuses.values()).count(s) for s in set(statuses.values())}
    assert body["next_page_token"] is None
    in_approval = (await client.get(url, params={"status": "IN_APPROVAL"}, headers=olga)).json()["documents"]
    assert {d["participant_id"] for d in in_approval} == {p for p, s in statuses.items() if s == "IN_APPROVAL"}
    mine = await client.get(url, params={"assignee": "me"}, headers=auth("finance", sub=world.gleb))
    assert mine.status_code == 200 and [d["participant_id"] for d in mine.json()["documents"]] == [world.vera]
    assert [d["current_step"] for d in mine.json()["documents"]] == ["manager"]
    by_name = await client.get(url, params={"assignee": world.gleb}, headers=olga)
    assert [d["participant_id"] for d in by_name.json()["documents"]] == [world.vera]

    # pages of one: every document once, in participant order
    seen: list[str] = []
    token = ""
    while True:
        page = await client.get(url, params={"page_size": 1, "page_token": token}, headers=auth("admin"))
        assert page.status_code == 200, page.text
        seen += [d["participant_id"] for d in page.json()["documents"]]
        token = page.json()["next_page_token"]
        if not token:
            break
    assert seen == sorted(statuses)
    for role in ("manager", "sales", "director", "marketer"):
        assert (await client.get(url, headers=auth(role, sub=world.vera))).status_code == 403


async def test_a_distribution_drafts_and_submits_a_plan_population(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    olga = auth("compensation", sub=OLGA)
    url = f"{BASE}/periods/2026-04/plans/mgr/distribution"
    started = await client.post(url, json={}, headers=olga)
    assert started.status_code == 202, started.text
    assert started.headers["location"] == url
    assert started.json()["workflow_id"] == "plan-distribution/2026-04/mgr"

    async def done() -> dict[str, Any] | None:
        resp = await client.get(url, headers=auth("admin"))
        assert resp.status_code == 200, resp.text
        return resp.json() if resp.json()["status"] == "completed" else None

    progress = await eventually(done, "the distribution completes")
    assert (progress["total"], progress["submitted"], progress["failed"], progress["failures"]) == (2, 2, 0, [])
    listed = await client.get(f"{BASE}/periods/2026-04/plan-documents", headers=olga)
    assert {(d["participant_id"], d["status"], d["author"]) for d in listed.json()["documents"]} == {
        (world.vera, "IN_APPROVAL", OLGA),
        (world.gleb, "IN_APPROVAL", OLGA),
    }
    # only named participants who are on the plan
    outside = await client.post(
        f"{BASE}/periods/2026-05/plans/mgr/distribution", json={"participant_ids": [world.anna]}, headers=olga
    )
    assert outside.status_code == 422 and fields(outside) == {"body.participant_ids"}, outside.text
    unknown = await client.post(f"{BASE}/periods/2026-05/plans/nope/distribution", headers=olga)
    assert unknown.status_code == 404, unknown.text
    never = await client.get(f"{BASE}/periods/2026-05/plans/rep/distribution", headers=olga)
    assert never.status_code == 404, never.text


async def test_bad_input_to_the_document_routes_gets_a_problem_naming_the_field(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    olga = auth("compensation", sub=OLGA)

    async def problem(method: str, url: str, expected: set[str], **kwargs: Any) -> None:
        resp = await client.request(method, url, headers=olga, **kwargs)
        assert resp.status_code == 422, (url, resp.text)
        assert fields(resp) == expected, (url, resp.text)

    bad_period = f"{BASE}/periods/2026-13/participants/{world.anna}/plan-document"
    await problem("POST", bad_period, {"path.period"})
    await problem("GET", bad_period, {"path.period"})
    await problem("POST", bad_period + "/versions/1/submit", {"path.period"})
    await problem("POST", bad_period + "/versions/1/decisions", {"path.period"}, json={"action": "approve"})
    await problem("GET", bad_period + "/versions/1.pdf", {"path.period"})
    await problem("GET", f"{BASE}/periods/26-03/plan-documents", {"path.period"})
    long_id = f"{BASE}/periods/{PERIOD}/participants/{'p' * 129}/plan-document"
    await problem("POST", long_id, {"path.participant_id"})
    await problem("GET", long_id, {"path.participant_id"})

    # drafting: the body is optional, but what is sent must be right
    await problem("POST", doc_url(world.anna), {"body.language"}, json={"language": "de"})
    await problem("POST", doc_url(world.anna), {"body.language"}, json={"language": 1})
    await problem("POST", doc_url(world.anna), {"body.lang"}, json={"lang": "en"})
    unknown = await client.post(doc_url("nobody"), headers=olga)
    assert unknown.status_code == 404 and unknown.json()["type"] == "urn:crm:problem:not-found", unknown.text
    no_plan = await client.post(f"{BASE}/periods/2025-12/participants/{world.anna}/plan-document", headers=olga)
    assert no_plan.status_code == 409 and "does not hold any position" in no_plan.json()["detail"], no_plan.text
    in_approval = await client.post(f"{BASE}/periods/{PERIOD}/participants/{world.vera}/plan-document", headers=olga)
    assert in_approval.status_code in (201, 409), in_approval.text  # unchanged terms: the version in approval

    # submitting and deciding: the version is a positive number of an existing version
    for version in ("0", "-1", "x", str(2**31)):
        await problem("POST", doc_url(world.anna, f"/versions/{version}/submit"), {"path.version"})
        await problem(
            "POST", doc_url(world.anna, f"/versions/{version}/decisions"), {"path.version"}, json={"action": "approve"}
        )
        await problem("GET", doc_url(world.anna, f"/versions/{version}.pdf"), {"path.version"})
    for method, url, body in (
        ("POST", doc_url(world.anna, "/versions/9/submit"), None),
        ("POST", doc_url(world.anna, "/versions/9/decisions"), {"action": "approve"}),
        ("GET", doc_url(world.anna, "/versions/9.pdf"), None),
        ("POST", doc_url("nobody", "/versions/1/decisions"), {"action": "approve"}),
        ("GET", doc_url("nobody"), None),
        ("GET", doc_url(world.anna) + "?version=9", None),
    ):
        missing = await client.request(method, url, json=body, headers=auth("admin"))
        assert missing.status_code == 404, (url, missing.text)
    refused(await client.post(doc_url(world.boris, "/versions/1/submit"), headers=olga), "only a draft")

    decisions = doc_url(world.anna, "/versions/1/decisions")
    await problem("POST", decisions, {"body"})
    await problem("POST", decisions, {"body.action"}, json={})
    await problem("POST", decisions, {"body.action"}, json={"action": "sign"})
    await problem("POST", decisions, {"body.action"}, json={"action": "APPROVE"})
    await problem("POST", decisions, {"body.comment"}, json={"action": "return", "comment": 5})
    await problem("POST", decisions, {"body.comment"}, json={"action": "return", "comment": "c" * 2001})
    await problem("POST", decisions, {"body.actor"}, json={"action": "approve", "actor": world.vera})
    # a draft has no approval to decide in
    draft_only = await client.post(doc_url(world.gleb), headers=olga)
    assert draft_only.status_code == 201, draft_only.text
    refused(await decide(client, olga, world.gleb, 1, "approve"), "has not been submitted")

    listing = f"{BASE}/periods/{PERIOD}/plan-documents"
    await problem("GET", listing, {"query.status"}, params={"status": "PENDING"})
    await problem("GET", listing, {"query.status"}, params={"status": "draft"})
    for size in ("0", "1001", "ten"):
        await problem("GET", listing, {"query.page_size"}, params={"page_size": size})
    await problem("GET", listing, {"query.page_token"}, params={"page_token": "t" * 201})
    await problem("GET", listing, {"query.assignee"}, params={"assignee": "a" * 129})
    await problem("GET", doc_url(world.anna), {"query.version"}, params={"version": "0"})

    distribution = f"{BASE}/periods/{PERIOD}/plans/rep/distribution"
    await problem("POST", distribution, {"body.participant_ids"}, json={"participant_ids": world.anna})
    await problem("POST", distribution, {"body.participant_ids[0]"}, json={"participant_ids": ["p" * 129]})
    await problem("POST", f"{BASE}/periods/{PERIOD}/plans/{'p' * 129}/distribution", {"path.plan_id"})
    await problem("POST", f"{BASE}/periods/2026-00/plans/rep/distribution", {"path.period"})
    await problem("GET", f"{BASE}/notifications", {"query.limit"}, params={"limit": "0"})
    await problem("GET", f"{BASE}/notifications", {"query.limit"}, params={"limit": "1001"})


async def test_notifications_are_the_callers_and_their_teams_newest_first(
    client: httpx.AsyncClient, auth: TokenFactory, world: World
) -> None:
    both = await client.get(f"{BASE}/notifications", headers=auth("finance", "manager", sub=world.vera))
    assert both.status_code == 200, both.text
    body = both.json()
    assert body["recipients"] == [world.vera, "role:finance", "role:manager"]
    ids = [n["notification_id"] for n in body["notifications"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert {n["recipient"] for n in body["notifications"]} == {world.vera, "role:finance"}
    one = await client.get(f"{BASE}/notifications", params={"limit": 1}, headers=auth("finance", sub=world.vera))
    assert [n["notification_id"] for n in one.json()["notifications"]] == ids[:1]
    assert (await client.get(f"{BASE}/notifications")).status_code == 401


async def test_the_routes_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    doc = "/periods/{period}/participants/{participant_id}/plan-document"
    for path, method in (
        (doc, "post"),
        (doc, "get"),
        (doc + "/versions/{version}/submit", "post"),
        (doc + "/versions/{version}/decisions", "post"),
        (doc + "/versions/{version}.pdf", "get"),
        ("/periods/{period}/plan-documents", "get"),
        ("/periods/{period}/plans/{plan_id}/distribution", "post"),
        ("/periods/{period}/plans/{plan_id}/distribution", "get"),
        ("/notifications", "get"),
    ):
        operation = paths[BASE + path][method]
        assert operation["description"], path
        assert list(operation["responses"]["422"]["content"]) == ["application/problem+json"], path
    pdf = paths[BASE + doc + "/versions/{version}.pdf"]["get"]["responses"]["200"]["content"]
    assert list(pdf) == ["application/pdf"]
    assert "409" in paths[BASE + doc + "/versions/{version}/decisions"]["post"]["responses"]
    schemas = spec["components"]["schemas"]
    assert schemas["PlanDocumentStatus"]["enum"] == [
        "DRAFT",
        "IN_APPROVAL",
        "DISTRIBUTED",
        "ACCEPTED",
        "RETURNED",
        "WITHDRAWN",
        "SUPERSEDED",
    ]
    action = schemas["PlanDocumentDecisionIn"]["properties"]["action"]
    assert action["enum"] == ["approve", "return", "reject", "accept", "withdraw", "resubmit"]
