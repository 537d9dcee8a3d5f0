"""PlanApprovalWorkflow on the real Temporal dev server, behind the real commissions service, with the
worker started by `workflows.worker.run_worker` (the production entry point): decisions that are not
the actor's to make are refused by the update validator with their reason before anything is recorded
(FAILED_PRECONDITION naming it), the approvals are found through their search attributes, a worker
restart in the middle of an approval loses and repeats nothing, and bad input is refused naming the
field. The reminder SLA is two seconds, so real timers fire during the tests (the escalation, ten
minutes, never does)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest_asyncio

from crm.commissions.v1 import commissions_pb2 as pb
from crmctl.infra import LocalPostgres, LocalTemporal
from tests.parties.support import invalid, rpc_error
from tests.workflows.commissions_support import (
    PERIOD,
    DevStack,
    build_world,
    decide,
    dev_stack,
    document,
    draft_and_submit,
    eventually,
    row_counts,
)

WRITTEN = ("plan_documents", "plan_document_events", "notifications", "idempotency")


@pytest_asyncio.fixture(scope="module")
async def stack(commissions_db_url: str, temporal_server: LocalTemporal) -> AsyncIterator[DevStack]:
    async with dev_stack(
        temporal_server,
        commissions_db_url,
        plan_approval_reminder_hours=2 / 3600,  # two seconds
        plan_approval_escalation_hours=600 / 3600,
    ) as s:
        await build_world(s.api)
        yield s


async def refused(stack: DevStack, request: pb.DecidePlanDocumentRequest, reason: str) -> None:
    err = await rpc_error(stack.api.DecidePlanDocument(request), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason in (err.details() or ""), err.details()


def trail(history: pb.GetPlanDocumentResponse) -> list[tuple[int, str, str, str]]:
    """The audit trail without the reminders (their number depends on how fast the test runs)."""
    return [(e.version, e.step, e.action, e.actor) for e in history.history if e.action != "reminded"]


async def test_decisions_that_are_not_the_actors_to_make_are_refused_with_their_reason(stack: DevStack) -> None:
    doc = await draft_and_submit(stack.api, "anna")
    assert (doc.version, doc.current_step, doc.chain[0].assignee) == (1, "manager", "vera")

    # Someone else deciding the manager's step, even the participant's colleague.
    await refused(stack, decide("anna", 1, "approve", "boris"), "the manager step is for vera to decide")
    await refused(stack, decide("anna", 1, "approve", "boris"), "not for boris")
    # Before the escalation the manager's manager may not decide either.
    await refused(stack, decide("anna", 1, "approve", "gleb", "finance"), "not for gleb")
    # The participant signs only once the document is distributed to her.
    await refused(stack, decide("anna", 1, "accept", "anna"), "at the manager step the actions are: approve, return")
    # A return tells the author what to change.
    await refused(stack, decide("anna", 1, "return", "vera"), "a return needs a comment for the author")
    await refused(stack, decide("anna", 1, "reject", "vera", comment="  "), "a reject needs a comment")
    # Only the author withdraws.
    await refused(stack, decide("anna", 1, "withdraw", "vera"), "only the author (olga) may withdraw")
    await refused(stack, decide("anna", 1, "resubmit", "olga"), "resubmit a newly drafted version")
    after = await document(stack.api, "anna")
    assert (after.document.status, after.document.current_step) == (pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL, "manager")
    assert trail(after) == [(1, "", "drafted", "olga"), (1, "manager", "submitted", "olga")]

    # A decision on a stale version: v1 is returned, v2 drafted and resubmitted; vera still looks at v1.
    returned = (await stack.api.DecidePlanDocument(decide("anna", 1, "return", "vera", comment="wrong quota"))).document
    assert returned.status == pb.PLAN_DOCUMENT_STATUS_RETURNED
    await refused(stack, decide("anna", 1, "approve", "vera"), "the document is with its author (olga)")
    v2 = (
        await stack.api.DraftPlanDocument(
            pb.DraftPlanDocumentRequest(request_id="anna-v2", participant_id="anna", period=PERIOD, author="olga")
        )
    ).document
    assert v2.version == 2
    await refused(stack, decide("anna", 2, "resubmit", "vera"), "only the author (olga) may resubmit")
    await stack.api.DecidePlanDocument(decide("anna", 2, "resubmit", "olga"))
    await refused(stack, decide("anna", 1, "approve", "vera"), "the decision is about version 1; version 2 is current")
    await rpc_error(stack.api.DecidePlanDocument(decide("anna", 3, "approve", "vera")), grpc.StatusCode.NOT_FOUND)
    approved = (await stack.api.DecidePlanDocument(decide("anna", 2, "approve", "vera"))).document
    assert (approved.version, approved.current_step) == (2, "finance")
    # The finance step is the finance team's: a person without the role is refused.
    await refused(stack, decide("anna", 2, "approve", "vera"), "the finance step is for role:finance to decide")
    assert trail(await document(stack.api, "anna")) == [
        (1, "", "drafted", "olga"),
        (1, "manager", "submitted", "olga"),
        (1, "manager", "returned", "vera"),
        (2, "", "drafted", "olga"),
        (2, "manager", "resubmitted", "olga"),
        (2, "manager", "approved", "vera"),
    ]


async def test_approvals_are_found_by_their_search_attributes(stack: DevStack) -> None:
    doc = await draft_and_submit(stack.api, "carl")
    await stack.api.DecidePlanDocument(decide("carl", doc.version, "approve", "vera"))

    async def found(query: str) -> set[str]:
        # Visibility is eventually consistent: poll until the step change is indexed.
        deadline = time.monotonic() + 15
        while True:
            ids = {w.id async for w in stack.client.list_workflows(query)}
            if doc.workflow_id in ids or time.monotonic() > deadline:
                return ids
            await asyncio.sleep(0.3)

    assert doc.workflow_id in await found("CrmKind = 'plan-approval' AND CrmStep = 'finance'")
    mine = f"CrmKind = 'plan-approval' AND CrmParticipantId = 'carl' AND CrmPeriod = '{PERIOD}'"
    assert await found(f"{mine} AND CrmStatus = 'in_approval'") == {doc.workflow_id}
    manager = {w.id async for w in stack.client.list_workflows(f"{mine} AND CrmStep = 'manager'")}
    assert doc.workflow_id not in manager
    await stack.api.DecidePlanDocument(decide("carl", doc.version, "approve", "fiona", "finance"))
    assert await found(f"{mine} AND CrmStep = 'participant' AND CrmStatus = 'distributed'") == {doc.workflow_id}


async def test_a_worker_restart_in_the_middle_loses_and_repeats_nothing(stack: DevStack) -> None:
    doc = await draft_and_submit(stack.api, "boris")
    assert [s.step for s in doc.chain] == ["manager", "finance", "director", "participant"]
    await stack.api.DecidePlanDocument(decide("boris", doc.version, "approve", "vera"))
    await stack.stop_worker()
    # The reminder timer of the finance step fires while no worker runs: the new worker records it.
    await asyncio.sleep(2.5)
    await stack.start_worker()
    for actor, roles in (("fiona", ("finance",)), ("gleb", ())):
        await stack.api.DecidePlanDocument(decide("boris", doc.version, "approve", actor, *roles))
    signed = (await stack.api.DecidePlanDocument(decide("boris", doc.version, "accept", "boris"))).document
    assert signed.status == pb.PLAN_DOCUMENT_STATUS_ACCEPTED
    result = await asyncio.wait_for(stack.client.get_workflow_handle(doc.workflow_id).result(), timeout=30)
    assert (result["status"], result["trail"]) == (
        "accepted",
        ["approve:vera", "approve:fiona", "approve:gleb", "accept:boris"],
    )

    history = await document(stack.api, "boris")
    assert trail(history) == [
        (1, "", "drafted", "olga"),
        (1, "manager", "submitted", "olga"),
        (1, "manager", "approved", "vera"),
        (1, "finance", "approved", "fiona"),
        (1, "director", "approved", "gleb"),
        (1, "director", "distributed", "system:plan-approval"),
        (1, "participant", "accepted", "boris"),
    ]
    # Each event exactly once, reminders included (at most one per step, and the finance step's one,
    # due during the restart, is there).
    events = Counter((e.version, e.step, e.action, e.actor) for e in history.history)
    assert max(events.values()) == 1, events
    assert (1, "finance", "reminded", "system:plan-approval") in events


async def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    stack: DevStack, postgres: LocalPostgres, commissions_db_url: str
) -> None:
    async def submitted() -> bool:  # anna's approval (first test) is idle at the finance step
        return (await document(stack.api, "anna")).document.current_step == "finance"

    await eventually(submitted, "anna's document at the finance step")
    before = row_counts(postgres, commissions_db_url, WRITTEN)

    def draft(**fields: str) -> pb.DraftPlanDocumentRequest:
        values = {"request_id": "", "participant_id": "carl", "period": PERIOD, "author": "olga", **fields}
        return pb.DraftPlanDocumentRequest(**values)

    await invalid(stack.api.DraftPlanDocument(draft(participant_id="")), "participant_id")
    await invalid(stack.api.DraftPlanDocument(draft(period="2026-13")), "period")
    await invalid(stack.api.DraftPlanDocument(draft(period="")), "period")
    await invalid(stack.api.DraftPlanDocument(draft(author="")), "author")
    await invalid(stack.api.DraftPlanDocument(draft(author="o" * 201)), "author")
    await invalid(stack.api.DraftPlanDocument(draft(author="ol\tga")), "author")
    await invalid(stack.api.DraftPlanDocument(draft(language="xx")), "language")
    await invalid(
        stack.api.DraftPlanDocument(draft(participant_id="", period="x", author="", language="de")),
        "participant_id",
        "period",
        "author",
        "language",
    )
    await rpc_error(stack.api.DraftPlanDocument(draft(participant_id="nobody")), grpc.StatusCode.NOT_FOUND)

    def submit(**fields: object) -> pb.SubmitPlanDocumentRequest:
        values: dict[str, object] = {"participant_id": "anna", "period": PERIOD, "version": 2, "author": "olga"}
        return pb.SubmitPlanDocumentRequest(**{**values, **fields})  # type: ignore[arg-type]

    await invalid(stack.api.SubmitPlanDocument(submit(version=0)), "version")
    await invalid(stack.api.SubmitPlanDocument(submit(participant_id="")), "participant_id")
    await invalid(stack.api.SubmitPlanDocument(submit(period="March")), "period")
    await invalid(stack.api.SubmitPlanDocument(submit(author="o" * 201)), "author")
    await rpc_error(stack.api.SubmitPlanDocument(submit(version=9)), grpc.StatusCode.NOT_FOUND)
    await rpc_error(stack.api.SubmitPlanDocument(submit(participant_id="nobody")), grpc.StatusCode.NOT_FOUND)
    # Version 1 was returned and superseded: only a draft is submitted.
    await rpc_error(stack.api.SubmitPlanDocument(submit(version=1)), grpc.StatusCode.FAILED_PRECONDITION)

    await invalid(stack.api.DecidePlanDocument(decide("anna", 2, "sign", "fiona", "finance")), "action")
    await invalid(stack.api.DecidePlanDocument(decide("anna", 2, "approve", "")), "actor")
    await invalid(stack.api.DecidePlanDocument(decide("anna", 2, "approve", "f" * 201, "finance")), "actor")
    await invalid(stack.api.DecidePlanDocument(decide("anna", 0, "approve", "fiona", "finance")), "version")
    await invalid(stack.api.DecidePlanDocument(decide("", 2, "approve", "fiona", "finance")), "participant_id")
    await invalid(
        stack.api.DecidePlanDocument(decide("anna", 2, "return", "fiona", "finance", comment="c" * 2001)), "comment"
    )
    bad_period = decide("anna", 2, "approve", "fiona", "finance")
    bad_period.period = "2026/03"
    await invalid(stack.api.DecidePlanDocument(bad_period), "period")
    await rpc_error(
        stack.api.DecidePlanDocument(decide("nobody", 1, "approve", "fiona", "finance")), grpc.StatusCode.NOT_FOUND
    )
    assert row_counts(postgres, commissions_db_url, WRITTEN) == before
    still = await document(stack.api, "anna")
    assert (still.document.version, still.document.current_step) == (2, "finance")


async def test_a_decision_right_after_the_submission_is_recorded_after_it(stack: DevStack) -> None:
    """The submission ("submitted") and a decision sent at once are two activities of the workflow: the
    decision waits for the submission, so the trail is in order and the document does not fall back to
    the first step."""

    async def submit_and_approve(who: str, approver: str, *roles: str) -> str:
        doc = await draft_and_submit(stack.api, who)
        decided = (await stack.api.DecidePlanDocument(decide(who, doc.version, "approve", approver, *roles))).document
        assert decided.current_step == doc.chain[1].step
        return decided.current_step

    # vera's chain: gleb (her manager), finance, vera; gleb's: finance, gleb.
    steps = await asyncio.gather(submit_and_approve("vera", "gleb"), submit_and_approve("gleb", "fiona", "finance"))
    assert steps == ["finance", "participant"]
    await asyncio.sleep(0.5)  # any late "submitted" would have been recorded by now
    for who, step in zip(("vera", "gleb"), steps, strict=True):
        history = await document(stack.api, who)
        assert history.document.current_step == step
        assert [a for _, _, a, _ in trail(history)][:3] == ["drafted", "submitted", "approved"]


async def test_a_late_reminder_does_not_undo_a_decision(stack: DevStack) -> None:
    """A reminder's activity racing a decision's may be recorded after it, carrying the step from before
    the decision: the service records the reminder but keeps the document where the decision put it.
    (Simulated by recording such a step directly, as the workflow's activity does.)"""
    late = (
        await stack.api.RecordPlanDocumentStep(
            pb.RecordPlanDocumentStepRequest(
                request_id=f"late-{time.time_ns()}",
                participant_id="vera",
                period=PERIOD,
                version=1,
                step="manager",
                action="reminded",
                actor="system:plan-approval",
                current_step="manager",
                status=pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL,
                notify=["gleb"],
            )
        )
    ).document
    assert (late.status, late.current_step) == (pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL, "finance")
    history = await document(stack.api, "vera")
    assert history.history[-1].action == "reminded"
