"""Hand-computed golden cases. Every case runs through the vectorized engine *and* the reference
oracle, checks that they agree, and checks the figures against the arithmetic in the comments.

Amounts in comments are roubles; the frames hold kopecks (x 100).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from services.commissions.domain.adjustments import late_change_adjustments, prior_period_adjustments
from services.commissions.domain.engine import calculate_period, recompute
from services.commissions.domain.errors import PeriodFinalizedError, RunInputError
from services.commissions.domain.inputs import Adjustment, OverpaymentClass, RunInputs
from services.commissions.domain.org import Assignment, Organisation, Participant, PositionVersion, Title
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import (
    CreditFilter,
    CreditRule,
    DepositRule,
    Draw,
    Measurement,
    PerCreditCommission,
    Plan,
    PlanAssignment,
    PlanBook,
    RateTableIncentive,
    Spiff,
    SplitTarget,
    ThresholdBonus,
    Tier,
    TierMethod,
)
from services.commissions.domain.reference import reference_run
from services.commissions.domain.results import RunResult, differences
from services.commissions.domain.transactions import Transaction, TransactionRow, ingest, transactions_frame

Y = date(2026, 1, 1)
D = Decimal


def rub(amount: str | int) -> int:
    """Roubles as kopecks."""
    return int(D(amount) * 100)


def org(*extra: PositionVersion, assignments: tuple[Assignment, ...] | None = None) -> Organisation:
    """Director D1 > managers M1, M2 > representatives R1, R2 (under M1) and R3 (under M2)."""
    positions = (
        PositionVersion("D1", "DIR", None, Y),
        PositionVersion("M1", "MGR", "D1", Y),
        PositionVersion("M2", "MGR", "D1", Y),
        PositionVersion("R1", "REP", "M1", Y),
        PositionVersion("R2", "REP", "M1", Y),
        PositionVersion("R3", "REP", "M2", Y),
        *extra,
    )
    people = ("anna", "boris", "vera", "gleb", "dina", "egor", "kira")
    default = (
        Assignment("gleb", "D1", Y),
        Assignment("vera", "M1", Y),
        Assignment("dina", "M2", Y),
        Assignment("anna", "R1", Y),
        Assignment("boris", "R2", Y),
        Assignment("egor", "R3", Y),
    )
    return Organisation(
        titles=(Title("DIR"), Title("MGR"), Title("REP"), Title("KAM")),
        positions=positions,
        participants=tuple(Participant(p) for p in people),
        assignments=default if assignments is None else assignments,
    )


def rep_plan(**changes: object) -> Plan:
    """A representative's plan: revenue this period against a quota of 100,000, tiered commission."""
    base = {
        "plan_id": "rep",
        "variables": {"quota": D(100_000), "target": D(3_000)},
        "credit_rules": (CreditRule(rule_id="all", rollup_levels=None),),
        "measurements": (
            Measurement(measurement_id="revenue", filter=CreditFilter(credit_types="DIRECT")),
            Measurement(measurement_id="attainment", kind="FORMULA", formula="revenue / quota"),
        ),
        "incentives": (
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
    }
    base.update(changes)
    return Plan.model_validate(base)


def leader_plan(plan_id: str, rate: str) -> Plan:
    return Plan(
        plan_id=plan_id,
        measurements=(Measurement(measurement_id="team", filter=CreditFilter(credit_types="INDIRECT")),),
        incentives=(RateTableIncentive(incentive_id="override", base="team", tiers=(Tier(lower=D(0), rate=D(rate)),)),),
    )


def book(rep: Plan, *more: Plan, assignments: tuple[PlanAssignment, ...] = ()) -> PlanBook:
    plans = (rep, leader_plan("mgr", "0.01"), leader_plan("dir", "0.005"), *more)
    default = (
        PlanAssignment("rep", Y, title_id="REP"),
        PlanAssignment("mgr", Y, title_id="MGR"),
        PlanAssignment("dir", Y, title_id="DIR"),
    )
    return PlanBook(plans, default + assignments)


def sale(tid: str, position: str, day: date, amount: str, product: str = "loan", segment: str = "mass") -> Transaction:
    return Transaction(tid, day, day, rub(amount), "RUB", position, product, "north", "branch", segment)


def run(inputs: RunInputs) -> RunResult:
    """Engine and oracle, which must agree; the engine's result is returned."""
    engine = calculate_period(inputs)
    assert differences(engine, reference_run(inputs)) == []
    return engine


def inputs(plans: PlanBook, txns: list[Transaction], period: Period = Period(2026, 3), **kw: object) -> RunInputs:
    organisation = kw.pop("organisation", None) or org()
    return RunInputs(period=period, org=organisation, plans=plans, transactions=transactions_frame(txns), **kw)  # type: ignore[arg-type]


def amount(result: RunResult, participant: str, incentive: str, position: str | None = None) -> int:
    rows = result.payouts.filter(pl.col("participant_id") == participant, pl.col("incentive_id") == incentive)
    if position is not None:
        rows = rows.filter(pl.col("position_id") == position)
    return int(rows.get_column("amount_minor").sum())


def line(result: RunResult, participant: str, incentive: str) -> dict:  # type: ignore[type-arg]
    rows = result.payouts.filter(pl.col("participant_id") == participant, pl.col("incentive_id") == incentive)
    assert rows.height == 1
    return rows.row(0, named=True)


def payment(result: RunResult, participant: str) -> dict:  # type: ignore[type-arg]
    return result.payments.filter(pl.col("participant_id") == participant).row(0, named=True)


def balance(result: RunResult, participant: str) -> dict:  # type: ignore[type-arg]
    return result.balances.filter(pl.col("participant_id") == participant).row(0, named=True)


MARCH = date(2026, 3, 10)


# ------------------------------------------------------------------------------------------------ tiers


def test_stepped_tiers_pay_the_whole_revenue_at_the_tier_reached() -> None:
    # anna: 130,000 / 100,000 = attainment 1.3 -> tier 2 (from 1.2) at 6%: 130,000 x 0.06 = 7,800.00
    # boris: 40,000 -> attainment 0.4 -> tier 0 at 2%: 800.00
    result = run(inputs(book(rep_plan()), [sale("t1", "R1", MARCH, "130000"), sale("t2", "R2", MARCH, "40000")]))
    assert amount(result, "anna", "commission") == rub("7800.00")
    assert amount(result, "boris", "commission") == rub("800.00")
    trace = line(result, "anna", "commission")
    assert (trace["tier_index"], trace["rate"], trace["tier_value"]) == (2, 60_000, 1_300_000)  # Nums x 10^6


def test_graduated_tiers_pay_each_slice_at_its_own_rate() -> None:
    # 130,000 against quota 100,000, slices at 0 / 100,000 / 120,000:
    # 100,000 x 2% = 2,000 + 20,000 x 4% = 800 + 10,000 x 6% = 600  ->  3,400.00
    plan = rep_plan()
    graduated = plan.incentives[0].model_copy(update={"method": TierMethod.GRADUATED})
    result = run(inputs(book(rep_plan(incentives=(graduated,))), [sale("t1", "R1", MARCH, "130000")]))
    assert amount(result, "anna", "commission") == rub("3400.00")


def test_accelerator_and_decelerator_multiply_the_commission() -> None:
    # multipliers on attainment: below 0.5 x0.5 (decelerator), from 1.25 x1.5 (accelerator)
    # anna 130,000: stepped 7,800 x 1.5 = 11,700.00;  boris 40,000: 800 x 0.5 = 400.00
    # vera's team is unaffected (her plan has no multipliers).
    multipliers = (
        Tier(lower=D(0), upper=D("0.5"), rate=D("0.5")),
        Tier(lower=D("0.5"), upper=D("1.25"), rate=D(1)),
        Tier(lower=D("1.25"), rate=D("1.5")),
    )
    inc = rep_plan().incentives[0].model_copy(update={"multipliers": multipliers})
    result = run(
        inputs(book(rep_plan(incentives=(inc,))), [sale("t1", "R1", MARCH, "130000"), sale("t2", "R2", MARCH, "40000")])
    )
    assert amount(result, "anna", "commission") == rub("11700.00")
    assert amount(result, "boris", "commission") == rub("400.00")
    assert line(result, "anna", "commission")["multiplier"] == 1_500_000


def test_cap_and_floor() -> None:
    # cap = target x 2 = 6,000: anna's 7,800 is capped to 6,000.00
    # floor = 500: boris's 10,000 x 2% = 200 is lifted to 500.00
    inc = rep_plan().incentives[0].model_copy(update={"cap": "target * 2", "floor": "500"})
    result = run(
        inputs(book(rep_plan(incentives=(inc,))), [sale("t1", "R1", MARCH, "130000"), sale("t2", "R2", MARCH, "10000")])
    )
    anna, boris = line(result, "anna", "commission"), line(result, "boris", "commission")
    assert (anna["amount_minor"], anna["capped"], anna["floored"]) == (rub("6000.00"), True, False)
    assert (boris["amount_minor"], boris["capped"], boris["floored"]) == (rub("500.00"), False, True)


def test_quarter_to_date_tiers_re_rate_earlier_months() -> None:
    # QTD revenue against a quarterly quota of 100,000; below 1.0 2%, from 1.0 4% (stepped).
    # January: 50,000 -> 1,000.00.  February: QTD 120,000 -> 4,800 cumulative, 1,000 already earned
    # through January -> February pays 3,800.00.
    plan = rep_plan(
        measurements=(Measurement(measurement_id="revenue", window="QTD", filter=CreditFilter(credit_types="DIRECT")),),
        incentives=(
            RateTableIncentive(
                incentive_id="commission",
                payout_window="QTD",
                base="revenue",
                basis="ATTAINMENT",
                quota="quota",
                tiers=(Tier(lower=D(0), upper=D(1), rate=D("0.02")), Tier(lower=D(1), rate=D("0.04"))),
            ),
        ),
    )
    txns = [sale("t1", "R1", date(2026, 1, 15), "50000"), sale("t2", "R1", date(2026, 2, 15), "70000")]
    january = run(inputs(book(plan), txns, Period(2026, 1)))
    february = run(inputs(book(plan), txns, Period(2026, 2)))
    assert amount(january, "anna", "commission") == rub("1000.00")
    feb = line(february, "anna", "commission")
    assert (feb["cumulative_minor"], feb["prior_cumulative_minor"], feb["amount_minor"]) == (
        rub("4800.00"),
        rub("1000.00"),
        rub("3800.00"),
    )


# ------------------------------------------------------------------------------------------------ credits


def test_split_credits_round_half_even_per_target() -> None:
    # VIP sales split 70% seller / 30% key-account overlay K1:
    #   1,234.57: 70% = 864.199 -> 864.20, 30% = 370.371 -> 370.37 (sum 1,234.57)
    # A 50/50 split of 0.45: 0.225 -> 0.22 each (half-even: 22.5 kopecks -> 22), a kopeck is lost.
    rules = (
        CreditRule(rule_id="mass", condition={"segment": ("mass",)}),
        CreditRule(
            rule_id="vip",
            condition={"segment": ("vip",)},
            targets=(SplitTarget(percent=D(70)), SplitTarget(position="K1", percent=D(30))),
        ),
        CreditRule(
            rule_id="half",
            condition={"segment": ("shared",)},
            targets=(SplitTarget(percent=D(50)), SplitTarget(position="K1", percent=D(50))),
        ),
    )
    kam = Plan(
        plan_id="kam",
        measurements=(Measurement(measurement_id="overlay"),),
        incentives=(RateTableIncentive(incentive_id="fee", base="overlay", tiers=(Tier(lower=D(0), rate=D("0.1")),)),),
    )
    organisation = org(
        PositionVersion("K1", "KAM", None, Y),
        assignments=(Assignment("anna", "R1", Y), Assignment("kira", "K1", Y)),
    )
    plans = book(rep_plan(credit_rules=rules), kam, assignments=(PlanAssignment("kam", Y, position_id="K1"),))
    txns = [sale("t1", "R1", MARCH, "1234.57", segment="vip"), sale("t2", "R1", MARCH, "0.45", segment="shared")]
    result = run(inputs(plans, txns, organisation=organisation))
    credits = {
        (r["transaction_id"], r["position_id"]): r["amount_minor"]
        for r in result.credit_lines().filter(pl.col("level") == 0).iter_rows(named=True)
    }
    assert credits == {("t1", "R1"): 86420, ("t1", "K1"): 37037, ("t2", "R1"): 22, ("t2", "K1"): 22}
    # kira's overlay fee: (370.37 + 0.22) x 10% = 37.059 -> 37.06
    assert amount(result, "kira", "fee") == rub("37.06")


def test_roll_up_through_a_three_level_hierarchy() -> None:
    # anna (R1) 100,000 and boris (R2) 50,000 under M1; egor (R3) 30,000 under M2; both under D1.
    # M1 (vera): 150,000 x 1% = 1,500.00; M2 (dina): 30,000 x 1% = 300.00;
    # D1 (gleb): 180,000 x 0.5% = 900.00.
    txns = [sale("t1", "R1", MARCH, "100000"), sale("t2", "R2", MARCH, "50000"), sale("t3", "R3", MARCH, "30000")]
    result = run(inputs(book(rep_plan()), txns))
    assert amount(result, "vera", "override") == rub("1500.00")
    assert amount(result, "dina", "override") == rub("300.00")
    assert amount(result, "gleb", "override") == rub("900.00")
    # One level of roll-up only: the director gets nothing.
    one_level = rep_plan(credit_rules=(CreditRule(rule_id="all", rollup_levels=1),))
    result = run(inputs(book(one_level), txns))
    assert amount(result, "vera", "override") == rub("1500.00")
    assert amount(result, "gleb", "override") == 0


def test_roll_up_follows_the_hierarchy_on_the_credit_date() -> None:
    # R2 moves from M1 to M2 on 16 March: its sale on the 10th rolls up to M1, the one on the 20th to M2.
    organisation = org()
    moved = (
        *tuple(v for v in organisation.positions if v.position_id != "R2"),
        PositionVersion("R2", "REP", "M1", Y, date(2026, 3, 16)),
        PositionVersion("R2", "REP", "M2", date(2026, 3, 16)),
    )
    organisation = replace(organisation, positions=moved)
    txns = [sale("t1", "R2", date(2026, 3, 10), "10000"), sale("t2", "R2", date(2026, 3, 20), "20000")]
    result = run(inputs(book(rep_plan()), txns, organisation=organisation))
    assert amount(result, "vera", "override") == rub("100.00")  # 10,000 x 1%
    assert amount(result, "dina", "override") == rub("200.00")  # 20,000 x 1%


def test_transfer_in_the_middle_of_the_period() -> None:
    # anna holds R1 until 15 March and R2 from 16 March; boris takes over R1 on the 16th.
    # R1 on the 10th: 60,000 (anna's); R1 on the 20th: 10,000 (boris's); R2 on the 20th: 40,000 (anna's).
    # anna has two payees: R1 60,000 x 2% = 1,200.00 and R2 40,000 x 2% = 800.00 -> paid 2,000.00;
    # boris (R1): 10,000 x 2% = 200.00; vera (M1 over both) 110,000 x 1% = 1,100.00.
    split = date(2026, 3, 16)
    organisation = org(
        assignments=(
            Assignment("anna", "R1", Y, split),
            Assignment("anna", "R2", split),
            Assignment("boris", "R1", split),
            Assignment("vera", "M1", Y),
        )
    )
    txns = [
        sale("t1", "R1", date(2026, 3, 10), "60000"),
        sale("t2", "R1", date(2026, 3, 20), "10000"),
        sale("t3", "R2", date(2026, 3, 20), "40000"),
    ]
    result = run(inputs(book(rep_plan()), txns, organisation=organisation))
    assert amount(result, "anna", "commission", "R1") == rub("1200.00")
    assert amount(result, "anna", "commission", "R2") == rub("800.00")
    assert amount(result, "boris", "commission", "R1") == rub("200.00")
    assert amount(result, "vera", "override") == rub("1100.00")
    assert payment(result, "anna")["payment_minor"] == rub("2000.00")
    refs = {
        r["position_id"]: r["ref_date"]
        for r in result.payees.filter(pl.col("participant_id") == "anna").iter_rows(named=True)
    }
    assert refs == {"R1": date(2026, 3, 15), "R2": date(2026, 3, 31)}


# ------------------------------------------------------------------------------------------------ periods


def test_reversal_after_finalization_lands_in_the_open_period() -> None:
    # January: anna sells 80,000 -> attainment 0.8 -> 2% = 1,600.00, and January is finalized.
    # 5 February: the sale is cancelled. The reversal inherits the original's position and credit date,
    # so it credits anna even though she has moved to R2 in February; it is booked in February:
    # -80,000 x 2% = -1,600.00, nothing paid, 1,600.00 carried forward as a negative balance.
    # March: 150,000 -> 150,000 / 100,000 = 1.5 -> 6% = 9,000.00, less 1,600.00 carried -> 7,400.00 paid.
    feb = date(2026, 2, 1)
    organisation = org(
        assignments=(Assignment("anna", "R1", Y, feb), Assignment("anna", "R2", feb), Assignment("boris", "R1", feb))
    )
    sold = ingest([TransactionRow("1", "t1", "2026-01-10", "80000.00", "RUB", "R1")], org=organisation, currency="RUB")
    cancelled = ingest(
        [TransactionRow("2", "t1-cancel", "2026-02-05", "-80000.00", "RUB", original_id="t1")],
        org=organisation,
        currency="RUB",
        known={t.transaction_id: t for t in sold.accepted},
    )
    reversal = cancelled.accepted[0]
    assert (reversal.seller_position_id, reversal.credit_date, reversal.units) == ("R1", date(2026, 1, 10), -1)
    txns = [*sold.accepted, *cancelled.accepted, sale("t2", "R2", MARCH, "150000")]
    plans = book(rep_plan())
    january = run(inputs(plans, txns, Period(2026, 1), organisation=organisation))
    assert amount(january, "anna", "commission") == rub("1600.00")
    finalized = frozenset({Period(2026, 1)})
    with pytest.raises(PeriodFinalizedError):
        calculate_period(inputs(plans, txns, Period(2026, 1), organisation=organisation, finalized_periods=finalized))
    february = run(inputs(plans, txns, Period(2026, 2), organisation=organisation, finalized_periods=finalized))
    assert amount(february, "anna", "commission", "R1") == rub("-1600.00")
    assert amount(february, "boris", "commission") == 0
    assert payment(february, "anna")["payment_minor"] == 0
    assert balance(february, "anna")["negative_balance_minor"] == rub("1600.00")
    march = run(inputs(plans, txns, Period(2026, 3), organisation=organisation, prior_balances=february.balances))
    pay = payment(march, "anna")
    assert (pay["earnings_minor"], pay["prior_negative_balance_minor"], pay["payment_minor"]) == (
        rub("9000.00"),
        rub("1600.00"),
        rub("7400.00"),
    )
    assert balance(march, "anna")["negative_balance_minor"] == 0


def test_late_sale_in_a_finalized_period_becomes_a_prior_period_adjustment() -> None:
    # February (finalized) paid anna 50,000 x 2% = 1,000.00. A 10,000 sale dated 20 February arrives in
    # March: recomputed February gives 60,000 x 2% = 1,200.00, so March carries +200.00 for February;
    # the 10,000 also rolls up: vera (M1) +100.00 at 1%, gleb (D1) +50.00 at 0.5%.
    plans = book(rep_plan())
    feb_sale = sale("t1", "R1", date(2026, 2, 10), "50000")
    finalized = run(inputs(plans, [feb_sale], Period(2026, 2)))
    late = sale("t-late", "R1", date(2026, 2, 20), "10000")
    today = inputs(plans, [feb_sale, late], Period(2026, 2))
    adjustments = late_change_adjustments(
        today, finalized, open_period=Period(2026, 3), reason="late sale t-late dated 2026-02-20"
    )
    assert [(a.participant_id, a.amount_minor, a.origin_period) for a in adjustments] == [
        ("anna", rub("200.00"), "2026-02"),
        ("gleb", rub("50.00"), "2026-02"),
        ("vera", rub("100.00"), "2026-02"),
    ]
    march = run(inputs(plans, [feb_sale, late], Period(2026, 3), adjustments=adjustments))
    assert payment(march, "anna")["adjustments_paid_minor"] == rub("200.00")
    assert ("anna", "ADJUSTMENT", rub("200.00")) in march.payroll.rows()
    # A late *reversal* would pay less than was paid: the overpayment must be classified first.
    cancel = replace(
        feb_sale,
        transaction_id="t1-x",
        booking_date=date(2026, 2, 25),
        amount_minor=-feb_sale.amount_minor,
        original_id="t1",
        units=-1,
    )
    lower = recompute(inputs(plans, [feb_sale, cancel], Period(2026, 2)))
    with pytest.raises(RunInputError):
        prior_period_adjustments(finalized, lower, open_period=Period(2026, 3), reason="late cancellation")
    minus = prior_period_adjustments(
        finalized,
        lower,
        open_period=Period(2026, 3),
        reason="late cancellation",
        overpayment_class=OverpaymentClass.OTHER,
    )[0]
    assert (minus.amount_minor, minus.overpayment_class) == (rub("-1000.00"), OverpaymentClass.OTHER)


# ------------------------------------------------------------------------------------------------ pay step


def test_recoverable_draw_is_advanced_then_recovered() -> None:
    # Draw 10,000 a month, recoverable. Commission 5% flat.
    # January: earned 4,000 -> advance 6,000, paid 10,000, draw balance 6,000.
    # February: earned 15,000 -> recover min(6,000, 15,000 - 10,000) = 5,000, paid 10,000, balance 1,000.
    # March: earned 25,000 -> recover 1,000, paid 24,000, balance 0.
    flat = RateTableIncentive(incentive_id="commission", base="revenue", tiers=(Tier(lower=D(0), rate=D("0.05")),))
    plans = book(
        rep_plan(
            incentives=(flat,), variables={"quota": D(1), "target": D(1), "draw": D(10_000)}, draw=Draw(amount="draw")
        )
    )
    txns = [
        sale("t1", "R1", date(2026, 1, 10), "80000"),
        sale("t2", "R1", date(2026, 2, 10), "300000"),
        sale("t3", "R1", date(2026, 3, 10), "500000"),
    ]
    expected = {1: (4000, 6000, 0, 10000, 6000), 2: (15000, 0, 5000, 10000, 1000), 3: (25000, 0, 1000, 24000, 0)}
    balances = None
    for month, (earned, advance, recovered, paid, left) in expected.items():
        kw = {} if balances is None else {"prior_balances": balances}
        result = run(inputs(plans, txns, Period(2026, month), **kw))
        pay = payment(result, "anna")
        assert (pay["earnings_minor"], pay["draw_minor"], pay["draw_recovery_minor"], pay["payment_minor"]) == (
            rub(earned),
            rub(advance),
            rub(recovered),
            rub(paid),
        ), month
        assert balance(result, "anna")["draw_balance_minor"] == rub(left)
        balances = result.balances
    # A non-recoverable draw tops January up to 10,000 as well, but February pays all 15,000.
    free = book(
        rep_plan(
            incentives=(flat,),
            variables={"quota": D(1), "target": D(1), "draw": D(10_000)},
            draw=Draw(amount="draw", recoverable=False),
        )
    )
    january = run(inputs(free, txns, Period(2026, 1)))
    assert balance(january, "anna")["draw_balance_minor"] == 0
    february = run(inputs(free, txns, Period(2026, 2), prior_balances=january.balances))
    assert payment(february, "anna")["payment_minor"] == rub(15000)


def test_calculation_error_is_recovered_other_overpayments_are_only_recorded() -> None:
    # Both anna and boris were overpaid 3,000 earlier; both earn 10,000 x 2% ... use 500,000 sales:
    # 500,000 / 100,000 = 5.0 -> 6% = 30,000.00 each.
    # anna's overpayment was a calculation error: recovered, but at most 20% of the payment (art. 138):
    #   min(3,000, 20% x 30,000 = 6,000) = 3,000 -> paid 27,000.00, nothing left to recover.
    # boris's is classified OTHER: recorded as 3,000 outstanding, never deducted -> paid 30,000.00.
    adjustments = (
        Adjustment("a1", "anna", rub(-3000), "double-counted deal in January", OverpaymentClass.CALCULATION_ERROR),
        Adjustment("a2", "boris", rub(-3000), "customer cancelled after payment", OverpaymentClass.OTHER),
    )
    txns = [sale("t1", "R1", MARCH, "500000"), sale("t2", "R2", MARCH, "500000")]
    result = run(inputs(book(rep_plan()), txns, adjustments=adjustments))
    assert payment(result, "anna")["overpayment_recovery_minor"] == rub(3000)
    assert payment(result, "anna")["payment_minor"] == rub(27000)
    assert payment(result, "boris")["payment_minor"] == rub(30000)
    assert balance(result, "boris")["recorded_overpayment_minor"] == rub(3000)
    assert balance(result, "boris")["recoverable_overpayment_minor"] == 0
    treatments = dict(result.adjustments.select("adjustment_id", "treatment").iter_rows())
    assert treatments == {"a1": "RECOVERABLE", "a2": "RECORDED"}


def test_recovery_is_limited_to_twenty_percent_of_each_payment() -> None:
    # anna earns 10,000 in March (quota 100,000, 500,000 sold? no: 100,000 x ... use a flat 10%):
    # 100,000 x 10% = 10,000.00; 3,000 calculation-error overpayment; 20% of 10,000 = 2,000 recovered,
    # paid 8,000.00 and 1,000 still recoverable. April: 10,000 more -> 1,000 recovered, paid 9,000.00.
    flat = RateTableIncentive(incentive_id="commission", base="revenue", tiers=(Tier(lower=D(0), rate=D("0.1")),))
    plans = book(rep_plan(incentives=(flat,)))
    txns = [sale("t1", "R1", MARCH, "100000"), sale("t2", "R1", date(2026, 4, 10), "100000")]
    claw = (Adjustment("a1", "anna", rub(-3000), "wrong rate applied in February", OverpaymentClass.CALCULATION_ERROR),)
    march = run(inputs(plans, txns, adjustments=claw))
    assert (payment(march, "anna")["overpayment_recovery_minor"], payment(march, "anna")["payment_minor"]) == (
        rub(2000),
        rub(8000),
    )
    assert balance(march, "anna")["recoverable_overpayment_minor"] == rub(1000)
    april = run(inputs(plans, txns, Period(2026, 4), prior_balances=march.balances))
    assert (payment(april, "anna")["overpayment_recovery_minor"], payment(april, "anna")["payment_minor"]) == (
        rub(1000),
        rub(9000),
    )


def test_an_unclassified_overpayment_is_refused() -> None:
    bad = (Adjustment("a1", "anna", rub(-100), "something"),)
    with pytest.raises(RunInputError) as err:
        calculate_period(inputs(book(rep_plan()), [], adjustments=bad))
    assert err.value.violations[0].field == "adjustments[0].overpayment_class"
    with pytest.raises(RunInputError):
        reference_run(inputs(book(rep_plan()), [], adjustments=bad))


def test_deposit_holds_part_of_a_bonus_and_releases_it_later() -> None:
    # Bonus 1,000.00 when attainment >= 1; 20% (200.00) is held and released two periods later.
    # March: bonus 1,000, held 200 -> paid from the bonus 800 (+ commission 130,000 x 6% = 7,800).
    # May: the deposit is released: +200.00.
    plan = rep_plan(
        incentives=(
            rep_plan().incentives[0],
            ThresholdBonus(incentive_id="bonus", condition="attainment >= 1", amount="1000"),
        ),
        deposits=(
            DepositRule(deposit_id="hold", incentive_ids=("bonus",), hold_percent=D(20), release_after_periods=2),
        ),
    )
    plans = book(plan)
    txns = [sale("t1", "R1", MARCH, "130000")]
    march = run(inputs(plans, txns))
    held = march.deposits_held.row(0, named=True)
    assert (held["amount_minor"], held["release_period"]) == (rub(200), "2026-05")
    assert payment(march, "anna")["payment_minor"] == rub(7800 + 800)
    april = run(inputs(plans, txns, Period(2026, 4), open_deposits=march.open_deposits))
    assert april.deposits_released.height == 0
    may = run(inputs(plans, txns, Period(2026, 5), open_deposits=april.open_deposits))
    assert payment(may, "anna")["deposits_released_minor"] == rub(200)
    assert may.open_deposits.height == 0


def test_per_credit_commission_and_spiff() -> None:
    # Per credit: 1% of each insurance credit (2.5% online), plus 50.00 a policy.
    #   1,234.56 x 1%   = 12.3456 -> 12.35 + 50 = 62.35
    #   2,000.01 x 1%   = 20.0001 -> 20.00 + 50 = 70.00   -> 132.35
    # SPIFF in March only: 500.00 if at least 2 insurance policies were sold; April pays none.
    plan = rep_plan(
        measurements=(
            *rep_plan().measurements,
            Measurement(
                measurement_id="policies",
                kind="COUNT",
                filter=CreditFilter(credit_types="DIRECT", condition={"product": ("insurance",)}),
            ),
        ),
        incentives=(
            PerCreditCommission(
                incentive_id="per_policy",
                filter=CreditFilter(credit_types="DIRECT", condition={"product": ("insurance",)}),
                rate=D("0.01"),
                rates_by="channel",
                rate_table={"online": D("0.025")},
                amount_per_unit=D(50),
            ),
            Spiff(incentive_id="spring", period="2026-03", condition="policies >= 2", amount="500"),
        ),
    )
    txns = [
        sale("t1", "R1", MARCH, "1234.56", product="insurance"),
        sale("t2", "R1", MARCH, "2000.01", product="insurance"),
        sale("t3", "R1", MARCH, "9999", product="loan"),
    ]
    march = run(inputs(book(plan), txns))
    assert amount(march, "anna", "per_policy") == rub("132.35")
    assert amount(march, "anna", "spring") == rub(500)
    april = run(inputs(book(plan), txns, Period(2026, 4)))
    assert april.payouts.filter(pl.col("incentive_id") == "spring").height == 0
