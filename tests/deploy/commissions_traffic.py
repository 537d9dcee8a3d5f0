"""A short commissions story driven through the public gRPC API, for the checks of the service's metrics
(the deployment tests' running platform, and tests/commissions/test_metrics.py against one server).
It produces every kind of series the commissions dashboard and alerts chart, on a fresh database.

The organisation: representatives anna (R1) and boris (R2), paid 5% of their direct revenue.

March: anna sells 100,000 and boris 50,000 (ingested with a resent row, a duplicate, and a row of a
position that does not exist, rejected); anna gets a +500.00 bonus, boris a -300.00 overpayment through
his own fault (recorded, never deducted). A full run, then anna's late 20,000 and an incremental run
(one participant recomputed), then March is finalized and a run of it is refused. A late March sale of
boris (10,000) comes with April's sales: April's full run issues him a +500.00 prior-period adjustment,
and recovers from anna's April payment a -100.00 overpayment due to a counting error (RECOVERABLE);
April is then finalized, which is when the prior-period adjustment is counted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2

MARCH, APRIL = "2026-03", "2026-04"
Y = common_pb2.Date(year=2026, month=1, day=1)
PLAN = {
    "plan_id": "rep",
    "name": "Representatives",
    "credit_rules": [{"rule_id": "all", "rollup_levels": None}],
    "measurements": [{"measurement_id": "revenue", "filter": {"credit_types": "DIRECT"}}],
    "incentives": [
        {
            "kind": "RATE_TABLE",
            "incentive_id": "commission",
            "base": "revenue",
            "tiers": [{"lower": "0", "rate": "0.05"}],
        }
    ],
}


def sale(tid: str, day: str, amount: str, position: str) -> pb.TransactionRow:
    return pb.TransactionRow(transaction_id=tid, date=day, amount=amount, currency="RUB", position_id=position)


async def _stream(rows: list[pb.TransactionRow]) -> AsyncIterator[pb.IngestTransactionsRequest]:
    yield pb.IngestTransactionsRequest(currency="RUB", rows=rows)


def rub(amount: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="RUB", minor_units=amount * 100)


@dataclass(frozen=True)
class Story:
    ingests: tuple[pb.IngestTransactionsResponse, ...]
    runs: tuple[pb.RunPeriodResponse, ...]  # March full, March incremental, April full
    refused: grpc.StatusCode | None


async def drive_commissions(api: commissions_pb2_grpc.CommissionsServiceStub) -> Story:
    await api.SaveOrganisation(
        pb.SaveOrganisationRequest(
            request_id="traffic-org",
            titles=[pb.Title(title_id="REP")],
            positions=[pb.PositionVersion(position_id=p, title_id="REP", valid_from=Y) for p in ("R1", "R2")],
            participants=[pb.Participant(participant_id=p, name=p.title()) for p in ("anna", "boris")],
            assignments=[
                pb.Assignment(participant_id="anna", position_id="R1", valid_from=Y),
                pb.Assignment(participant_id="boris", position_id="R2", valid_from=Y),
            ],
        )
    )
    await api.SavePlan(pb.SavePlanRequest(request_id="traffic-plan", plan_json=json.dumps(PLAN)))
    await api.AssignPlan(pb.AssignPlanRequest(request_id="traffic-assign", plan_id="rep", title_id="REP", valid_from=Y))
    first = await api.IngestTransactions(
        _stream(
            [
                sale("a1", "2026-03-05", "100000", "R1"),
                sale("b1", "2026-03-06", "50000", "R2"),
                sale("a1", "2026-03-05", "100000", "R1"),  # resent: a duplicate
                sale("x1", "2026-03-07", "500", "R9"),  # nobody's position: rejected
            ]
        )
    )
    for rid, who, amount, cls in (
        ("traffic-bonus", "anna", 500, pb.OVERPAYMENT_CLASS_UNSPECIFIED),
        ("traffic-overpaid", "boris", -300, pb.OVERPAYMENT_CLASS_EMPLOYEE_FAULT),
    ):
        request = pb.AddAdjustmentRequest(
            request_id=rid,
            participant_id=who,
            period=MARCH,
            amount=rub(amount),
            reason="traffic",
            overpayment_class=cls,
        )
        await api.AddAdjustment(request)
        await api.AddAdjustment(request)  # a retry: the stored answer, nothing recorded again
    full = await api.RunPeriod(pb.RunPeriodRequest(request_id="traffic-march-1", period=MARCH))
    late = await api.IngestTransactions(_stream([sale("a2", "2026-03-20", "20000", "R1")]))
    incremental = await api.RunPeriod(
        pb.RunPeriodRequest(request_id="traffic-march-2", period=MARCH, mode=pb.RUN_MODE_INCREMENTAL)
    )
    await api.FinalizePeriod(pb.FinalizePeriodRequest(request_id="traffic-finalize-march", period=MARCH))
    refused = None
    try:
        await api.RunPeriod(pb.RunPeriodRequest(period=MARCH))
    except grpc.aio.AioRpcError as err:
        refused = err.code()
    april_rows = await api.IngestTransactions(
        _stream(
            [
                sale("b2", "2026-03-25", "10000", "R2"),  # late news of finalized March
                sale("a3", "2026-04-05", "80000", "R1"),
                sale("b3", "2026-04-06", "40000", "R2"),
            ]
        )
    )
    await api.AddAdjustment(
        pb.AddAdjustmentRequest(
            request_id="traffic-miscounted",
            participant_id="anna",
            period=APRIL,
            amount=rub(-100),
            reason="traffic",
            overpayment_class=pb.OVERPAYMENT_CLASS_CALCULATION_ERROR,
        )
    )
    april = await api.RunPeriod(pb.RunPeriodRequest(request_id="traffic-april-1", period=APRIL))
    # Finalizing April pays (and counts, once) the prior-period adjustment its run carries.
    await api.FinalizePeriod(pb.FinalizePeriodRequest(request_id="traffic-finalize-april", period=APRIL))
    return Story((first, late, april_rows), (full, incremental, april), refused)
