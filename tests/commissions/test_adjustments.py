"""AddAdjustment end to end: a real server over the embedded PostgreSQL (fixtures of tests/conftest.py).

The world: representatives anna (R1) and boris (R2) on the representatives' plan of test_service
(quota 100,000; 2% below quota, 4% from 1.0, 6% from 1.2). Every month anna sells 100,000 (attainment
1.0 -> 4%: 4,000.00) and boris 50,000 (0.5 -> 2%: 1,000.00).

March: anna gets a +500.00 bonus adjustment -> 4,500.00. March is then finalized; adjustments to it
are refused. April: anna has a -1,000.00 calculation-error overpayment, recovered within the 20% limit
of art. 138 (800.00 of 4,000.00; 200.00 stays to recover); boris has a -300.00 overpayment through his
own fault, which art. 137 does not let the employer deduct: recorded, his payment stays 1,000.00.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2
from crmctl.infra import LocalPostgres
from tests.commissions.test_service import REP_PLAN, Db, row, rub, stream
from tests.parties.support import invalid, rpc_error

Y = common_pb2.Date(year=2026, month=1, day=1)
Api = commissions_pb2_grpc.CommissionsServiceStub


@pytest.fixture(scope="module")
def db(postgres: LocalPostgres, commissions_db_url: str) -> Db:
    return Db(postgres, commissions_db_url)


@pytest_asyncio.fixture(scope="module")
async def api(commissions_server: str) -> AsyncIterator[Api]:
    async with grpc.aio.insecure_channel(commissions_server) as channel:
        yield commissions_pb2_grpc.CommissionsServiceStub(channel)


@pytest_asyncio.fixture(scope="module")
async def world(api: Api) -> None:
    await api.SaveOrganisation(
        pb.SaveOrganisationRequest(
            request_id="org",
            titles=[pb.Title(title_id="REP")],
            positions=[pb.PositionVersion(position_id=p, title_id="REP", valid_from=Y) for p in ("R1", "R2")],
            participants=[pb.Participant(participant_id=p) for p in ("anna", "boris")],
            assignments=[
                pb.Assignment(participant_id="anna", position_id="R1", valid_from=Y),
                pb.Assignment(participant_id="boris", position_id="R2", valid_from=Y),
            ],
        )
    )
    await api.SavePlan(pb.SavePlanRequest(request_id="plan", plan_json=json.dumps(REP_PLAN)))
    await api.AssignPlan(pb.AssignPlanRequest(request_id="assign", plan_id="rep", title_id="REP", valid_from=Y))
    sales = [
        row(f"{who}-{month}", f"2026-{month}-10", amount, position)
        for month in ("03", "04")
        for who, amount, position in (("anna", "100000", "R1"), ("boris", "50000", "R2"))
    ]
    result = await api.IngestTransactions(stream(pb.IngestTransactionsRequest(currency="RUB", rows=sales)))
    assert (result.accepted, len(result.rejected)) == (4, 0)


def adjustment(
    participant: str = "anna",
    period: str = "2026-03",
    amount: str = "500",
    reason: str = "Q1 bonus",
    overpayment: int = pb.OVERPAYMENT_CLASS_UNSPECIFIED,
    request_id: str = "",
) -> pb.AddAdjustmentRequest:
    return pb.AddAdjustmentRequest(
        request_id=request_id,
        participant_id=participant,
        period=period,
        amount=rub(amount),
        reason=reason,
        overpayment_class=overpayment,  # type: ignore[arg-type]
    )


def payments(run: pb.RunPeriodResponse) -> dict[str, common_pb2.Money]:
    return {p.participant_id: p.payment for p in run.payments}


async def test_a_bonus_adjustment_is_paid_by_the_next_run(api: Api, world: None, db: Db) -> None:
    first = await api.AddAdjustment(adjustment(request_id="bonus-1"))
    assert first.adjustment_id and first.period == "2026-03"
    assert await api.AddAdjustment(adjustment(request_id="bonus-1")) == first  # a retry writes nothing new
    assert db.counts()["adjustments"] == 1
    march = await api.RunPeriod(pb.RunPeriodRequest(request_id="run-march", period="2026-03"))
    assert payments(march)["anna"] == rub("4500.00")
    assert payments(march)["boris"] == rub("1000.00")
    st = await api.GetStatement(pb.GetStatementRequest(participant_id="anna", period="2026-03"))
    assert st.payment == rub("4500.00")
    assert sorted((p.earning_code, p.amount.minor_units) for p in st.payroll) == [
        ("ADJUSTMENT", 50_000),
        ("COMMISSION", 400_000),
    ]


async def test_bad_adjustments_are_refused_and_write_nothing(api: Api, world: None, db: Db) -> None:
    before = db.counts()
    await invalid(api.AddAdjustment(adjustment(reason="  ")), "reason")
    await invalid(api.AddAdjustment(adjustment(reason="x" * 501)), "reason")
    await invalid(api.AddAdjustment(adjustment(participant="nobody")), "participant_id")
    await invalid(api.AddAdjustment(adjustment(participant="")), "participant_id")
    await invalid(api.AddAdjustment(adjustment(amount="0")), "amount.minor_units")
    await invalid(api.AddAdjustment(adjustment(period="March")), "period")
    # A negative adjustment is an overpayment: it must say which kind.
    await invalid(api.AddAdjustment(adjustment(amount="-100")), "overpayment_class")
    assert db.counts() == before


async def test_a_finalized_period_takes_no_adjustment(api: Api, world: None, db: Db) -> None:
    await api.FinalizePeriod(pb.FinalizePeriodRequest(request_id="fin-march", period="2026-03"))
    before = db.counts()
    await rpc_error(api.AddAdjustment(adjustment(request_id="late")), grpc.StatusCode.FAILED_PRECONDITION)
    assert db.counts() == before


async def test_only_calculation_errors_are_recovered(api: Api, world: None, db: Db) -> None:
    # Runs after test_a_finalized_period_takes_no_adjustment (April carries on from the finalized March).
    await api.AddAdjustment(
        adjustment(
            period="2026-04",
            amount="-1000",
            reason="March commission counted twice",
            overpayment=pb.OVERPAYMENT_CLASS_CALCULATION_ERROR,
        )
    )
    await api.AddAdjustment(
        adjustment(
            participant="boris",
            period="2026-04",
            amount="-300",
            reason="advance not returned",
            overpayment=pb.OVERPAYMENT_CLASS_EMPLOYEE_FAULT,
        )
    )
    april = await api.RunPeriod(pb.RunPeriodRequest(request_id="run-april", period="2026-04"))
    # anna: 4,000.00 earned, at most 20% (800.00) recovered; boris: recorded, not deducted.
    assert payments(april) == {"anna": rub("3200.00"), "boris": rub("1000.00")}
    assert april.total_payment == rub("4200.00")
    # May: nothing earned, nothing paid; what remains of anna's overpayment waits for a payout.
    may = await api.RunPeriod(pb.RunPeriodRequest(request_id="run-may", period="2026-05"))
    assert may.total_payment == rub("0")
