"""What people see: the participant's dashboard (attainment, tier, what is still needed, rank among
same-title peers), the manager's team, the statement that explains every kopeck, payroll and totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from services.commissions.domain.dashboard import DashboardIndex, participant_dashboard
from services.commissions.domain.engine import calculate_period
from services.commissions.domain.inputs import RunInputs
from services.commissions.domain.org import Assignment, Organisation, Participant, PositionVersion, Title
from services.commissions.domain.payroll import payroll_csv, payroll_rows
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import (
    CreditFilter,
    CreditRule,
    Measurement,
    Plan,
    PlanAssignment,
    PlanBook,
    RateTableIncentive,
    Tier,
)
from services.commissions.domain.statements import credits_behind, participant_statement, run_totals
from services.commissions.domain.transactions import Transaction, transactions_frame

Y = date(2026, 1, 1)
D = Decimal
ORG = Organisation(
    titles=(Title("REP"), Title("MGR")),
    positions=(
        PositionVersion("M1", "MGR", None, Y),
        *(PositionVersion(f"R{i}", "REP", "M1", Y) for i in range(1, 5)),
    ),
    participants=tuple(Participant(p) for p in ("anna", "boris", "vera", "gleb", "dina")),
    assignments=(
        Assignment("vera", "M1", Y),
        Assignment("anna", "R1", Y),
        Assignment("boris", "R2", Y),
        Assignment("gleb", "R3", Y),
        Assignment("dina", "R4", Y),
    ),
)
REP = Plan(
    plan_id="rep",
    variables={"quota": D(100_000)},
    credit_rules=(CreditRule(rule_id="all", rollup_levels=None),),
    measurements=(
        Measurement(measurement_id="revenue", filter=CreditFilter(credit_types="DIRECT")),
        Measurement(measurement_id="deals", kind="COUNT", filter=CreditFilter(credit_types="DIRECT")),
    ),
    incentives=(
        RateTableIncentive(
            incentive_id="commission",
            base="revenue",
            basis="ATTAINMENT",
            quota="quota",
            tiers=(
                Tier(lower=D(0), upper=D(1), rate=D("0.02")),
                Tier(lower=D(1), upper=D("1.2"), rate=D("0.04")),
                Tier(lower=D("1.2"), rate=D("0.06")),
            ),
        ),
    ),
)
MGR = Plan(
    plan_id="mgr",
    measurements=(Measurement(measurement_id="team", filter=CreditFilter(credit_types="INDIRECT")),),
    incentives=(RateTableIncentive(incentive_id="override", base="team", tiers=(Tier(lower=D(0), rate=D("0.01")),)),),
)
BOOK = PlanBook((REP, MGR), (PlanAssignment("rep", Y, title_id="REP"), PlanAssignment("mgr", Y, title_id="MGR")))


def sale(tid: str, position: str, amount: str) -> Transaction:
    day = date(2026, 3, 5)
    return Transaction(tid, day, day, int(D(amount) * 100), "RUB", position, "loan", "north", "web", "mass")


# anna 85,000 (two deals), boris 110,000, gleb 110,000, dina nothing.
INPUTS = RunInputs(
    period=Period(2026, 3),
    org=ORG,
    plans=BOOK,
    transactions=transactions_frame(
        [sale("t1", "R1", "50000"), sale("t2", "R1", "35000"), sale("t3", "R2", "110000"), sale("t4", "R3", "110000")]
    ),
)
RESULT = calculate_period(INPUTS)


def test_dashboard_shows_attainment_tier_what_is_needed_and_rank() -> None:
    board = participant_dashboard(RESULT, BOOK, "anna")
    revenue = next(k for k in board.kpis if k.measurement_id == "revenue")
    # 85,000 / 100,000 = 0.85, tier 0 at 2%; 15,000 more reaches the quota and the next tier (4%).
    assert (revenue.value, revenue.quota, revenue.attainment) == (D(85000), D(100000), D("0.85"))
    assert (revenue.tier_index, revenue.tier_rate, revenue.next_tier_rate) == (0, D("0.02"), D("0.04"))
    assert (revenue.to_quota, revenue.to_next_tier) == (D(15000), D(15000))
    # boris and gleb share rank 1 (1.1 each), anna is 3rd of 4 representatives, dina 4th.
    assert (revenue.rank, revenue.peers) == (3, 4)
    assert board.expected_payout == D("1700.00")  # 85,000 x 2%
    boris = next(k for k in participant_dashboard(RESULT, BOOK, "boris").kpis if k.measurement_id == "revenue")
    # 110,000 -> tier 1 (from 1.0): to the next tier at 1.2 x 100,000 = 120,000 -> 10,000 more.
    assert (boris.rank, boris.tier_index, boris.to_next_tier, boris.to_quota) == (1, 1, D(10000), D(0))
    deals = next(k for k in board.kpis if k.measurement_id == "deals")
    assert (deals.value, deals.quota, deals.rank) == (D(2), None, 1)


def test_manager_sees_the_team() -> None:
    team = DashboardIndex(RESULT, BOOK).team(ORG, "vera")
    assert [(m.participant_id, m.expected_payout) for m in team] == [
        ("anna", D("1700.00")),
        ("boris", D("4400.00")),  # 110,000 x 4%
        ("gleb", D("4400.00")),
        ("dina", D("0.00")),
    ]
    assert team[0].headline is not None and team[0].headline.attainment == D("0.85")


def test_statement_explains_every_kopeck_down_to_the_transactions() -> None:
    statement = participant_statement(RESULT, "anna")
    (commission,) = statement.lines
    assert (commission.base_value, commission.quota, commission.tier_value, commission.rate, commission.amount) == (
        D(85000),
        D(100000),
        D("0.85"),
        D("0.02"),
        D("1700.00"),
    )
    assert statement.payment["payment"] == D("1700.00")
    behind = credits_behind(RESULT, INPUTS, "anna", "R1", "revenue")
    assert behind.get_column("transaction_id").to_list() == ["t1", "t2"]
    assert behind.get_column("amount_minor").sum() == 85_000_00
    team = credits_behind(RESULT, INPUTS, "vera", "M1", "team")
    assert team.get_column("amount_minor").sum() == 305_000_00
    assert set(team.get_column("level").to_list()) == {1}


def test_payroll_rows_sum_to_each_payment_and_totals_add_up() -> None:
    rows = payroll_rows(RESULT)
    by_person: dict[str, Decimal] = {}
    for r in rows:
        by_person[r.participant_id] = by_person.get(r.participant_id, D(0)) + r.amount
    payments = {p: D(m) / 100 for p, m in RESULT.payments.select("participant_id", "payment_minor").iter_rows()}
    assert {p: v for p, v in payments.items() if v} == by_person
    csv = payroll_csv(RESULT).splitlines()
    assert csv[0] == "period,participant_id,earning_code,amount,currency"
    assert "2026-03,anna,COMMISSION,1700.00,RUB" in csv
    totals = run_totals(RESULT)
    assert totals.total_payment == sum(payments.values())
    assert totals.earnings_by_code == {"COMMISSION": totals.total_payment}
    assert totals.payees == RESULT.payees.height == 5
    assert RESULT.payments.filter(pl.col("participant_id") == "dina")["payment_minor"].item() == 0
