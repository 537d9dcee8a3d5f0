"""Runs over the API: incremental runs, prior-period adjustments for late changes to finalized periods,
plan versions in effect per period, variable overrides, and the team, run-list and run-totals views.
A real server over the embedded PostgreSQL (fixtures of tests/conftest.py).

The tests are one story, in file order, on one module-scoped database:

The organisation: manager vera (M1) over representatives anna (R1), boris (R2) and carl (R3). The
representatives' plan (test_service's REP_PLAN: quota 100,000; 2% below quota, 4% from 1.0, 6% from
1.2) and the manager's plan (1% of the team's revenue).

March: anna sells 100,000 + 30,000 (1.3 -> 6%: 7,800.00), boris 50,000 (0.5 -> 2%: 1,000.00), carl
80,000 (0.8 -> 2%: 1,600.00); vera's team 260,000 -> 2,600.00.
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
from tests.commissions.test_service import MGR_PLAN, REP_PLAN, Db, row, rub, stream
from tests.parties.support import invalid, rpc_error

Y = common_pb2.Date(year=2026, month=1, day=1)
Api = commissions_pb2_grpc.CommissionsServiceStub
MARCH, APRIL, MAY, JUNE, JULY = "2026-03", "2026-04", "2026-05", "2026-06", "2026-07"


@pytest.fixture(scope="module")
def db(postgres: LocalPostgres, commissions_db_url: str) -> Db:
    return Db(postgres, commissions_db_url)


@pytest_asyncio.fixture(scope="module")
async def api(commissions_server: str) -> AsyncIterator[Api]:
    async with grpc.aio.insecure_channel(commissions_server) as channel:
        yield commissions_pb2_grpc.CommissionsServiceStub(channel)


async def ingest(api: Api, *rows: pb.TransactionRow) -> None:
    result = await api.IngestTransactions(stream(pb.IngestTransactionsRequest(currency="RUB", rows=list(rows))))
    assert not result.rejected, result.rejected
    assert result.accepted == len(rows)


def paid(run: pb.RunPeriodResponse) -> dict[str, str]:
    return {p.participant_id: f"{p.payment.minor_units / 100:.2f}" for p in run.payments}


def ppas(run: pb.RunPeriodResponse) -> dict[tuple[str, str], tuple[str, str, int]]:
    """Prior-period adjustments by (origin, participant): amount, treatment, overpayment class."""
    out = {}
    for a in run.prior_period_adjustments:
        out[(a.origin_period, a.participant_id)] = (
            f"{a.amount.minor_units / 100:.2f}",
            a.treatment,
            a.overpayment_class,
        )
    return out


async def run(api: Api, rid: str, period: str, mode: int = pb.RUN_MODE_FULL, **kw: object) -> pb.RunPeriodResponse:
    return await api.RunPeriod(pb.RunPeriodRequest(request_id=rid, period=period, mode=mode, **kw))  # type: ignore[arg-type]


@pytest_asyncio.fixture(scope="module")
async def world(api: Api) -> pb.RunPeriodResponse:
    await api.SaveOrganisation(
        pb.SaveOrganisationRequest(
            request_id="org",
            titles=[pb.Title(title_id="MGR"), pb.Title(title_id="REP")],
            positions=[
                pb.PositionVersion(position_id="M1", title_id="MGR", valid_from=Y),
                *(
                    pb.PositionVersion(position_id=p, title_id="REP", manager_position_id="M1", valid_from=Y)
                    for p in ("R1", "R2", "R3")
                ),
            ],
            participants=[pb.Participant(participant_id=p, name=p.title()) for p in ("vera", "anna", "boris", "carl")],
            assignments=[
                pb.Assignment(participant_id=p, position_id=pos, valid_from=Y)
                for p, pos in (("vera", "M1"), ("anna", "R1"), ("boris", "R2"), ("carl", "R3"))
            ],
        )
    )
    await api.SavePlan(pb.SavePlanRequest(request_id="rep", plan_json=json.dumps(REP_PLAN)))
    await api.SavePlan(pb.SavePlanRequest(request_id="mgr", plan_json=json.dumps(MGR_PLAN)))
    await api.AssignPlan(pb.AssignPlanRequest(request_id="a-rep", plan_id="rep", title_id="REP", valid_from=Y))
    await api.AssignPlan(pb.AssignPlanRequest(request_id="a-mgr", plan_id="mgr", title_id="MGR", valid_from=Y))
    await ingest(
        api,
        row("a1", "2026-03-05", "100000", "R1"),
        row("a2", "2026-03-10", "30000", "R1"),
        row("b1", "2026-03-11", "50000", "R2"),
        row("c1", "2026-03-12", "80000", "R3"),
    )
    return await run(api, "march-1", MARCH)


async def test_a_first_full_run(world: pb.RunPeriodResponse) -> None:
    assert (world.kind, world.run_version, world.note) == ("FULL", 1, "")
    assert paid(world) == {"anna": "7800.00", "boris": "1000.00", "carl": "1600.00", "vera": "2600.00"}
    assert not world.prior_period_adjustments


async def test_an_incremental_run_recomputes_only_what_changed_and_equals_a_full_run(
    api: Api, world: pb.RunPeriodResponse
) -> None:
    # boris sells 60,000 more: 110,000 -> 1.1 -> 4%: 4,400.00; vera's team 320,000 -> 3,200.00.
    await ingest(api, row("b2", "2026-03-20", "60000", "R2"))
    inc = await run(api, "march-2", MARCH, pb.RUN_MODE_INCREMENTAL)
    assert (inc.kind, inc.run_version, inc.recomputed_participants, inc.note) == ("INCREMENTAL", 2, 1, "")
    expected = {"anna": "7800.00", "boris": "4400.00", "carl": "1600.00", "vera": "3200.00"}
    assert paid(inc) == expected
    statements = {
        p: await api.GetStatement(pb.GetStatementRequest(participant_id=p, period=MARCH)) for p in ("boris", "vera")
    }
    full = await run(api, "march-3", MARCH)
    assert (full.kind, full.run_version) == ("FULL", 3)
    assert paid(full) == expected
    for p, incremental in statements.items():
        again = await api.GetStatement(pb.GetStatementRequest(participant_id=p, period=MARCH))
        assert again.run_version == 3
        incremental.run_version = 3
        assert again == incremental, p
    totals = await api.GetRunTotals(pb.GetRunTotalsRequest(period=MARCH))
    assert (totals.run_version, totals.kind, totals.previous_run_version) == (3, "FULL", 2)
    assert (totals.change_in_total_payment.minor_units, totals.participants_changed) == (0, 0)
    assert totals.total_payment == rub("17000")


async def test_an_incremental_run_with_nothing_new_recomputes_nobody(api: Api, world: pb.RunPeriodResponse) -> None:
    inc = await run(api, "march-4", MARCH, pb.RUN_MODE_INCREMENTAL)
    assert (inc.kind, inc.recomputed_participants) == ("INCREMENTAL", 0)
    assert paid(inc) == {"anna": "7800.00", "boris": "4400.00", "carl": "1600.00", "vera": "3200.00"}


async def test_an_incremental_run_picks_up_adjustments_and_named_participants(
    api: Api, world: pb.RunPeriodResponse
) -> None:
    await api.AddAdjustment(
        pb.AddAdjustmentRequest(
            request_id="carl-bonus", participant_id="carl", period=MARCH, amount=rub("500"), reason="fair bonus"
        )
    )
    inc = await run(api, "march-5", MARCH, pb.RUN_MODE_INCREMENTAL, participant_ids=["anna"])
    assert (inc.kind, inc.recomputed_participants) == ("INCREMENTAL", 2)
    assert paid(inc)["carl"] == "2100.00"
    listed = await api.ListAdjustments(pb.ListAdjustmentsRequest(period=MARCH, participant_id="carl"))
    assert [(a.reason, a.amount, a.period) for a in listed.adjustments] == [("fair bonus", rub("500"), MARCH)]
    assert not (await api.ListAdjustments(pb.ListAdjustmentsRequest(period=MARCH, participant_id="anna"))).adjustments


async def test_run_requests_are_checked(api: Api, world: pb.RunPeriodResponse, db: Db) -> None:
    before = db.counts()
    await invalid(run(api, "", MARCH, pb.RUN_MODE_INCREMENTAL, participant_ids=["nobody"]), "participant_ids")
    await invalid(run(api, "", MARCH, pb.RUN_MODE_FULL, participant_ids=["anna"]), "participant_ids")
    await invalid(run(api, "", MARCH, pb.RUN_MODE_INCREMENTAL, participant_ids=["x"] * 10_001), "participant_ids")
    await invalid(api.RunPeriod(pb.RunPeriodRequest(period=MARCH, mode=7)), "mode")  # type: ignore[arg-type]
    await invalid(run(api, "", "2026-3"), "period")
    await invalid(api.ListAdjustments(pb.ListAdjustmentsRequest(period="march")), "period")
    await invalid(api.GetRunTotals(pb.GetRunTotalsRequest(period=MARCH, run_version=-1)), "run_version")
    await rpc_error(api.GetRunTotals(pb.GetRunTotalsRequest(period=MARCH, run_version=99)), grpc.StatusCode.NOT_FOUND)
    await rpc_error(api.ListRuns(pb.ListRunsRequest(period="2025-01")), grpc.StatusCode.NOT_FOUND)
    assert db.counts() == before


async def test_an_incremental_run_after_an_organisation_change_runs_in_full(
    api: Api, world: pb.RunPeriodResponse
) -> None:
    await api.SaveOrganisation(
        pb.SaveOrganisationRequest(request_id="org-dina", participants=[pb.Participant(participant_id="dina")])
    )
    inc = await run(api, "march-6", MARCH, pb.RUN_MODE_INCREMENTAL)
    assert inc.kind == "FULL"
    assert "organisation or the plans changed" in inc.note
    assert paid(inc) == {"anna": "7800.00", "boris": "4400.00", "carl": "2100.00", "vera": "3200.00"}


async def test_runs_are_listed_and_march_is_finalized(api: Api, world: pb.RunPeriodResponse) -> None:
    await api.FinalizePeriod(pb.FinalizePeriodRequest(request_id="fin-march", period=MARCH))
    listed = await api.ListRuns(pb.ListRunsRequest(period=MARCH))
    assert listed.state == pb.PERIOD_STATE_FINALIZED
    kinds = [(r.run_version, r.kind, r.finalized) for r in listed.runs]
    assert kinds == [
        (1, "FULL", False),
        (2, "INCREMENTAL", False),
        (3, "FULL", False),
        (4, "INCREMENTAL", False),
        (5, "INCREMENTAL", False),
        (6, "FULL", True),
    ]
    assert listed.runs[-1].total_payment == rub("17500")
    assert all(r.recorded_at.endswith("Z") and r.payees == 4 for r in listed.runs)


async def test_late_changes_to_a_finalized_period_become_prior_period_adjustments(
    api: Api, world: pb.RunPeriodResponse
) -> None:
    # Late March news: carl sold 50,000 more (130,000 -> 6%: 7,800.00, +6,200.00); anna's 30,000 sale
    # is cancelled (100,000 -> 4%: 4,000.00, -3,800.00); vera's team 340,000 -> 3,400.00 (+200.00).
    await ingest(
        api,
        row("c2", "2026-03-28", "50000", "R3"),
        row("a2-cancel", "2026-03-30", "-30000", original="a2"),
        *(
            row(f"{p}-apr", "2026-04-10", amount, pos)
            for p, pos, amount in (
                ("a", "R1", "100000"),
                ("b", "R2", "50000"),
                ("c", "R3", "50000"),
            )
        ),
    )
    april = await run(api, "april-1", APRIL)
    other = pb.OVERPAYMENT_CLASS_OTHER
    unspecified = pb.OVERPAYMENT_CLASS_UNSPECIFIED
    assert ppas(april) == {
        (MARCH, "carl"): ("6200.00", "PAID", unspecified),
        (MARCH, "anna"): ("-3800.00", "RECORDED", other),
        (MARCH, "vera"): ("200.00", "PAID", unspecified),
    }
    # April's own 4,000 / 1,000 / 1,000 and 2,000 for vera, plus what is paid; anna's overpayment is a late
    # cancellation, not a counting error: recorded, never deducted (Labour Code art. 137).
    assert paid(april) == {"anna": "4000.00", "boris": "1000.00", "carl": "7200.00", "vera": "2200.00"}
    statement = await api.GetStatement(pb.GetStatementRequest(participant_id="anna", period=APRIL))
    [line] = statement.adjustments
    assert (line.origin_period, line.position_id, line.incentive_id) == (MARCH, "R1", "commission")
    assert (line.amount, line.treatment, line.overpayment_class) == (rub("-3800"), "RECORDED", other)
    assert "2026-03" in line.reason
    march = await api.GetStatement(pb.GetStatementRequest(participant_id="anna", period=MARCH))
    assert (march.state, march.payment) == (pb.PERIOD_STATE_FINALIZED, rub("7800"))  # never rewritten
    totals = await api.GetRunTotals(pb.GetRunTotalsRequest(period=APRIL))
    assert totals.prior_period_adjustments == rub("2600")
    assert totals.recorded_overpayments_outstanding == rub("3800")


async def test_rerunning_the_open_period_does_not_pay_twice(api: Api, world: pb.RunPeriodResponse) -> None:
    again = await run(api, "april-2", APRIL)
    inc = await run(api, "april-3", APRIL, pb.RUN_MODE_INCREMENTAL)
    for r in (again, inc):
        assert set(ppas(r)) == {(MARCH, "carl"), (MARCH, "anna"), (MARCH, "vera")}
        assert paid(r) == {"anna": "4000.00", "boris": "1000.00", "carl": "7200.00", "vera": "2200.00"}
    assert (inc.kind, inc.recomputed_participants) == ("INCREMENTAL", 0)


async def test_later_periods_pay_only_what_is_still_owed(api: Api, world: pb.RunPeriodResponse) -> None:
    await api.FinalizePeriod(pb.FinalizePeriodRequest(request_id="fin-april", period=APRIL))
    await ingest(api, row("a-may", "2026-05-10", "100000", "R1"))
    may = await run(api, "may-1", MAY)
    assert not may.prior_period_adjustments  # March was settled by April's finalized run
    # Another late March sale: boris 150,000 -> 6%: 9,000.00 (+4,600.00); vera's team 380,000 ->
    # 3,800.00, of which April already paid 200.00 more than finalized: +400.00.
    await ingest(api, row("b3", "2026-03-31", "40000", "R2"))
    may = await run(api, "may-2", MAY)
    assert ppas(may) == {
        (MARCH, "boris"): ("4600.00", "PAID", pb.OVERPAYMENT_CLASS_UNSPECIFIED),
        (MARCH, "vera"): ("400.00", "PAID", pb.OVERPAYMENT_CLASS_UNSPECIFIED),
    }


async def test_team_view(api: Api, world: pb.RunPeriodResponse) -> None:
    team = await api.GetTeam(pb.GetTeamRequest(manager_id="vera", period=APRIL))
    members = {m.participant_id: m for m in team.members}
    assert set(members) == {"anna", "boris", "carl"}
    assert (members["carl"].name, members["carl"].position_id, members["carl"].title_id) == ("Carl", "R3", "REP")
    assert members["carl"].expected_payout == rub("7200")
    assert members["anna"].headline.attainment == "1"
    assert team.team_expected_payout == rub("12200")
    assert not (await api.GetTeam(pb.GetTeamRequest(manager_id="anna", period=APRIL))).members
    await rpc_error(api.GetTeam(pb.GetTeamRequest(manager_id="nobody", period=APRIL)), grpc.StatusCode.NOT_FOUND)
    await invalid(api.GetTeam(pb.GetTeamRequest(manager_id="", period=APRIL)), "manager_id")
    await invalid(api.GetTeam(pb.GetTeamRequest(manager_id="vera", period="2026-13")), "period")


async def test_a_plan_version_applies_from_its_effective_period(api: Api, world: pb.RunPeriodResponse) -> None:
    doubled = {**REP_PLAN, "variables": {"quota": "200000"}}
    saved = await api.SavePlan(
        pb.SavePlanRequest(request_id="rep-2", plan_json=json.dumps(doubled), effective_period=JUNE)
    )
    assert (saved.version, saved.effective_period) == (2, JUNE)
    await ingest(api, row("a-jun", "2026-06-10", "100000", "R1"))
    may = await run(api, "may-3", MAY)
    june = await run(api, "june-1", JUNE)
    assert paid(may)["anna"] == "4000.00"  # version 1: 100,000 of 100,000 -> 4%
    assert paid(june)["anna"] == "2000.00"  # version 2: 100,000 of 200,000 -> 2%
    plans = await api.ListPlans(pb.ListPlansRequest(plan_id="rep"))
    assert [(v.version, v.effective_period) for v in plans.versions] == [(1, ""), (2, JUNE)]
    assert json.loads(plans.versions[1].plan_json)["variables"] == {"quota": "200000"}
    assert [a.title_id for a in plans.assignments] == ["REP"]
    await rpc_error(api.ListPlans(pb.ListPlansRequest(plan_id="nope")), grpc.StatusCode.NOT_FOUND)
    assert {v.plan_id for v in (await api.ListPlans(pb.ListPlansRequest())).versions} == {"rep", "mgr"}
    await invalid(
        api.SavePlan(pb.SavePlanRequest(plan_json=json.dumps(REP_PLAN), effective_period="2026-13")),
        "effective_period",
    )


async def test_variable_overrides(api: Api, world: pb.RunPeriodResponse, db: Db) -> None:
    july = common_pb2.Date(year=2026, month=7, day=1)

    def override(**kw: object) -> pb.SetVariableOverrideRequest:
        base: dict[str, object] = {
            "plan_id": "rep",
            "variable": "quota",
            "value": "25000",
            "position_id": "R2",
            "valid_from": july,
        }
        return pb.SetVariableOverrideRequest(**{**base, **kw})  # type: ignore[arg-type]

    before = db.counts()
    await invalid(api.SetVariableOverride(override(variable="bonus")), "variable")
    await invalid(api.SetVariableOverride(override(value="a lot")), "value")
    await invalid(api.SetVariableOverride(override(value="NaN")), "value")
    await invalid(api.SetVariableOverride(override(title_id="REP")), "title_id")
    await invalid(api.SetVariableOverride(override(position_id="R9")), "position_id")
    await invalid(api.SetVariableOverride(override(valid_from=None)), "valid_from")
    await invalid(api.SetVariableOverride(override(valid_to=common_pb2.Date(year=2026, month=6, day=1))), "valid_to")
    await rpc_error(api.SetVariableOverride(override(plan_id="nope")), grpc.StatusCode.NOT_FOUND)
    assert db.counts() == before
    first = await api.SetVariableOverride(override(request_id="ovr-1"))
    assert first.override_id > 0
    assert (await api.SetVariableOverride(override(request_id="ovr-1"))).override_id == first.override_id
    await invalid(api.SetVariableOverride(override(value="30000")), "valid_from")  # overlaps the first
    # July: boris sells 50,000 against his own quota of 25,000 (plan version 2 would say 200,000):
    # attainment 2.0 -> 6%: 3,000.00.
    await ingest(api, row("b-jul", "2026-07-10", "50000", "R2"))
    assert paid(await run(api, "july-1", JULY))["boris"] == "3000.00"
    listed = await api.ListPlans(pb.ListPlansRequest(plan_id="rep"))
    assert [(o.variable, o.value, o.position_id) for o in listed.overrides] == [("quota", "25000", "R2")]


async def test_a_plan_corrected_for_a_finalized_period_is_paid_as_an_adjustment(
    api: Api, world: pb.RunPeriodResponse
) -> None:
    # A version effective from April (finalized) halves the quota to 50,000: April's anna 100,000 ->
    # 2.0 -> 6%: 6,000.00 (+2,000.00); boris and carl 50,000 -> 1.0 -> 4%: 2,000.00 (+1,000.00 each).
    halved = {**REP_PLAN, "variables": {"quota": "50000"}}
    await api.SavePlan(pb.SavePlanRequest(request_id="rep-3", plan_json=json.dumps(halved), effective_period=APRIL))
    may = await run(api, "may-4", MAY)
    from_april = {k: v[0] for k, v in ppas(may).items() if k[0] == APRIL}
    assert from_april == {(APRIL, "anna"): "2000.00", (APRIL, "boris"): "1000.00", (APRIL, "carl"): "1000.00"}
