"""Property tests: on random organisations, plans, transactions and carried-over state, the vectorized
engine and the row-by-row oracle agree to the kopeck on every frame of the result (or both refuse with
`CalculationError`), and an incremental run equals a full run.

The generators build valid inputs by construction (positions only report to earlier positions, so the
hierarchy is acyclic under every version; splits sum to 100; tiers are contiguous) and assert that the
plan validator accepts them, so a validator that grew too strict fails here too.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.commissions.domain.engine import calculate_incremental, calculate_period, prepare_context
from services.commissions.domain.errors import CalculationError
from services.commissions.domain.inputs import (
    Adjustment,
    Deposit,
    OverpaymentClass,
    ParticipantBalance,
    PaymentPolicy,
    RunInputs,
    balances_frame,
    deposits_frame,
)
from services.commissions.domain.org import Assignment, Organisation, Participant, PositionVersion, Title
from services.commissions.domain.periods import Period, Window
from services.commissions.domain.plans import (
    SELLER,
    CreditFilter,
    CreditRule,
    DepositRule,
    Draw,
    FormulaIncentive,
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
    VariableOverride,
    validate_plan,
    validate_plan_book,
)
from services.commissions.domain.reference import reference_run
from services.commissions.domain.results import differences
from services.commissions.domain.transactions import Transaction, transactions_frame

YEAR = 2026
JAN1 = date(YEAR, 1, 1)
PRODUCTS, TERRITORIES, CHANNELS, SEGMENTS = (
    ("loan", "card", "deposit"),
    ("north", "south"),
    ("web", "branch"),
    ("mass", "vip"),
)
DOMAINS = {"product": PRODUCTS, "territory": TERRITORIES, "channel": CHANNELS, "segment": SEGMENTS}
TITLES = ("REP", "MGR", "DIR")

days = st.integers(0, 364).map(lambda d: JAN1 + timedelta(days=d))


def decimals(lo: int, hi: int, places: int) -> st.SearchStrategy[Decimal]:
    return st.integers(lo * 10**places, hi * 10**places).map(lambda n: Decimal(n).scaleb(-places))


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, tuple[str, ...]]:
    out = {}
    for key in draw(st.lists(st.sampled_from(sorted(DOMAINS)), max_size=2, unique=True)):
        out[key] = tuple(draw(st.lists(st.sampled_from(DOMAINS[key]), min_size=1, unique=True)))
    return out


@st.composite
def formulas(draw: st.DrawFn, names: list[str], depth: int = 2) -> str:
    """A random number formula over ``names`` (same-window measurements and variables)."""
    if depth == 0 or draw(st.booleans()):
        if names and draw(st.integers(0, 3)):
            return draw(st.sampled_from(names))
        return str(draw(decimals(0, 50, 2)))
    a, b = draw(formulas(names, depth - 1)), draw(formulas(names, depth - 1))
    shape = draw(st.integers(0, 7))
    if shape <= 3:
        return f"({a} {'+-*/'[shape]} {b})"
    if shape == 4:
        return f"min({a}, {b})"
    if shape == 5:
        return f"max({a}, {b})"
    if shape == 6:
        return f"if({a} >= {b} and not ({a} == 0), {a}, -{b})"
    return f"round({a}, {draw(st.integers(0, 6))})"


@st.composite
def tier_tables(draw: st.DrawFn, scale: int, rates: tuple[int, int]) -> tuple[Tier, ...]:
    n = draw(st.integers(1, 4))
    bounds = sorted(set(draw(st.lists(decimals(1, scale, 2), min_size=n - 1, max_size=n - 1))))
    lowers = [Decimal(0), *bounds]
    out = []
    for i, lower in enumerate(lowers):
        upper = lowers[i + 1] if i + 1 < len(lowers) else None
        out.append(Tier(lower=lower, upper=upper, rate=draw(decimals(rates[0], rates[1], 4))))
    return tuple(out)


@st.composite
def plans(draw: st.DrawFn, plan_id: str, positions: list[str]) -> Plan:
    window = draw(st.sampled_from(list(Window)))
    variables = {
        "quota": draw(st.sampled_from([Decimal(0), Decimal(1000), Decimal(50000), Decimal("123456.78")])),
        "target": draw(decimals(0, 5000, 2)),
        "draw": draw(st.sampled_from([Decimal(0), Decimal(100), Decimal("2500.50")])),
    }
    rules = []
    for r in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            targets: tuple[SplitTarget, ...] = (SplitTarget(),)
        else:
            others = draw(st.lists(st.sampled_from(positions), min_size=1, max_size=2, unique=True))
            cuts = sorted(set(draw(st.lists(st.integers(1, 999_999), min_size=len(others), max_size=len(others)))))
            shares = [b - a for a, b in zip([0, *cuts], [*cuts, 1_000_000], strict=True)]
            names = [SELLER, *others][: len(shares)]
            targets = tuple(
                SplitTarget(position=n, percent=Decimal(s).scaleb(-4)) for n, s in zip(names, shares, strict=True)
            )
        rules.append(
            CreditRule(
                rule_id=f"r{r}",
                condition=draw(conditions()),
                targets=targets,
                rollup_levels=draw(st.sampled_from([0, 1, 2, None])),
            )
        )
    rule_ids = [r.rule_id for r in rules]

    def credit_filter() -> CreditFilter:
        return CreditFilter(
            credit_types=draw(st.sampled_from(["DIRECT", "INDIRECT", "ALL"])),
            rule_ids=draw(st.none() | st.lists(st.sampled_from(rule_ids), min_size=1, unique=True).map(tuple)),
            condition=draw(conditions()),
        )

    measurements = [
        Measurement(measurement_id="revenue", kind="SUM", window=window, filter=credit_filter()),
        Measurement(measurement_id="deals", kind="COUNT", window=window, filter=credit_filter()),
        Measurement(measurement_id="month_sales", kind="SUM", window=Window.PERIOD, filter=credit_filter()),
        Measurement(measurement_id="attainment", kind="FORMULA", formula="revenue / quota"),
        Measurement(
            measurement_id="mix", kind="FORMULA", formula=draw(formulas(["revenue", "deals", "attainment", "target"]))
        ),
    ]
    same = ["revenue", "deals", "attainment", "mix", "target", "quota"]
    periodic = ["month_sales", "target"]
    incentives: list = []
    basis = draw(st.sampled_from(["ATTAINMENT", "AMOUNT"]))
    incentives.append(
        RateTableIncentive(
            incentive_id="commission",
            payout_window=window,
            base="revenue",
            basis=basis,
            quota="quota" if basis == "ATTAINMENT" else draw(st.none() | st.just("quota")),
            method=draw(st.sampled_from(["STEPPED", "GRADUATED"])),
            tiers=draw(tier_tables(2 if basis == "ATTAINMENT" else 100000, (0, 1))),
            multipliers=draw(st.just(()) | tier_tables(2, (0, 3))),
            cap=draw(st.none() | st.just("target * 3") | st.just("1000")),
            floor=draw(st.none() | st.just("0") | st.just("target / 10")),
        )
    )
    if draw(st.booleans()):
        incentives.append(
            ThresholdBonus(
                incentive_id="bonus",
                payout_window=window,
                condition=f"attainment >= {draw(decimals(0, 2, 2))} or deals > {draw(st.integers(0, 5))}",
                amount=draw(formulas(same)),
            )
        )
    if draw(st.booleans()):
        table = {p: draw(decimals(0, 1, 3)) for p in draw(st.lists(st.sampled_from(PRODUCTS), unique=True))}
        incentives.append(
            PerCreditCommission(
                incentive_id="per_credit",
                filter=credit_filter(),
                rate=draw(decimals(0, 1, 4)),
                rates_by="product" if table else None,
                rate_table=table,
                amount_per_unit=draw(decimals(0, 500, 2)),
            )
        )
    if draw(st.booleans()):
        incentives.append(
            Spiff(
                incentive_id="spiff",
                period=f"{YEAR}-{draw(st.integers(1, 12)):02d}",
                condition="month_sales > 100",
                amount=str(draw(decimals(1, 1000, 2))),
            )
        )
    if draw(st.booleans()):
        incentives.append(
            FormulaIncentive(
                incentive_id="formula",
                formula=draw(formulas(periodic)),
                cap=draw(st.none() | st.just("target")),
                floor=draw(st.none() | st.just("-target")),
            )
        )
    deposits = []
    if draw(st.booleans()):
        held = draw(st.sampled_from([i.incentive_id for i in incentives]))
        after = draw(st.none() | st.integers(1, 3))
        deposits.append(
            DepositRule(
                deposit_id="hold",
                incentive_ids=(held,),
                hold_percent=draw(decimals(1, 100, 2)),
                release_after_periods=after,
                release_condition="attainment >= 1" if after is None or draw(st.booleans()) else None,
            )
        )
    draw_rule = draw(st.none() | st.builds(Draw, amount=st.just("draw"), recoverable=st.booleans()))
    plan = Plan(
        plan_id=plan_id,
        variables=variables,
        credit_rules=tuple(rules),
        measurements=tuple(measurements),
        incentives=tuple(incentives),
        deposits=tuple(deposits),
        draw=draw_rule,
    )
    assert validate_plan(plan, positions) == [], validate_plan(plan, positions)
    return plan


@st.composite
def scenarios(draw: st.DrawFn) -> RunInputs:
    n_pos = draw(st.integers(2, 8))
    positions = [f"P{i}" for i in range(n_pos)]
    versions = []
    for i, pos in enumerate(positions):

        def manager(i: int = i) -> str | None:
            return draw(st.none() | st.sampled_from(positions[:i])) if i else None

        title = draw(st.sampled_from(TITLES))
        if draw(st.booleans()):
            cut = draw(days)
            versions.append(PositionVersion(pos, title, manager(), date(2025, 1, 1), cut))
            versions.append(PositionVersion(pos, draw(st.sampled_from(TITLES)), manager(), cut))
        else:
            versions.append(PositionVersion(pos, title, manager(), date(2025, 1, 1)))
    participants = [f"U{i}" for i in range(draw(st.integers(1, 6)))]
    assignments = []
    for pos in positions:
        cuts = sorted(set(draw(st.lists(days, max_size=2))))
        edges = [date(2025, 6, 1), *cuts, None]
        for a, b in itertools.pairwise(edges):
            holder = draw(st.none() | st.sampled_from(participants))
            if holder is not None and (b is None or a < b):
                assignments.append(Assignment(holder, pos, a, b))
    org = Organisation(
        titles=tuple(Title(t) for t in TITLES),
        positions=tuple(versions),
        participants=tuple(Participant(p) for p in participants),
        assignments=tuple(assignments),
    )
    plan_list = [draw(plans(f"plan{k}", positions)) for k in range(draw(st.integers(1, 3)))]
    plan_ids = [p.plan_id for p in plan_list]
    plan_assignments = []
    for title in TITLES:
        if draw(st.integers(0, 4)):
            cut = draw(st.none() | days)
            plan_assignments.append(
                PlanAssignment(draw(st.sampled_from(plan_ids)), date(2025, 1, 1), cut, title_id=title)
            )
            if cut is not None and draw(st.booleans()):
                plan_assignments.append(PlanAssignment(draw(st.sampled_from(plan_ids)), cut, None, title_id=title))
    for pos in draw(st.lists(st.sampled_from(positions), max_size=2, unique=True)):
        start = draw(days)
        plan_assignments.append(
            PlanAssignment(
                draw(st.sampled_from(plan_ids)),
                start,
                draw(st.none() | st.just(start + timedelta(days=40))),
                position_id=pos,
            )
        )
    overrides = []
    for _ in range(draw(st.integers(0, 4))):
        plan = draw(st.sampled_from(plan_list))
        start = draw(days)
        target = draw(st.sampled_from([("pos", p) for p in positions] + [("title", t) for t in TITLES]))
        candidate = VariableOverride(
            plan.plan_id,
            draw(st.sampled_from(sorted(plan.variables))),
            draw(decimals(0, 100000, 2)),
            start,
            start + timedelta(days=draw(st.integers(1, 200))),
            title_id=target[1] if target[0] == "title" else None,
            position_id=target[1] if target[0] == "pos" else None,
        )
        trial = PlanBook(tuple(plan_list), tuple(plan_assignments), (*overrides, candidate))
        if not validate_plan_book(trial, TITLES, positions):
            overrides.append(candidate)
    book = PlanBook(tuple(plan_list), tuple(plan_assignments), tuple(overrides))
    assert validate_plan_book(book, TITLES, positions) == []

    transactions: list[Transaction] = []
    for t in range(draw(st.integers(0, 30))):
        day = draw(days)
        if transactions and draw(st.integers(0, 4)) == 0:
            original = draw(st.sampled_from([x for x in transactions if x.original_id is None]))
            left = original.amount_minor + sum(
                x.amount_minor for x in transactions if x.original_id == original.transaction_id
            )
            if left > 0:
                amount = draw(st.sampled_from([left, max(1, left // 3)]))
                when = max(day, original.booking_date)
                transactions.append(
                    replace(
                        original,
                        transaction_id=f"T{t}",
                        booking_date=when,
                        amount_minor=-amount,
                        original_id=original.transaction_id,
                        units=-1 if amount == left else 0,
                    )
                )
                continue
        amount = draw(st.integers(1, 10**7) | st.sampled_from([1, 5, 15, 25, 10**10]))
        transactions.append(
            Transaction(
                f"T{t}",
                day,
                day,
                amount,
                "RUB",
                draw(st.sampled_from(positions)),
                draw(st.sampled_from(PRODUCTS)),
                draw(st.sampled_from(TERRITORIES)),
                draw(st.sampled_from(CHANNELS)),
                draw(st.sampled_from(SEGMENTS)),
            )
        )
    period = Period(YEAR, draw(st.integers(1, 12)))
    balances = [
        ParticipantBalance(p, *(draw(st.sampled_from([0, 0, 100, 12345, 10**6])) for _ in range(4)))
        for p in draw(st.lists(st.sampled_from(participants), unique=True))
    ]
    open_deposits = []
    for k in range(draw(st.integers(0, 3))):
        earned = period.plus(-draw(st.integers(0, 3)))
        open_deposits.append(
            Deposit(
                f"D{k}",
                "hold",
                draw(st.sampled_from(participants)),
                draw(st.sampled_from(positions)),
                "commission",
                "COMMISSION",
                str(earned),
                draw(st.none() | st.sampled_from([str(earned.plus(1)), str(earned.plus(5))])),
                draw(st.integers(1, 10**6)),
            )
        )
    adjustments = []
    for k in range(draw(st.integers(0, 3))):
        amount = draw(st.integers(-(10**6), 10**6))
        adjustments.append(
            Adjustment(
                f"A{k}",
                draw(st.sampled_from(participants)),
                amount,
                "late transaction",
                draw(st.sampled_from(list(OverpaymentClass))) if amount < 0 else None,
            )
        )
    return RunInputs(
        period=period,
        org=org,
        plans=book,
        transactions=transactions_frame(transactions),
        prior_balances=balances_frame(balances),
        open_deposits=deposits_frame(open_deposits),
        adjustments=tuple(adjustments),
        policy=PaymentPolicy(draw(st.sampled_from([Decimal(20), Decimal("33.3333"), None]))),
    )


def run_both(inputs: RunInputs):  # type: ignore[no-untyped-def]
    try:
        expected = reference_run(inputs)
    except CalculationError:
        with pytest.raises(CalculationError):
            calculate_period(inputs)
        return None, None
    return expected, calculate_period(inputs)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_engine_agrees_with_the_reference_to_the_kopeck(inputs: RunInputs) -> None:
    expected, actual = run_both(inputs)
    if expected is None:
        return
    assert differences(actual, expected) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios(), st.data())
def test_incremental_run_equals_a_full_run(inputs: RunInputs, data: st.DataObject) -> None:
    """Change one participant's sales (drop one they made, add one in their current position),
    recompute that participant only, and get exactly what a full run on the changed data gives."""
    try:
        before = calculate_period(inputs)
    except CalculationError:
        return
    held = {a.participant_id: a.position_id for a in inputs.org.assignments}
    if not held:
        return
    who = data.draw(st.sampled_from(sorted(held)))
    mine = [a.position_id for a in inputs.org.assignments if a.participant_id == who]
    tx = inputs.transactions
    sales = tx.filter(pl.col("original_id").is_null() & pl.col("seller_position_id").is_in(mine))
    reversed_ids = set(tx.get_column("original_id").drop_nulls().to_list())
    droppable = [
        row["transaction_id"]
        for row in sales.iter_rows(named=True)
        if row["transaction_id"] not in reversed_ids
        and inputs.org.holder_as_of(row["seller_position_id"], row["credit_date"]) == who
    ]
    if droppable:
        tx = tx.filter(pl.col("transaction_id") != data.draw(st.sampled_from(droppable)))
    assignment = data.draw(st.sampled_from([a for a in inputs.org.assignments if a.participant_id == who]))
    day = max(assignment.valid_from, inputs.period.start)
    if assignment.valid_to is None or day < assignment.valid_to:
        new = Transaction(
            "NEW",
            day,
            day,
            data.draw(st.integers(1, 10**7)),
            "RUB",
            assignment.position_id,
            "loan",
            "north",
            "web",
            "vip",
        )
        tx = pl.concat([tx, transactions_frame([new])])
    changed = replace(inputs, transactions=tx)
    try:
        full = calculate_period(changed)
    except CalculationError:
        return
    context = prepare_context(changed)
    incremental = calculate_incremental(changed, before, [who], context)
    assert incremental.kind == "INCREMENTAL"
    assert differences(incremental, full) == []
