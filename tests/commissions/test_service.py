"""The commissions gRPC service end to end: a real server on a real socket over the embedded
PostgreSQL. One module-scoped world is built through the public API (organisation, plans, plan
assignments, transactions) and run; the figures are checked against hand arithmetic. Bad input gets
INVALID_ARGUMENT naming the field (or the right status) and writes nothing.

The organisation: director D1 (gleb) > manager M1 (vera) > representatives R1 (anna), R2 (boris).
The representatives' plan pays on revenue against a quota of 100,000 with stepped tiers on attainment
(below 1.0: 2%, 1.0-1.2: 4%, from 1.2: 6%); credits roll up to every manager; the manager's plan pays
1% of the team's (indirect) revenue. The director has no plan.

March 2026: anna sells 100,000 + 30,000; boris sells 40,000, of which 10,000 is reversed.
  anna  revenue 130,000, attainment 1.3 -> tier 2 at 6%: 7,800.00
  boris revenue  30,000, attainment 0.3 -> tier 0 at 2%:   600.00 (to quota 70,000; next tier 4% at 100,000)
  vera  team    160,000 x 1%                          : 1,600.00
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from urllib.parse import urlsplit

import grpc
import pytest
import pytest_asyncio

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2
from crmctl.infra import LocalPostgres
from tests.parties.support import invalid, rpc_error

TABLES = (
    "titles",
    "position_versions",
    "participants",
    "assignments",
    "plans",
    "plan_assignments",
    "transactions",
    "periods",
    "runs",
    "run_frames",
    "run_payments",
    "idempotency",
    "adjustments",
)
Y = common_pb2.Date(year=2026, month=1, day=1)

REP_PLAN = {
    "plan_id": "rep",
    "name": "Representatives 2026",
    "variables": {"quota": "100000"},
    "credit_rules": [{"rule_id": "all", "rollup_levels": None}],
    "measurements": [
        {"measurement_id": "revenue", "filter": {"credit_types": "DIRECT"}},
        {"measurement_id": "attainment", "kind": "FORMULA", "formula": "revenue / quota"},
    ],
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
MGR_PLAN = {
    "plan_id": "mgr",
    "measurements": [{"measurement_id": "team", "filter": {"credit_types": "INDIRECT"}}],
    "incentives": [
        {"kind": "RATE_TABLE", "incentive_id": "override", "base": "team", "tiers": [{"lower": "0", "rate": "0.01"}]}
    ],
}


def row(
    tid: str, day: str, amount: str, position: str = "", currency: str = "RUB", original: str = ""
) -> pb.TransactionRow:
    return pb.TransactionRow(
        transaction_id=tid,
        date=day,
        amount=amount,
        currency=currency,
        position_id=position,
        product="loan",
        original_id=original,
    )


def rub(amount: str) -> common_pb2.Money:
    return common_pb2.Money(currency_code="RUB", minor_units=int(Decimal(amount) * 100))


async def stream(*chunks: pb.IngestTransactionsRequest) -> AsyncIterator[pb.IngestTransactionsRequest]:
    for chunk in chunks:
        yield chunk


class Db:
    def __init__(self, postgres: LocalPostgres, url: str) -> None:
        self.postgres = postgres
        self.name = urlsplit(url).path.lstrip("/")

    def counts(self) -> dict[str, int]:
        query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM commissions.{t}" for t in TABLES)
        out = {}
        for line in self.postgres.psql(query, database=self.name).splitlines():
            table, count = line.split("|")
            out[table] = int(count)
        return out


@pytest.fixture(scope="module")
def database(postgres: LocalPostgres, commissions_db_url: str) -> Db:
    return Db(postgres, commissions_db_url)


@pytest_asyncio.fixture(scope="module")
async def api(commissions_server: str) -> AsyncIterator[commissions_pb2_grpc.CommissionsServiceStub]:
    async with grpc.aio.insecure_channel(commissions_server) as channel:
        yield commissions_pb2_grpc.CommissionsServiceStub(channel)


@pytest_asyncio.fixture(scope="module")
async def world(api: commissions_pb2_grpc.CommissionsServiceStub) -> pb.IngestTransactionsResponse:
    org = pb.SaveOrganisationRequest(
        request_id="org-1",
        titles=[pb.Title(title_id=t) for t in ("DIR", "MGR", "REP")],
        positions=[
            pb.PositionVersion(position_id="D1", title_id="DIR", valid_from=Y),
            pb.PositionVersion(position_id="M1", title_id="MGR", manager_position_id="D1", valid_from=Y),
            pb.PositionVersion(position_id="R1", title_id="REP", manager_position_id="M1", valid_from=Y),
            pb.PositionVersion(position_id="R2", title_id="REP", manager_position_id="M1", valid_from=Y),
        ],
        participants=[pb.Participant(participant_id=p, name=p.title()) for p in ("gleb", "vera", "anna", "boris")],
        assignments=[
            pb.Assignment(participant_id="gleb", position_id="D1", valid_from=Y),
            pb.Assignment(participant_id="vera", position_id="M1", valid_from=Y),
            pb.Assignment(participant_id="anna", position_id="R1", valid_from=Y),
            pb.Assignment(participant_id="boris", position_id="R2", valid_from=Y),
        ],
    )
    saved = await api.SaveOrganisation(org)
    assert (saved.titles, saved.positions, saved.participants, saved.assignments) == (3, 4, 4, 4)
    assert await api.SaveOrganisation(org) == saved  # a retry
    rep = await api.SavePlan(pb.SavePlanRequest(request_id="plan-rep", plan_json=json.dumps(REP_PLAN)))
    assert (rep.plan_id, rep.version) == ("rep", 1)
    mgr = await api.SavePlan(pb.SavePlanRequest(request_id="plan-mgr", plan_json=json.dumps(MGR_PLAN)))
    assert (mgr.plan_id, mgr.version) == ("mgr", 1)
    await api.AssignPlan(pb.AssignPlanRequest(request_id="a-rep", plan_id="rep", title_id="REP", valid_from=Y))
    await api.AssignPlan(pb.AssignPlanRequest(request_id="a-mgr", plan_id="mgr", title_id="MGR", valid_from=Y))
    return await api.IngestTransactions(
        stream(
            pb.IngestTransactionsRequest(
                currency="RUB",
                rows=[
                    row("t1", "2026-03-05", "100000", "R1"),
                    row("t2", "2026-03-10", "30000.00", "R1"),
                    row("t3", "2026-03-12", "40000", "R2"),
                    row("bad-pos", "2026-03-12", "500", "R9"),
                ],
            ),
            pb.IngestTransactionsRequest(
                rows=[
                    row("t4", "2026-03-20", "-10000", currency="RUB", original="t3"),
                    row("bad-cur", "2026-03-12", "500", "R1", currency="USD"),
                    row("bad-date", "2026-02-30", "500", "R1"),
                    row("t1", "2026-03-05", "100000", "R1"),  # resent: a duplicate
                ]
            ),
        )
    )


async def test_ingest_reports_bad_rows_and_keeps_good_ones(world: pb.IngestTransactionsResponse) -> None:
    assert (world.accepted, world.duplicates) == (4, 1)
    rejected = {(r.row_index, r.transaction_id, r.field) for r in world.rejected}
    assert rejected == {
        (3, "bad-pos", "rows[3].position_id"),
        (5, "bad-cur", "rows[5].currency"),
        (6, "bad-date", "rows[6].date"),
    }
    assert all(r.reason for r in world.rejected)


async def test_ingest_is_idempotent_by_transaction_id(
    api: commissions_pb2_grpc.CommissionsServiceStub, world: pb.IngestTransactionsResponse, database: Db
) -> None:
    before = database.counts()["transactions"]
    again = await api.IngestTransactions(
        stream(pb.IngestTransactionsRequest(rows=[row("t2", "2026-03-10", "30000", "R1")]))
    )
    assert (again.accepted, again.duplicates, len(again.rejected)) == (0, 1, 0)
    changed = await api.IngestTransactions(
        stream(pb.IngestTransactionsRequest(rows=[row("t2", "2026-03-10", "1", "R1")]))
    )
    assert changed.rejected[0].field == "rows[0].transaction_id"
    assert database.counts()["transactions"] == before


@pytest_asyncio.fixture(scope="module")
async def march(
    api: commissions_pb2_grpc.CommissionsServiceStub, world: pb.IngestTransactionsResponse
) -> pb.RunPeriodResponse:
    return await api.RunPeriod(pb.RunPeriodRequest(request_id="run-march-1", period="2026-03", currency="RUB"))


async def test_run_pays_the_hand_computed_amounts(march: pb.RunPeriodResponse) -> None:
    assert (march.period, march.run_version) == ("2026-03", 1)
    payments = {p.participant_id: p.payment for p in march.payments}
    assert payments["anna"] == rub("7800.00")
    assert payments["boris"] == rub("600.00")
    assert payments["vera"] == rub("1600.00")
    assert payments.get("gleb", rub("0")) == rub("0")
    assert march.total_payment == rub("10000.00")


async def test_statement_traces_lines_to_measurements_credits_and_transactions(
    api: commissions_pb2_grpc.CommissionsServiceStub, march: pb.RunPeriodResponse
) -> None:
    st = await api.GetStatement(pb.GetStatementRequest(participant_id="anna", period="2026-03"))
    assert (st.run_version, st.state) == (1, pb.PERIOD_STATE_OPEN)
    (line,) = st.lines
    assert (line.plan_id, line.incentive_id, line.earning_code, line.base_measurement_id) == (
        "rep",
        "commission",
        "COMMISSION",
        "revenue",
    )
    assert (Decimal(line.base_value), Decimal(line.quota), Decimal(line.tier_value)) == (
        Decimal(130000),
        Decimal(100000),
        Decimal("1.3"),
    )
    assert (line.tier_index, Decimal(line.rate), line.amount) == (2, Decimal("0.06"), rub("7800.00"))
    figures = {m.measurement_id: m for m in st.measurements}
    assert Decimal(figures["revenue"].value) == Decimal(130000)
    assert Decimal(figures["attainment"].value) == Decimal("1.3")
    assert figures["revenue"].credits_total == len(figures["revenue"].credits)
    assert [(c.transaction_id, c.rule_id, c.level, c.amount) for c in figures["revenue"].credits] == [
        ("t1", "all", 0, rub("100000")),
        ("t2", "all", 0, rub("30000")),
    ]
    assert st.payment == rub("7800.00")
    assert [(p.earning_code, p.amount) for p in st.payroll] == [("COMMISSION", rub("7800.00"))]

    boss = await api.GetStatement(pb.GetStatementRequest(participant_id="vera", period="2026-03"))
    team = {m.measurement_id: m for m in boss.measurements}["team"]
    assert Decimal(team.value) == Decimal(160000)
    assert sorted((c.transaction_id, c.level, c.amount.minor_units) for c in team.credits) == [
        ("t1", 1, 10_000_000),
        ("t2", 1, 3_000_000),
        ("t3", 1, 4_000_000),
        ("t4", 1, -1_000_000),
    ]


async def test_dashboard_shows_attainment_rank_and_distance_to_quota_and_next_tier(
    api: commissions_pb2_grpc.CommissionsServiceStub, march: pb.RunPeriodResponse
) -> None:
    boris = await api.GetDashboard(pb.GetDashboardRequest(participant_id="boris", period="2026-03"))
    assert boris.expected_payout == rub("600.00")
    kpi = {k.measurement_id: k for k in boris.kpis}["revenue"]
    assert (Decimal(kpi.value), Decimal(kpi.attainment), Decimal(kpi.to_quota)) == (
        Decimal(30000),
        Decimal("0.3"),
        Decimal(70000),
    )
    assert (kpi.tier_index, Decimal(kpi.tier_rate), Decimal(kpi.next_tier_rate), Decimal(kpi.to_next_tier)) == (
        0,
        Decimal("0.02"),
        Decimal("0.04"),
        Decimal(70000),
    )
    assert (kpi.rank, kpi.peers) == (2, 2)
    anna = await api.GetDashboard(pb.GetDashboardRequest(participant_id="anna", period="2026-03"))
    top = {k.measurement_id: k for k in anna.kpis}["revenue"]
    assert (top.rank, Decimal(top.to_quota), top.next_tier_rate) == (1, Decimal(0), "")


async def test_payroll_export(api: commissions_pb2_grpc.CommissionsServiceStub, march: pb.RunPeriodResponse) -> None:
    export = await api.ExportPayroll(pb.ExportPayrollRequest(period="2026-03"))
    lines = export.csv.strip().splitlines()
    assert lines[0].split(",") == ["period", "participant_id", "earning_code", "amount", "currency"]
    rows = {tuple(line.split(",")[1:3]): line.split(",")[3] for line in lines[1:]}
    assert {k: Decimal(v) for k, v in rows.items()} == {
        ("anna", "COMMISSION"): Decimal("7800.00"),
        ("boris", "COMMISSION"): Decimal("600.00"),
        ("vera", "COMMISSION"): Decimal("1600.00"),
    }


# ------------------------------------------------------------------------------------------ bad input


async def test_organisation_with_an_unknown_position_writes_nothing(
    api: commissions_pb2_grpc.CommissionsServiceStub, world: pb.IngestTransactionsResponse, database: Db
) -> None:
    before = database.counts()
    await invalid(
        api.SaveOrganisation(
            pb.SaveOrganisationRequest(
                titles=[pb.Title(title_id="KAM")],
                participants=[pb.Participant(participant_id="kira")],
                positions=[
                    pb.PositionVersion(position_id="K1", title_id="KAM", manager_position_id="M1", valid_from=Y)
                ],
                assignments=[pb.Assignment(participant_id="kira", position_id="K9", valid_from=Y)],
            )
        ),
        "assignments[0].position_id",
    )
    await invalid(
        api.SaveOrganisation(
            pb.SaveOrganisationRequest(
                positions=[
                    pb.PositionVersion(position_id="K1", title_id="NOPE", manager_position_id="K1", valid_from=Y)
                ],
            )
        ),
        "positions[0].title_id",
        "positions[0].manager_id",
    )
    await invalid(
        api.SaveOrganisation(
            pb.SaveOrganisationRequest(assignments=[pb.Assignment(participant_id="anna", position_id="R1")])
        ),
        "assignments[0].valid_from",
    )
    await invalid(  # a second holder of R1 at the same time
        api.SaveOrganisation(
            pb.SaveOrganisationRequest(
                assignments=[pb.Assignment(participant_id="gleb", position_id="R1", valid_from=Y)]
            )
        ),
        "assignments",
    )
    assert database.counts() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "measurements": [
                    *REP_PLAN["measurements"][:1],
                    {"measurement_id": "attainment", "kind": "FORMULA", "formula": "revenue / "},
                ]
            },
            "plan_json.measurements[1].formula",
        ),
        (
            {
                "incentives": [
                    {
                        **REP_PLAN["incentives"][0],
                        "tiers": [{"lower": "0", "upper": "1.1", "rate": "0.02"}, {"lower": "1", "rate": "0.04"}],
                    }
                ]
            },
            "plan_json.incentives[0].tiers",
        ),
        ({"currency": "ZZZ"}, "plan_json.currency"),
        (
            {"credit_rules": [{"rule_id": "split", "targets": [{"position": "NOWHERE", "percent": "100"}]}]},
            "plan_json.credit_rules[0]",
        ),
    ],
    ids=["bad-formula", "overlapping-tiers", "unknown-currency", "unknown-position"],
)
async def test_bad_plans_are_refused_with_the_field(
    api: commissions_pb2_grpc.CommissionsServiceStub,
    world: pb.IngestTransactionsResponse,
    database: Db,
    change: dict[str, object],
    field: str,
) -> None:
    before = database.counts()
    await invalid(api.SavePlan(pb.SavePlanRequest(plan_json=json.dumps({**REP_PLAN, **change}))), field)
    assert database.counts() == before


async def test_other_bad_input(
    api: commissions_pb2_grpc.CommissionsServiceStub, world: pb.IngestTransactionsResponse, database: Db
) -> None:
    before = database.counts()
    await invalid(api.SavePlan(pb.SavePlanRequest(plan_json="{not json")), "plan_json")
    await invalid(api.AssignPlan(pb.AssignPlanRequest(plan_id="rep", title_id="NOPE", valid_from=Y)), "title_id")
    await invalid(api.AssignPlan(pb.AssignPlanRequest(plan_id="rep", title_id="REP")), "valid_from")
    await rpc_error(
        api.AssignPlan(pb.AssignPlanRequest(plan_id="ghost", title_id="REP", valid_from=Y)), grpc.StatusCode.NOT_FOUND
    )
    await invalid(api.IngestTransactions(stream(pb.IngestTransactionsRequest(currency="ZZZ"))), "currency")
    await invalid(api.RunPeriod(pb.RunPeriodRequest(period="2026-13")), "period")
    await invalid(api.RunPeriod(pb.RunPeriodRequest(period="2026-03", currency="ZZZ")), "currency")
    await rpc_error(
        api.GetStatement(pb.GetStatementRequest(participant_id="anna", period="2025-01")), grpc.StatusCode.NOT_FOUND
    )
    assert database.counts() == before


async def test_finalized_period_is_never_run_again(
    api: commissions_pb2_grpc.CommissionsServiceStub, march: pb.RunPeriodResponse, database: Db
) -> None:
    # Running again gives a new version; a retry with the same request_id does not.
    second = await api.RunPeriod(pb.RunPeriodRequest(request_id="run-march-2", period="2026-03"))
    assert second.run_version == 2 and second.total_payment == march.total_payment
    assert (await api.RunPeriod(pb.RunPeriodRequest(request_id="run-march-2", period="2026-03"))).run_version == 2
    done = await api.FinalizePeriod(pb.FinalizePeriodRequest(request_id="fin-march", period="2026-03"))
    assert (done.run_version, done.state) == (2, pb.PERIOD_STATE_FINALIZED)
    before = database.counts()
    await rpc_error(api.RunPeriod(pb.RunPeriodRequest(period="2026-03")), grpc.StatusCode.FAILED_PRECONDITION)
    await rpc_error(api.FinalizePeriod(pb.FinalizePeriodRequest(period="2026-03")), grpc.StatusCode.FAILED_PRECONDITION)
    await rpc_error(api.FinalizePeriod(pb.FinalizePeriodRequest(period="2026-04")), grpc.StatusCode.FAILED_PRECONDITION)
    assert database.counts() == before
    st = await api.GetStatement(pb.GetStatementRequest(participant_id="anna", period="2026-03"))
    assert (st.run_version, st.state, st.payment) == (2, pb.PERIOD_STATE_FINALIZED, rub("7800.00"))


async def test_the_next_period_runs_on_from_the_finalized_one(
    api: commissions_pb2_grpc.CommissionsServiceStub, march: pb.RunPeriodResponse
) -> None:
    # Runs after test_finalized_period_is_never_run_again: April carries March's balances (none) and
    # has no sales: a first version paying nothing.
    april = await api.RunPeriod(pb.RunPeriodRequest(request_id="run-april-1", period="2026-04"))
    assert (april.period, april.run_version, april.total_payment) == ("2026-04", 1, rub("0"))
    st = await api.GetStatement(pb.GetStatementRequest(participant_id="anna", period="2026-04"))
    assert (st.state, st.payment) == (pb.PERIOD_STATE_OPEN, rub("0"))


async def test_check_manager_follows_the_hierarchy_of_the_period(
    api: commissions_pb2_grpc.CommissionsServiceStub, world: pb.IngestTransactionsResponse
) -> None:
    async def manages(manager: str, participant: str, period: str = "2026-03") -> bool:
        answer = await api.CheckManager(
            pb.CheckManagerRequest(manager_id=manager, participant_id=participant, period=period)
        )
        return answer.manages

    assert await manages("vera", "anna") and await manages("vera", "boris")
    assert await manages("gleb", "anna")  # two levels up
    assert not await manages("anna", "boris")  # a peer
    assert not await manages("anna", "vera")  # upwards
    assert not await manages("vera", "vera")
    assert not await manages("vera", "anna", "2025-12")  # before the organisation existed
    assert not await manages("nobody", "anna")
    await invalid(api.CheckManager(pb.CheckManagerRequest(manager_id="vera", participant_id="anna")), "period")
    await invalid(api.CheckManager(pb.CheckManagerRequest(participant_id="anna", period="2026-03")), "manager_id")


async def test_a_stream_of_more_rows_than_one_query_may_bind_goes_in(
    api: commissions_pb2_grpc.CommissionsServiceStub, world: pb.IngestTransactionsResponse
) -> None:
    """40,000 rows in one stream: more ids than PostgreSQL's driver takes as separate query arguments."""
    rows = [row(f"bulk-{i}", "2026-11-02", "10", "R2") for i in range(40_000)]
    chunks = [pb.IngestTransactionsRequest(currency="RUB", rows=rows[i : i + 5000]) for i in range(0, len(rows), 5000)]
    result = await api.IngestTransactions(stream(*chunks))
    assert (result.accepted, result.duplicates, len(result.rejected)) == (40_000, 0, 0)
    again = await api.IngestTransactions(stream(*chunks))
    assert (again.accepted, again.duplicates) == (0, 40_000)
