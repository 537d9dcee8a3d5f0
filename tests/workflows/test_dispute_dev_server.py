"""DisputeWorkflow on the real Temporal dev server, behind the real commissions service, with the worker
started by `workflows.worker.run_worker`: decisions that are not the actor's to make now are refused by
the update validator with their reason (FAILED_PRECONDITION naming it) before anything is recorded,
a negative adjustment must be classified, a closed dispute takes no decision, and a decision sent right
after the opening is recorded after it. The reminder SLA is two seconds, so real timers fire during the
tests (the escalation, ten minutes, never does)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from crm.commissions.v1 import commissions_pb2 as pb
from crmctl.infra import LocalTemporal
from tests.parties.support import invalid, rpc_error
from tests.workflows.commissions_support import (
    PERIOD,
    DevStack,
    build_world,
    decide_dispute,
    dev_stack,
    eventually,
    ingest,
    notifications,
    open_dispute_request,
    rub,
    sale,
)

COMPENSATION = ("olga", "compensation")


@pytest_asyncio.fixture(scope="module")
async def stack(commissions_db_url: str, temporal_server: LocalTemporal) -> AsyncIterator[DevStack]:
    async with dev_stack(
        temporal_server,
        commissions_db_url,
        dispute_reminder_hours=2 / 3600,  # two seconds
        dispute_escalation_hours=600 / 3600,
    ) as s:
        await build_world(s.api)
        await ingest(
            s.api,
            sale("m-anna", "2026-03-10", "100000", "R1"),
            sale("m-boris", "2026-03-11", "50000", "R2"),
            sale("m-carl", "2026-03-12", "30000", "R3"),
        )
        await s.api.RunPeriod(pb.RunPeriodRequest(request_id="run-march", period=PERIOD))
        yield s


async def refused(stack: DevStack, request: pb.DecideDisputeRequest, reason: str) -> None:
    err = await rpc_error(stack.api.DecideDispute(request), grpc.StatusCode.FAILED_PRECONDITION)
    assert reason in (err.details() or ""), err.details()


async def decisions(stack: DevStack, dispute_id: str) -> list[tuple[str, str]]:
    """The dispute's trail without the reminders (their number depends on how fast the test runs)."""
    got = (await stack.api.GetDispute(pb.GetDisputeRequest(dispute_id=dispute_id))).dispute
    return [(e.action, e.actor) for e in got.history if e.action != "reminded"]


async def test_decisions_that_are_not_the_actors_to_make_are_refused_with_their_reason(stack: DevStack) -> None:
    dispute = (await stack.api.OpenDispute(open_dispute_request())).dispute
    did = dispute.dispute_id
    assert dispute.assignee == "vera"

    # Someone other than the manager approving: a colleague, the participant herself, and the
    # manager's manager before the escalation.
    await refused(stack, decide_dispute(did, "approve", "boris"), "the dispute is vera's to decide now, not boris's")
    await refused(stack, decide_dispute(did, "approve", "anna"), "not anna's")
    await refused(stack, decide_dispute(did, "approve", "gleb"), "not gleb's")
    # The compensation team cannot resolve before the manager approves.
    await refused(
        stack,
        decide_dispute(did, "resolve", *COMPENSATION, amount="500"),
        "while the dispute is open the actions are: approve, reject, request_info",
    )
    await refused(stack, decide_dispute(did, "provide_info", "anna", comment="x"), "the actions are: approve")
    await refused(stack, decide_dispute(did, "reject", "vera"), "reject needs a comment")
    await refused(stack, decide_dispute(did, "request_info", "vera", comment=" "), "request_info needs a comment")
    await refused(stack, decide_dispute(did, "withdraw", "vera"), "only the participant who opened the dispute")

    # A real timer: the reminder after the first SLA (two seconds).
    async def reminded() -> bool:
        kinds = {n.kind for n in await notifications(stack.api, "vera") if n.ref == dispute.workflow_id}
        return "dispute_reminded" in kinds

    await eventually(reminded, "vera reminded")
    assert await decisions(stack, did) == [("opened", "anna")]
    still = (await stack.api.GetDispute(pb.GetDisputeRequest(dispute_id=did))).dispute
    assert (still.status, still.assignee) == ("open", "vera")

    approved = (await stack.api.DecideDispute(decide_dispute(did, "approve", "vera"))).dispute
    assert (approved.status, approved.assignee) == ("approved", "role:compensation")
    # Now the compensation team's: the manager cannot resolve, nor can someone without the role.
    await refused(
        stack, decide_dispute(did, "resolve", "vera", amount="500"), "role:compensation's to decide now, not vera's"
    )
    await refused(stack, decide_dispute(did, "resolve", "olga", "finance", amount="500"), "not olga's")
    await refused(stack, decide_dispute(did, "approve", *COMPENSATION), "the actions are: resolve, reject")
    # A negative adjustment is an overpayment: without its class the service refuses it naming the field,
    # and the workflow's own validator refuses it too (for callers that reach it directly).
    await invalid(
        stack.api.DecideDispute(decide_dispute(did, "resolve", *COMPENSATION, amount="-100")), "overpayment_class"
    )
    handle = stack.client.get_workflow_handle(dispute.workflow_id)
    unclassified = {"action": "resolve", "actor": "olga", "roles": ["compensation"], "amount_minor": -10_000}
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update("decide", unclassified)
    assert "a negative adjustment is an overpayment: classify it" in str(failed.value.cause)
    await refused(stack, decide_dispute(did, "resolve", *COMPENSATION, amount="200000000000"), "implausibly large")
    assert await decisions(stack, did) == [("opened", "anna"), ("approved", "vera")]

    # Classified as a calculation error, the overpayment is recovered from the next payment.
    resolved = (
        await stack.api.DecideDispute(
            decide_dispute(
                did,
                "resolve",
                *COMPENSATION,
                comment="the deal was credited twice",
                amount="-100",
                overpayment=pb.OVERPAYMENT_CLASS_CALCULATION_ERROR,
            )
        )
    ).dispute
    assert (resolved.status, resolved.adjustment, resolved.adjustment_period) == ("resolved", rub("-100"), PERIOD)
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert (result["status"], result["recalculated"]["period"]) == ("resolved", PERIOD)
    st = await stack.api.GetStatement(pb.GetStatementRequest(participant_id="anna", period=PERIOD))
    (line,) = st.adjustments
    assert (line.adjustment_id, line.overpayment_class, line.treatment) == (
        resolved.adjustment_id,
        pb.OVERPAYMENT_CLASS_CALCULATION_ERROR,
        "RECOVERABLE",
    )

    # Closed: every further decision is refused, by the service (the dispute's status) and by Temporal
    # (the workflow has completed).
    for action, actor, comment in (("reject", "vera", "no"), ("withdraw", "anna", ""), ("approve", "vera", "")):
        await refused(stack, decide_dispute(did, action, actor, comment=comment), "the dispute is closed (resolved)")
    with pytest.raises(RPCError, match="already completed"):
        await handle.execute_update("decide", {"action": "withdraw", "actor": "anna"})
    assert await decisions(stack, did) == [("opened", "anna"), ("approved", "vera"), ("resolved", "olga")]


async def test_a_withdrawn_or_rejected_dispute_takes_no_decision(stack: DevStack) -> None:
    withdrawn = (await stack.api.OpenDispute(open_dispute_request("boris", position="R2"))).dispute
    rejected = (await stack.api.OpenDispute(open_dispute_request("carl", position="R3"))).dispute
    await refused(
        stack,
        decide_dispute(withdrawn.dispute_id, "withdraw", "anna"),
        "only the participant who opened the dispute may withdraw it",
    )
    await stack.api.DecideDispute(decide_dispute(withdrawn.dispute_id, "withdraw", "boris"))
    await stack.api.DecideDispute(decide_dispute(rejected.dispute_id, "reject", "vera", comment="the rate is right"))
    await refused(stack, decide_dispute(withdrawn.dispute_id, "approve", "vera"), "the dispute is closed (withdrawn)")
    await refused(stack, decide_dispute(rejected.dispute_id, "withdraw", "carl"), "the dispute is closed (rejected)")
    for d in (withdrawn, rejected):
        result = await asyncio.wait_for(stack.client.get_workflow_handle(d.workflow_id).result(), timeout=30)
        assert result["recalculated"] is None


async def test_a_decision_right_after_the_opening_is_recorded_after_it(stack: DevStack) -> None:
    """The opening ("opened") and a decision sent at once are two activities of the workflow: the decision
    waits for the opening, so the trail is in order and the dispute does not fall back to open."""

    async def open_and_approve(who: str, position: str) -> pb.Dispute:
        dispute = (await stack.api.OpenDispute(open_dispute_request(who, position=position))).dispute
        decided = (await stack.api.DecideDispute(decide_dispute(dispute.dispute_id, "approve", "vera"))).dispute
        assert (decided.status, decided.assignee) == ("approved", "role:compensation")
        return dispute

    opened = await asyncio.gather(
        *(open_and_approve(w, p) for w, p in (("anna", "R1"), ("boris", "R2"), ("carl", "R3")))
    )
    await asyncio.sleep(0.5)  # any late "opened" would have been recorded by now
    for dispute in opened:
        got = (await stack.api.GetDispute(pb.GetDisputeRequest(dispute_id=dispute.dispute_id))).dispute
        assert (got.status, got.assignee) == ("approved", "role:compensation")
        assert [(e.action, e.actor) for e in got.history][:2] == [
            ("opened", dispute.participant_id),
            ("approved", "vera"),
        ]


async def test_a_late_reminder_does_not_undo_a_decision(stack: DevStack) -> None:
    """A reminder's activity racing a decision's may be recorded after it, carrying the status from before
    the decision: the service records the reminder but keeps the status. (Simulated by recording such a
    step directly, as the workflow's activity does.)"""
    dispute = (await stack.api.OpenDispute(open_dispute_request("carl", position="R3"))).dispute
    rejected = (
        await stack.api.DecideDispute(decide_dispute(dispute.dispute_id, "reject", "vera", comment="the rate is right"))
    ).dispute
    late = (
        await stack.api.RecordDisputeStep(
            pb.RecordDisputeStepRequest(
                request_id=f"late-{uuid.uuid4().hex}",
                dispute_id=dispute.dispute_id,
                action="reminded",
                actor="system:dispute",
                status="open",
                assignee="vera",
                notify=["vera"],
            )
        )
    ).dispute
    assert (late.status, late.assignee, late.closed_at) == ("rejected", "", rejected.closed_at)
    assert (await decisions(stack, dispute.dispute_id))[-1] == ("rejected", "vera")
