"""PlanApprovalWorkflow and PlanDistributionWorkflow on the time-skipping test server, started by the real
commissions service (its Temporal client points at the test server) and recording every step through
it: approval all the way to the signature, a return for revision and a resubmitted version, reminders
and escalation after days of simulated time, withdrawal, and a distribution to a plan population.
(Refused decisions and a worker restart are tested on the dev server: the Java test server answers a
refused update with "update not found" and does not move a workflow off a stopped worker's sticky queue.)"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from crm.commissions.v1 import commissions_pb2 as pb
from tests.workflows.commissions_support import (
    PERIOD,
    Stack,
    build_world,
    commissions_stack,
    decide,
    document,
    draft_and_submit,
    eventually,
    notifications,
)
from tests.workflows.support import time_skipping_env

STEP = SearchAttributeKey.for_keyword("CrmStep")
STATUS = SearchAttributeKey.for_keyword("CrmStatus")
PARTICIPANT = SearchAttributeKey.for_keyword("CrmParticipantId")


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_env() as environment:
        yield environment


@pytest_asyncio.fixture(scope="module")
async def stack(env: WorkflowEnvironment, commissions_db_url: str) -> AsyncIterator[Stack]:
    target = env.client.service_client.config.target_host
    async with commissions_stack(env.client, commissions_db_url, target) as s:
        await build_world(s.api)
        yield s


def actions(history: pb.GetPlanDocumentResponse) -> list[tuple[int, str, str]]:
    return [(e.version, e.action, e.actor) for e in history.history]


async def test_approved_all_the_way_and_signed(stack: Stack, env: WorkflowEnvironment) -> None:
    doc = await draft_and_submit(stack.api, "anna")
    assert doc.status == pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL
    assert doc.workflow_id == f"plan-approval/{PERIOD}/anna"
    assert [(s.step, s.assignee, s.escalation_assignee) for s in doc.chain] == [
        ("manager", "vera", "gleb"),
        ("finance", "role:finance", "role:admin"),
        ("participant", "anna", ""),
    ]  # anna's target incentive (120,000) is below the director threshold
    handle = stack.client.get_workflow_handle(doc.workflow_id)
    attributes = (await handle.describe()).typed_search_attributes
    assert (attributes.get(PARTICIPANT), attributes.get(STEP)) == ("anna", "manager")

    approved = (await stack.api.DecidePlanDocument(decide("anna", doc.version, "approve", "vera", "manager"))).document
    assert (approved.status, approved.current_step) == (pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL, "finance")
    distributed = (
        await stack.api.DecidePlanDocument(decide("anna", doc.version, "approve", "fiona", "finance"))
    ).document
    assert (distributed.status, distributed.current_step) == (pb.PLAN_DOCUMENT_STATUS_DISTRIBUTED, "participant")
    assert any(n.kind == "distributed" for n in await notifications(stack.api, "anna"))
    accepted = (await stack.api.DecidePlanDocument(decide("anna", doc.version, "accept", "anna"))).document
    assert accepted.status == pb.PLAN_DOCUMENT_STATUS_ACCEPTED
    assert (await handle.result())["status"] == "accepted"
    assert (await handle.describe()).typed_search_attributes.get(STEP) == "done"

    full = await document(stack.api, "anna", pdf=True)
    assert actions(full) == [
        (1, "drafted", "olga"),
        (1, "submitted", "olga"),
        (1, "approved", "vera"),
        (1, "approved", "fiona"),
        (1, "distributed", "system:plan-approval"),
        (1, "accepted", "anna"),
    ]
    assert hashlib.sha256(full.pdf).hexdigest() == full.document.pdf_hash
    assert full.pdf.startswith(b"%PDF-")
    assert json.loads(full.document.terms_json)["terms"]["participant_id"] == "anna"
    # The same terms drafted again give the accepted version back, untouched.
    again = (
        await stack.api.DraftPlanDocument(
            pb.DraftPlanDocumentRequest(request_id="anna-again", participant_id="anna", period=PERIOD, author="olga")
        )
    ).document
    assert (again.version, again.status, again.pdf_hash) == (
        1,
        pb.PLAN_DOCUMENT_STATUS_ACCEPTED,
        full.document.pdf_hash,
    )


async def test_a_return_goes_back_to_the_author_and_a_new_version_starts_again(stack: Stack) -> None:
    doc = await draft_and_submit(stack.api, "boris")
    assert [s.step for s in doc.chain] == ["manager", "finance", "director", "participant"]
    assert doc.chain[2].assignee == "gleb"  # 500,000 is above the threshold: the top of the hierarchy
    await stack.api.DecidePlanDocument(decide("boris", 1, "approve", "vera"))
    returned = (
        await stack.api.DecidePlanDocument(
            decide("boris", 1, "return", "fiona", "finance", comment="quota must be 120,000")
        )
    ).document
    assert (returned.status, returned.current_step, returned.comment) == (
        pb.PLAN_DOCUMENT_STATUS_RETURNED,
        "revision",
        "quota must be 120,000",
    )
    told = await notifications(stack.api, "olga")
    assert any(n.kind == "returned" and "quota must be 120,000" in n.subject for n in told)

    v2 = (
        await stack.api.DraftPlanDocument(
            pb.DraftPlanDocumentRequest(request_id="boris-v2", participant_id="boris", period=PERIOD, author="olga")
        )
    ).document
    assert (v2.version, v2.status) == (2, pb.PLAN_DOCUMENT_STATUS_DRAFT)
    resubmitted = (await stack.api.DecidePlanDocument(decide("boris", 2, "resubmit", "olga"))).document
    assert (resubmitted.status, resubmitted.current_step) == (pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL, "manager")
    assert (await document(stack.api, "boris", 1)).document.status == pb.PLAN_DOCUMENT_STATUS_SUPERSEDED
    for actor, roles in (("vera", ()), ("fiona", ("finance",)), ("gleb", ("director",))):
        await stack.api.DecidePlanDocument(decide("boris", 2, "approve", actor, *roles))
    signed = (await stack.api.DecidePlanDocument(decide("boris", 2, "accept", "boris"))).document
    assert signed.status == pb.PLAN_DOCUMENT_STATUS_ACCEPTED
    trail = actions(await document(stack.api, "boris"))
    assert (
        (1, "returned", "fiona") in trail and (2, "resubmitted", "olga") in trail and (2, "accepted", "boris") in trail
    )


async def test_reminder_after_the_first_sla_and_escalation_after_the_second(
    stack: Stack, env: WorkflowEnvironment
) -> None:
    doc = await draft_and_submit(stack.api, "carl")
    await env.sleep(timedelta(hours=49))

    async def reminded() -> bool:
        return any(n.kind == "reminded" and "carl" in n.ref for n in await notifications(stack.api, "vera"))

    await eventually(reminded, "vera reminded")
    assert not any(n.kind == "escalated" for n in await notifications(stack.api, "gleb"))
    await env.sleep(timedelta(hours=72))

    async def escalated() -> bool:
        return any(n.kind == "escalated" and "carl" in n.ref for n in await notifications(stack.api, "gleb"))

    await eventually(escalated, "escalated to gleb")
    # After the escalation the manager's manager may decide too.
    approved = (await stack.api.DecidePlanDocument(decide("carl", doc.version, "approve", "gleb"))).document
    assert approved.current_step == "finance"
    trail = actions(await document(stack.api, "carl"))
    assert [a for _, a, _ in trail] == ["drafted", "submitted", "reminded", "escalated", "approved"]


async def test_the_author_withdraws(stack: Stack) -> None:
    # vera's own document: her manager is gleb.
    doc = await draft_and_submit(stack.api, "vera")
    assert doc.chain[0].assignee == "gleb"
    withdrawn = (await stack.api.DecidePlanDocument(decide("vera", doc.version, "withdraw", "olga"))).document
    assert withdrawn.status == pb.PLAN_DOCUMENT_STATUS_WITHDRAWN
    result = await stack.client.get_workflow_handle(doc.workflow_id).result()
    assert result["status"] == "withdrawn"
    assert any(n.kind == "withdrawn" for n in await notifications(stack.api, "gleb"))


async def test_distribution_to_a_plan_population(stack: Stack) -> None:
    april = "2026-04"
    started = await stack.api.DistributePlanDocuments(
        pb.DistributePlanDocumentsRequest(request_id="dist", period=april, plan_id="rep", author="olga")
    )
    assert started.workflow_id == f"plan-distribution/{april}/rep"
    assert started.total == 3
    result = await stack.client.get_workflow_handle(started.workflow_id).result()
    assert (result["submitted"], result["failed"], result["status"]) == (3, 0, "completed")
    listed = await stack.api.ListPlanDocuments(pb.ListPlanDocumentsRequest(period=april))
    assert {d.participant_id for d in listed.documents} == {"anna", "boris", "carl"}
    assert all(
        d.status == pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL and d.current_step == "manager" for d in listed.documents
    )
    assert listed.by_status == {"IN_APPROVAL": 3}
    waiting = await stack.api.ListPlanDocuments(pb.ListPlanDocumentsRequest(period=april, assignee="vera"))
    assert len(waiting.documents) == 3
    progress = await stack.api.GetDistribution(pb.GetDistributionRequest(period=april, plan_id="rep"))
    assert (progress.submitted, progress.status) == (3, "completed")


@pytest.mark.parametrize("plan", ["nope"])
async def test_distribution_of_an_unknown_plan_is_refused(stack: Stack, plan: str) -> None:
    import grpc

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stack.api.DistributePlanDocuments(
            pb.DistributePlanDocumentsRequest(request_id="x", period="2026-04", plan_id=plan, author="olga")
        )
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
