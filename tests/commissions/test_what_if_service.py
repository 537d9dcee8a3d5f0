"""RunWhatIf and EstimateDeal end to end: a real server over the embedded PostgreSQL. Nothing they do is
stored: the period's runs, payments and transactions are the same before and after.

The world: representatives anna (R1) and boris (R2) on test_service's REP_PLAN (quota 100,000; 2% below
quota, 4% from 1.0, 6% from 1.2). March: anna sells 100,000 (4%: 4,000.00), boris 50,000 (2%: 1,000.00).
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
MARCH = "2026-03"


@pytest.fixture(scope="module")
def db(postgres: LocalPostgres, commissions_db_url: str) -> Db:
    return Db(postgres, commissions_db_url)


@pytest_asyncio.fixture(scope="module")
async def api(commissions_server: str) -> AsyncIterator[Api]:
    async with grpc.aio.insecure_channel(commissions_server) as channel:
        yield commissions_pb2_grpc.CommissionsServiceStub(channel)


@pytest_asyncio.fixture(scope="module")
async def world(api: Api) -> pb.RunPeriodResponse:
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
    await api.IngestTransactions(
        stream(
            pb.IngestTransactionsRequest(
                currency="RUB",
                rows=[row("a1", "2026-03-05", "100000", "R1"), row("b1", "2026-03-06", "50000", "R2")],
            )
        )
    )
    return await api.RunPeriod(pb.RunPeriodRequest(request_id="run", period=MARCH))


def raised(rate_1: str, rate_2: str) -> str:
    plan = json.loads(json.dumps(REP_PLAN))
    tiers = plan["incentives"][0]["tiers"]
    tiers[0]["rate"], tiers[1]["rate"] = rate_1, rate_2
    return json.dumps(plan)


async def test_a_changed_plan_is_compared_with_the_current_one_and_nothing_is_stored(
    api: Api, world: pb.RunPeriodResponse, db: Db
) -> None:
    before = db.counts()
    result = await api.RunWhatIf(pb.RunWhatIfRequest(period=MARCH, plan_json=[raised("0.03", "0.05")]))
    # anna 100,000 at 5% instead of 4%: +1,000.00; boris 50,000 at 3% instead of 2%: +500.00.
    assert (result.baseline_cost, result.scenario_cost, result.change) == (rub("5000"), rub("6500"), rub("1500"))
    assert (result.better_off, result.worse_off, result.unchanged) == (2, 0, 0)
    people = {p.participant_id: p for p in result.participants}
    assert (people["anna"].baseline, people["anna"].scenario, people["anna"].change) == (
        rub("4000"),
        rub("5000"),
        rub("1000"),
    )
    assert people["boris"].change_percent == "50.00"
    assert [(i.incentive_id, i.change) for i in result.incentives] == [("commission", rub("1500"))]
    assert result.seconds > 0
    assert db.counts() == before
    limited = await api.RunWhatIf(pb.RunWhatIfRequest(period=MARCH, plan_json=[raised("0.03", "0.05")], limit=1))
    assert [p.participant_id for p in limited.participants] == ["anna"]  # the largest change first


async def test_an_override_only_scenario(api: Api, world: pb.RunPeriodResponse) -> None:
    # boris's quota cut to 50,000: attainment 1.0 -> 4%: 2,000.00 (+1,000.00).
    result = await api.RunWhatIf(
        pb.RunWhatIfRequest(
            period=MARCH,
            overrides=[
                pb.VariableOverrideInfo(plan_id="rep", variable="quota", value="50000", position_id="R2", valid_from=Y)
            ],
        )
    )
    assert result.change == rub("1000")
    assert {p.participant_id: p.change for p in result.participants}["boris"] == rub("1000")


async def test_bad_scenarios_name_the_field(api: Api, world: pb.RunPeriodResponse) -> None:
    await invalid(api.RunWhatIf(pb.RunWhatIfRequest(period=MARCH)), "plan_json")
    await invalid(api.RunWhatIf(pb.RunWhatIfRequest(period="2026-13", plan_json=[raised("0.03", "0.05")])), "period")
    await invalid(api.RunWhatIf(pb.RunWhatIfRequest(period=MARCH, plan_json=["{nope"])), "plan_json[0]")
    await invalid(api.RunWhatIf(pb.RunWhatIfRequest(period=MARCH, plan_json=["[1]"])), "plan_json[0]")
    broken = json.loads(REP_PLAN_JSON)
    broken["incentives"][0]["base"] = "missing"
    await invalid(
        api.RunWhatIf(pb.RunWhatIfRequest(period=MARCH, plan_json=[json.dumps(broken)])), "plan_json[0].incentives"
    )
    await invalid(
        api.RunWhatIf(
            pb.RunWhatIfRequest(
                period=MARCH,
                overrides=[pb.VariableOverrideInfo(plan_id="rep", variable="quota", value="x", position_id="R2")],
            )
        ),
        "overrides[0].value",
    )
    await invalid(
        api.RunWhatIf(pb.RunWhatIfRequest(period=MARCH, plan_json=[raised("0.03", "0.05")], limit=10_001)), "limit"
    )
    await invalid(api.RunWhatIf(pb.RunWhatIfRequest(period=MARCH, plan_json=["{}"] * 51)), "plan_json")


REP_PLAN_JSON = json.dumps(REP_PLAN)


async def test_a_deal_estimate(api: Api, world: pb.RunPeriodResponse, db: Db) -> None:
    before = db.counts()
    # anna closes 20,000 more: 120,000 -> attainment 1.2 -> 6%: 7,200.00 instead of 4,000.00.
    estimate = await api.EstimateDeal(pb.EstimateDealRequest(participant_id="anna", period=MARCH, amount="20000"))
    assert (estimate.current_payout, estimate.payout_with_deal, estimate.difference) == (
        rub("4000"),
        rub("7200"),
        rub("3200"),
    )
    assert estimate.new_tier
    revenue = next(k for k in estimate.kpis if k.measurement_id == "revenue")
    assert (revenue.before, revenue.after) == ("100000", "120000")
    tier = next(k for k in estimate.kpis if k.measurement_id == "commission:tier")
    assert (tier.tier_before, tier.tier_after, tier.before, tier.after) == (1, 2, "1", "1.2")
    small = await api.EstimateDeal(
        pb.EstimateDealRequest(participant_id="boris", period=MARCH, amount="1000", date="2026-03-10")
    )
    assert (small.difference, small.new_tier) == (rub("20"), False)
    assert db.counts() == before


async def test_bad_deals(api: Api, world: pb.RunPeriodResponse) -> None:
    await invalid(api.EstimateDeal(pb.EstimateDealRequest(participant_id="anna", period=MARCH, amount="-5")), "amount")
    await invalid(
        api.EstimateDeal(pb.EstimateDealRequest(participant_id="anna", period=MARCH, amount="lots")), "amount"
    )
    await invalid(
        api.EstimateDeal(pb.EstimateDealRequest(participant_id="anna", period=MARCH, amount="1.001")), "amount"
    )
    await invalid(
        api.EstimateDeal(pb.EstimateDealRequest(participant_id="anna", period=MARCH, amount="10", date="2026-04-01")),
        "date",
    )
    await invalid(
        api.EstimateDeal(pb.EstimateDealRequest(participant_id="anna", period=MARCH, amount="10", date="01.03.2026")),
        "date",
    )
    await invalid(
        api.EstimateDeal(pb.EstimateDealRequest(participant_id="", period=MARCH, amount="10")), "participant_id"
    )
    await invalid(
        api.EstimateDeal(pb.EstimateDealRequest(participant_id="anna", period=MARCH, amount="10", product="x" * 101)),
        "product",
    )
    await rpc_error(
        api.EstimateDeal(pb.EstimateDealRequest(participant_id="nobody", period=MARCH, amount="10")),
        grpc.StatusCode.NOT_FOUND,
    )
    await rpc_error(
        api.EstimateDeal(pb.EstimateDealRequest(participant_id="anna", period="2026-05", amount="10")),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
