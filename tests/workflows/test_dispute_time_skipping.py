"""DisputeWorkflow on the time-skipping test server, started by the real commissions service's OpenDispute
and recording every step through it. The world of `commissions_support` with March (and April) sales
run through the public API, so anna has a statement line R1/commission to dispute:

  * a dispute approved by the manager and resolved by the compensation team becomes a +500.00 adjustment
    in the open period; the participant is told, and the workflow recalculates her incrementally, so
    her statement shows the correction at once;
  * once March is finalized, a resolution of a March dispute is paid by April, the open period;
  * the manager asks for more information, the participant gives it, the manager rejects: no adjustment;
  * a reminder after the first SLA and an escalation to the manager's manager after the second, in
    simulated days; the escalation lets the director decide;
  * the participant withdraws;
  * the report of open disputes by age and of resolution times;
  * bad input is refused naming the field and writes nothing.

(Refused decisions are tested on the dev server, `test_dispute_dev_server.py`: the Java test server
answers a validator-refused update with "update not found".)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from crm.commissions.v1 import commissions_pb2 as pb
from crmctl.infra import LocalPostgres
from tests.parties.support import invalid, rpc_error
from tests.workflows.commissions_support import (
    PERIOD,
    Stack,
    build_world,
    commissions_stack,
    decide_dispute,
    eventually,
    ingest,
    notifications,
    open_dispute_request,
    row_counts,
    rub,
    sale,
)
from tests.workflows.support import time_skipping_env

APRIL = "2026-04"
COMPENSATION = ("olga", "compensation")
WRITTEN = ("disputes", "dispute_events", "notifications", "adjustments", "idempotency", "runs")


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_env() as environment:
        yield environment


@pytest_asyncio.fixture(scope="module")
async def stack(env: WorkflowEnvironment, commissions_db_url: str) -> AsyncIterator[Stack]:
    target = env.client.service_client.config.target_host
    async with commissions_stack(env.client, commissions_db_url, target) as s:
        await build_world(s.api)
        accepted = await ingest(
            s.api,
            sale("m-anna", "2026-03-10", "100000", "R1"),
            sale("m-boris", "2026-03-11", "50000", "R2"),
            sale("m-carl", "2026-03-12", "30000", "R3"),
            sale("a-anna", "2026-04-10", "20000", "R1"),
            sale("a-boris", "2026-04-11", "10000", "R2"),
        )
        assert (accepted.accepted, len(accepted.rejected)) == (5, 0)
        march = await s.api.RunPeriod(pb.RunPeriodRequest(request_id="run-march", period=PERIOD))
        assert march.run_version == 1
        yield s


async def statement(stack: Stack, period: str, participant: str = "anna") -> pb.GetStatementResponse:
    return await stack.api.GetStatement(pb.GetStatementRequest(participant_id=participant, period=period))


async def approve_and_resolve(stack: Stack, dispute: pb.Dispute, amount: str = "500.00") -> pb.Dispute:
    approved = (await stack.api.DecideDispute(decide_dispute(dispute.dispute_id, "approve", "vera"))).dispute
    assert (approved.status, approved.assignee) == ("approved", "role:compensation")
    return (
        await stack.api.DecideDispute(
            decide_dispute(
                dispute.dispute_id, "resolve", *COMPENSATION, comment="tier 2 applies from the quota", amount=amount
            )
        )
    ).dispute


async def test_a_resolved_dispute_corrects_the_statement(stack: Stack) -> None:
    before = await statement(stack, PERIOD)
    assert [(line.position_id, line.incentive_id) for line in before.lines] == [("R1", "commission")]
    dispute = (await stack.api.OpenDispute(open_dispute_request())).dispute
    assert (dispute.status, dispute.assignee, dispute.manager_id) == ("open", "vera", "vera")
    assert dispute.workflow_id == f"dispute/{PERIOD}/anna/{dispute.dispute_id}"
    assert (dispute.reason, dispute.position_id, dispute.incentive_id) == (
        pb.DISPUTE_REASON_WRONG_RATE,
        "R1",
        "commission",
    )
    assert list(dispute.references) == ["deal 4711", "plan rep v1, tier 2"]

    async def vera_told() -> bool:
        return any(
            n.kind == "dispute_opened" and n.ref == dispute.workflow_id for n in await notifications(stack.api, "vera")
        )

    await eventually(vera_told, "vera told of the new dispute")
    resolved = await approve_and_resolve(stack, dispute)
    assert (resolved.status, resolved.assignee) == ("resolved", "")
    assert resolved.adjustment == rub("500.00")
    assert resolved.adjustment_id == f"DSP:{dispute.dispute_id}"
    assert resolved.adjustment_period == PERIOD  # March is still open: it pays the adjustment itself
    assert resolved.closed_at

    told = [n for n in await notifications(stack.api, "anna") if n.ref == dispute.workflow_id]
    assert any(n.kind == "dispute_resolved" and "tier 2 applies" in n.subject for n in told)

    result = await stack.client.get_workflow_handle(dispute.workflow_id).result()
    assert result["status"] == "resolved"
    recalculated = result["recalculated"]
    # Only anna's inputs changed (the adjustment) since the March run: an incremental run of her, a new
    # run version of the period.
    assert (recalculated["period"], recalculated["kind"]) == (PERIOD, "INCREMENTAL")
    assert recalculated["run_version"] == before.run_version + 1

    after = await statement(stack, PERIOD)
    assert after.run_version == recalculated["run_version"]
    assert after.payment.minor_units - before.payment.minor_units == 50_000  # exactly +500.00
    (line,) = after.adjustments
    assert (line.adjustment_id, line.amount, line.period, line.treatment) == (
        resolved.adjustment_id,
        rub("500.00"),
        PERIOD,
        "PAID",
    )
    assert f"dispute {dispute.dispute_id}" in line.reason and "wrong_rate" in line.reason
    # The commission line itself is what it was: the correction is the adjustment.
    assert [x.amount for x in after.lines] == [x.amount for x in before.lines]

    trail = (await stack.api.GetDispute(pb.GetDisputeRequest(dispute_id=dispute.dispute_id))).dispute
    assert [(e.action, e.actor) for e in trail.history] == [
        ("opened", "anna"),
        ("approved", "vera"),
        ("resolved", "olga"),
    ]


async def test_after_finalization_the_adjustment_goes_to_the_open_period(stack: Stack) -> None:
    # March (with the first dispute's adjustment, run version 2) is finalized; April is the open period.
    done = await stack.api.FinalizePeriod(pb.FinalizePeriodRequest(request_id="fin-march", period=PERIOD))
    assert done.state == pb.PERIOD_STATE_FINALIZED
    april = await stack.api.RunPeriod(pb.RunPeriodRequest(request_id="run-april", period=APRIL))
    march_before, april_before = await statement(stack, PERIOD), await statement(stack, APRIL)
    assert not april_before.adjustments

    # A finalized statement can still be disputed: the line is looked up in the finalized run.
    dispute = (await stack.api.OpenDispute(open_dispute_request(text="Still 2% on the March sales"))).dispute
    resolved = await approve_and_resolve(stack, dispute, "500.00")
    assert (resolved.status, resolved.adjustment_period) == ("resolved", APRIL)
    result = await stack.client.get_workflow_handle(dispute.workflow_id).result()
    recalculated = result["recalculated"]
    assert (recalculated["period"], recalculated["run_version"]) == (APRIL, april.run_version + 1)
    assert recalculated["kind"] == "INCREMENTAL"

    april_after = await statement(stack, APRIL)
    assert april_after.payment.minor_units - april_before.payment.minor_units == 50_000
    assert [(a.adjustment_id, a.period, a.amount.minor_units) for a in april_after.adjustments] == [
        (resolved.adjustment_id, APRIL, 50_000)
    ]
    march_after = await statement(stack, PERIOD)
    assert (march_after.run_version, march_after.payment) == (march_before.run_version, march_before.payment)


async def test_more_information_then_a_rejection(
    stack: Stack, postgres: LocalPostgres, commissions_db_url: str
) -> None:
    adjustments = row_counts(postgres, commissions_db_url, ("adjustments",))
    dispute = (
        await stack.api.OpenDispute(
            open_dispute_request("boris", reason=pb.DISPUTE_REASON_WRONG_AMOUNT, position="R2", text="Too little")
        )
    ).dispute
    assert dispute.assignee == "vera"
    asked = (
        await stack.api.DecideDispute(
            decide_dispute(dispute.dispute_id, "request_info", "vera", comment="Which deal is missing?")
        )
    ).dispute
    assert (asked.status, asked.assignee) == ("info_requested", "boris")
    given = (
        await stack.api.DecideDispute(
            decide_dispute(dispute.dispute_id, "provide_info", "boris", comment="Deal 815 of 28 March")
        )
    ).dispute
    assert (given.status, given.assignee) == ("open", "vera")
    rejected = (
        await stack.api.DecideDispute(
            decide_dispute(dispute.dispute_id, "reject", "vera", comment="Deal 815 was booked in April")
        )
    ).dispute
    assert (rejected.status, rejected.assignee) == ("rejected", "")
    assert not rejected.HasField("adjustment") and not rejected.adjustment_id and not rejected.adjustment_period
    assert rejected.closed_at

    result = await stack.client.get_workflow_handle(dispute.workflow_id).result()
    assert (result["status"], result["recalculated"]) == ("rejected", None)
    assert row_counts(postgres, commissions_db_url, ("adjustments",)) == adjustments

    boris = {n.kind for n in await notifications(stack.api, "boris") if n.ref == dispute.workflow_id}
    assert {"dispute_info_requested", "dispute_rejected"} <= boris
    vera = {n.kind for n in await notifications(stack.api, "vera") if n.ref == dispute.workflow_id}
    assert {"dispute_opened", "dispute_info_provided"} <= vera
    trail = (await stack.api.GetDispute(pb.GetDisputeRequest(dispute_id=dispute.dispute_id))).dispute
    assert [(e.action, e.actor, e.comment) for e in trail.history] == [
        ("opened", "boris", ""),
        ("info_requested", "vera", "Which deal is missing?"),
        ("info_provided", "boris", "Deal 815 of 28 March"),
        ("rejected", "vera", "Deal 815 was booked in April"),
    ]


async def test_reminder_after_the_first_sla_and_escalation_after_the_second(
    stack: Stack, env: WorkflowEnvironment
) -> None:
    # carl disputes a transaction rather than a statement line.
    dispute = (
        await stack.api.OpenDispute(
            open_dispute_request(
                "carl",
                reason=pb.DISPUTE_REASON_MISSING_CREDIT,
                text="Half of this sale was mine",
                position="",
                incentive="",
                transaction="m-boris",
                references=(),
            )
        )
    ).dispute
    assert (dispute.transaction_id, dispute.assignee) == ("m-boris", "vera")
    wid = dispute.workflow_id

    async def kinds(who: str) -> set[str]:
        return {n.kind for n in await notifications(stack.api, who) if n.ref == wid}

    await env.sleep(timedelta(hours=49))

    async def reminded() -> bool:
        return "dispute_reminded" in await kinds("vera")

    await eventually(reminded, "vera reminded")
    assert "dispute_escalated" not in await kinds("gleb")
    await env.sleep(timedelta(hours=72))

    async def escalated() -> bool:
        return "dispute_escalated" in await kinds("gleb")

    await eventually(escalated, "escalated to gleb")
    assert "dispute_escalated" in await kinds("vera")  # the assignee is told too
    assert (await stack.client.get_workflow_handle(wid).query("status"))["escalated"] is True
    # After the escalation the manager's manager may decide too.
    approved = (await stack.api.DecideDispute(decide_dispute(dispute.dispute_id, "approve", "gleb"))).dispute
    assert (approved.status, approved.assignee) == ("approved", "role:compensation")
    trail = (await stack.api.GetDispute(pb.GetDisputeRequest(dispute_id=dispute.dispute_id))).dispute
    assert [(e.action, e.actor) for e in trail.history] == [
        ("opened", "carl"),
        ("reminded", "system:dispute"),
        ("escalated", "system:dispute"),
        ("approved", "gleb"),
    ]
    # Left approved (open, with the compensation team) for the report below.


async def test_the_participant_withdraws(stack: Stack) -> None:
    dispute = (
        await stack.api.OpenDispute(open_dispute_request(reason=pb.DISPUTE_REASON_OTHER, text="Never mind?"))
    ).dispute
    withdrawn = (await stack.api.DecideDispute(decide_dispute(dispute.dispute_id, "withdraw", "anna"))).dispute
    assert (withdrawn.status, withdrawn.assignee, withdrawn.adjustment_id) == ("withdrawn", "", "")
    assert withdrawn.closed_at
    result = await stack.client.get_workflow_handle(dispute.workflow_id).result()
    assert (result["status"], result["recalculated"]) == ("withdrawn", None)
    # The manager who had it to decide learns that it is gone.
    assert any(
        n.kind == "dispute_withdrawn" and n.ref == dispute.workflow_id for n in await notifications(stack.api, "vera")
    )


async def test_the_first_step_waits_for_the_open_dispute_to_commit(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenDispute starts the workflow inside its transaction; the workflow's first step (recording
    "opened") must wait for that transaction to commit instead of failing with NOT_FOUND (which is not
    retried, so the workflow would fail and the dispute would be stuck open). A slow commit is
    simulated by a pause right after the start."""
    import asyncio

    from services.commissions.app.workflow_client import WorkflowClient

    start = WorkflowClient.start

    async def slow_commit(self: WorkflowClient, *args: object, **kwargs: object) -> bool:
        started = await start(self, *args, **kwargs)  # type: ignore[arg-type]
        await asyncio.sleep(1.0)
        return started

    monkeypatch.setattr(WorkflowClient, "start", slow_commit)
    dispute = (await stack.api.OpenDispute(open_dispute_request(reason=pb.DISPUTE_REASON_OTHER, text="slow"))).dispute
    monkeypatch.undo()

    async def opened() -> bool:
        got = (await stack.api.GetDispute(pb.GetDisputeRequest(dispute_id=dispute.dispute_id))).dispute
        return [e.action for e in got.history] == ["opened"]

    await eventually(opened, "the opening recorded")
    withdrawn = (await stack.api.DecideDispute(decide_dispute(dispute.dispute_id, "withdraw", "anna"))).dispute
    assert withdrawn.status == "withdrawn"
    assert (await stack.client.get_workflow_handle(dispute.workflow_id).result())["status"] == "withdrawn"


async def test_bad_disputes_are_refused_naming_the_field_and_write_nothing(
    stack: Stack, postgres: LocalPostgres, commissions_db_url: str
) -> None:
    before = row_counts(postgres, commissions_db_url, WRITTEN)
    listed = len((await stack.api.ListDisputes(pb.ListDisputesRequest())).disputes)
    await invalid(stack.api.OpenDispute(open_dispute_request(text="   ")), "text")
    await invalid(stack.api.OpenDispute(open_dispute_request(text="x" * 2001)), "text")
    await invalid(stack.api.OpenDispute(open_dispute_request(transaction="m-anna")), "transaction_id")
    await invalid(stack.api.OpenDispute(open_dispute_request(position="", incentive="")), "transaction_id")
    await invalid(
        stack.api.OpenDispute(open_dispute_request(position="", incentive="", transaction="nope")), "transaction_id"
    )
    await invalid(stack.api.OpenDispute(open_dispute_request(position="R2")), "incentive_id")  # boris's line
    await invalid(stack.api.OpenDispute(open_dispute_request(incentive="bonus")), "incentive_id")
    await invalid(stack.api.OpenDispute(open_dispute_request(incentive="")), "incentive_id")
    await invalid(
        stack.api.OpenDispute(open_dispute_request(references=tuple(f"r{i}" for i in range(11)))), "references"
    )
    await invalid(stack.api.OpenDispute(open_dispute_request(references=("x" * 201,))), "references[0]")
    await invalid(stack.api.OpenDispute(open_dispute_request(reason=pb.DISPUTE_REASON_UNSPECIFIED)), "reason")
    await invalid(stack.api.OpenDispute(open_dispute_request(period="March")), "period")
    await invalid(stack.api.OpenDispute(open_dispute_request(participant="")), "participant_id")
    # Everything wrong at once: every field is named in one answer.
    await invalid(
        stack.api.OpenDispute(open_dispute_request(participant="", period="", text="", reason=0)),
        "participant_id",
        "period",
        "text",
        "reason",
    )
    await rpc_error(stack.api.OpenDispute(open_dispute_request(participant="nobody")), grpc.StatusCode.NOT_FOUND)
    # A period that has not been run has no statement to dispute.
    await rpc_error(stack.api.OpenDispute(open_dispute_request(period="2026-09")), grpc.StatusCode.FAILED_PRECONDITION)
    assert row_counts(postgres, commissions_db_url, WRITTEN) == before
    assert len((await stack.api.ListDisputes(pb.ListDisputesRequest())).disputes) == listed


async def test_bad_decisions_are_refused_by_the_service(stack: Stack) -> None:
    closed = (await stack.api.ListDisputes(pb.ListDisputesRequest(status="resolved"))).disputes[0]
    await invalid(stack.api.DecideDispute(decide_dispute(closed.dispute_id, "escalate", "vera")), "action")
    await invalid(stack.api.DecideDispute(decide_dispute(closed.dispute_id, "approve", "")), "actor")
    await invalid(stack.api.DecideDispute(decide_dispute("", "approve", "vera")), "dispute_id")
    await invalid(
        stack.api.DecideDispute(decide_dispute(closed.dispute_id, "approve", "vera", amount="10")), "adjustment"
    )
    await invalid(stack.api.DecideDispute(decide_dispute(closed.dispute_id, "resolve", "olga")), "adjustment")
    await invalid(
        stack.api.DecideDispute(decide_dispute(closed.dispute_id, "resolve", "olga", amount="-10")),
        "overpayment_class",
    )
    await rpc_error(
        stack.api.DecideDispute(decide_dispute("no-such-dispute", "approve", "vera")), grpc.StatusCode.NOT_FOUND
    )
    refused = await rpc_error(
        stack.api.DecideDispute(decide_dispute(closed.dispute_id, "reject", "vera", comment="too late")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "closed (resolved)" in (refused.details() or "")


async def test_the_report_of_open_disputes_and_resolution_times(stack: Stack) -> None:
    report = await stack.api.GetDisputeReport(pb.GetDisputeReportRequest(period=PERIOD))
    # Open: carl's escalated dispute, approved and waiting for the compensation team. Its workflow has
    # lived 121 simulated hours, but the report ages disputes by the database's clock (opened_at and
    # closed_at are PostgreSQL's clock_timestamp()), which the test server's time skipping does not move:
    # it is seconds old, so in the youngest bucket. (In production both clocks are the wall clock.)
    assert report.open == 1
    assert [(b.reason, b.age, b.count) for b in report.open_by_age] == [("MISSING_CREDIT", "0-2d", 1)]
    # Closed: resolved and rejected ones count, withdrawn ones do not; each took seconds of real time.
    assert [(r.reason, r.closed) for r in report.resolution] == [("WRONG_AMOUNT", 1), ("WRONG_RATE", 2)]
    for r in report.resolution:
        assert 0 < r.p50_hours <= r.p90_hours < 0.1 and 0 < r.mean_hours < 0.1
    # The whole register (no period) is the same here: every dispute is about March.
    assert await stack.api.GetDisputeReport(pb.GetDisputeReportRequest()) == report
    april = await stack.api.GetDisputeReport(pb.GetDisputeReportRequest(period=APRIL))
    assert (april.open, list(april.open_by_age), list(april.resolution)) == (0, [], [])
    await invalid(stack.api.GetDisputeReport(pb.GetDisputeReportRequest(period="2026-13")), "period")
    waiting = await stack.api.ListDisputes(pb.ListDisputesRequest(period=PERIOD, assignee="role:compensation"))
    assert [(d.participant_id, d.status) for d in waiting.disputes] == [("carl", "approved")]
