"""What-if modelling and the deal estimator: hand-computed figures (roubles in comments, kopecks in the
frames), the scenario's validation paths, purity (inputs untouched, baseline = a plain full run) and
the estimator against a full run with the hypothetical sale added."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from bench.commissions_data import generate, participant_of_rep
from services.commissions.domain.engine import calculate_period, prepare_context
from services.commissions.domain.errors import PeriodFinalizedError, PlanValidationError
from services.commissions.domain.inputs import Adjustment, ParticipantBalance, RunInputs, balances_frame
from services.commissions.domain.org import Assignment, Organisation, Participant, PositionVersion, Title
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import (
    CreditFilter,
    CreditRule,
    Measurement,
    Plan,
    PlanAssignment,
    PlanBook,
    RateTableIncentive,
    Spiff,
    ThresholdBonus,
    Tier,
    VariableOverride,
)
from services.commissions.domain.results import RunResult, differences
from services.commissions.domain.transactions import CLASSIFIER_COLUMNS, Transaction, transactions_frame
from services.commissions.domain.what_if import (
    WHAT_IF,
    DealValidationError,
    HypotheticalDeal,
    Scenario,
    apply_scenario,
    estimate_deal,
    what_if,
)

Y = date(2026, 1, 1)
MARCH = Period(2026, 3)
D = Decimal


def rub(amount: str) -> int:
    return int(D(amount) * 100)


ORG = Organisation(
    titles=(Title("DIR"), Title("MGR"), Title("REP", "Sales representative")),
    positions=(
        PositionVersion("D1", "DIR", None, Y),
        PositionVersion("M1", "MGR", "D1", Y),
        PositionVersion("M2", "MGR", "D1", Y),
        PositionVersion("R1", "REP", "M1", Y),
        PositionVersion("R2", "REP", "M1", Y),
        PositionVersion("R3", "REP", "M2", Y),
    ),
    participants=tuple(Participant(p) for p in ("anna", "boris", "vera", "gleb", "dina", "egor", "kira")),
    assignments=(
        Assignment("gleb", "D1", Y),
        Assignment("vera", "M1", Y),
        Assignment("dina", "M2", Y),
        Assignment("anna", "R1", Y),
        Assignment("boris", "R2", Y),
        Assignment("egor", "R3", Y),
    ),
)


def tiers(low_rate: str = "0.04") -> tuple[Tier, ...]:
    return (Tier(lower=D(0), upper=D(1), rate=D(low_rate)), Tier(lower=D(1), rate=D("0.06")))


def rep_plan(low_rate: str = "0.04", *extra: object) -> Plan:
    """Revenue this period against a quota of 100,000; stepped: 4% below the quota, 6% from it."""
    return Plan(
        plan_id="rep",
        variables={"quota": D(100_000)},
        credit_rules=(CreditRule(rule_id="all", rollup_levels=None),),
        measurements=(
            Measurement(measurement_id="revenue", filter=CreditFilter(credit_types="DIRECT")),
            Measurement(measurement_id="attainment", kind="FORMULA", formula="revenue / quota"),
        ),
        incentives=(
            RateTableIncentive(
                incentive_id="commission", base="revenue", basis="ATTAINMENT", quota="quota", tiers=tiers(low_rate)
            ),
            *extra,  # type: ignore[arg-type]
        ),
    )


def leader_plan(plan_id: str, rate: str) -> Plan:
    return Plan(
        plan_id=plan_id,
        measurements=(Measurement(measurement_id="team", filter=CreditFilter(credit_types="INDIRECT")),),
        incentives=(RateTableIncentive(incentive_id="override", base="team", tiers=(Tier(lower=D(0), rate=D(rate)),)),),
    )


BOOK = PlanBook(
    (rep_plan(), leader_plan("mgr", "0.01"), leader_plan("dir", "0.005")),
    (
        PlanAssignment("rep", Y, title_id="REP"),
        PlanAssignment("mgr", Y, title_id="MGR"),
        PlanAssignment("dir", Y, title_id="DIR"),
    ),
    # egor's quota is 50,000
    (VariableOverride("rep", "quota", D(50_000), Y, position_id="R3"),),
)


def sale(tid: str, position: str, amount: str, day: date = date(2026, 3, 10)) -> Transaction:
    return Transaction(tid, day, day, rub(amount), "RUB", position, "loan", "north", "branch", "mass")


def march(**kw: object) -> RunInputs:
    """anna 80,000 (attainment 0.8), boris 123,456.78 (1.2345678), egor 33,333.33 (0.6666666 of 50,000);
    anna carries a negative balance of 1,000, boris has a 100 adjustment."""
    txns = [
        sale("t1", "R1", "50000"),
        sale("t2", "R1", "30000", date(2026, 3, 20)),
        sale("t3", "R2", "123456.78"),
        sale("t4", "R3", "33333.33"),
        sale("old", "R1", "99999", date(2026, 2, 10)),  # February: not in March's PERIOD measurements
    ]
    return RunInputs(
        period=MARCH,
        org=ORG,
        plans=BOOK,
        transactions=transactions_frame(txns),
        prior_balances=balances_frame([ParticipantBalance("anna", negative_balance_minor=rub("1000"))]),
        adjustments=(Adjustment("a1", "boris", rub("100"), "missed bonus"),),
        **kw,  # type: ignore[arg-type]
    )


def row(frame: pl.DataFrame, participant: str) -> dict:  # type: ignore[type-arg]
    return frame.filter(pl.col("participant_id") == participant).row(0, named=True)


def paid(result: RunResult, participant: str, incentive: str = "commission") -> int:
    rows = result.payouts.filter(pl.col("participant_id") == participant, pl.col("incentive_id") == incentive)
    return int(rows.get_column("amount_minor").sum())


# --------------------------------------------------------------------------- what-if figures


def test_a_rate_raised_from_4_to_5_percent_changes_each_rep_by_the_kopeck() -> None:
    comparison = what_if(march(), Scenario("rate 5%", plans=(rep_plan("0.05"),)))
    people = comparison.participants
    # anna 80,000 x 4% = 3,200.00 -> x 5% = 4,000.00
    assert row(people, "anna") == {
        "participant_id": "anna",
        "title_id": "REP",
        "baseline_earnings_minor": rub("3200"),
        "scenario_earnings_minor": rub("4000"),
        "change_minor": rub("800"),
        "change_pct": D("25.00"),
        # the carried negative balance of 1,000 is deducted in both runs
        "baseline_payment_minor": rub("2200"),
        "scenario_payment_minor": rub("3000"),
        "payment_change_minor": rub("800"),
    }
    # egor 33,333.33 x 4% = 1,333.3332 -> 1,333.33; x 5% = 1,666.6665 -> 1,666.67 (half-even)
    egor = row(people, "egor")
    assert (egor["baseline_earnings_minor"], egor["scenario_earnings_minor"]) == (133_333, 166_667)
    assert egor["change_minor"] == 33_334 and egor["change_pct"] == D("25.00")
    # boris is above quota (6%, unchanged): 123,456.78 x 6% = 7,407.4068 -> 7,407.41; + adjustment 100
    boris = row(people, "boris")
    assert boris["baseline_earnings_minor"] == boris["scenario_earnings_minor"] == 740_741
    assert boris["change_minor"] == 0 and boris["baseline_payment_minor"] == 740_741 + rub("100")
    # the leaders' overrides do not depend on the representatives' rates
    for leader in ("vera", "dina", "gleb"):
        assert row(people, leader)["change_minor"] == 0
    assert people.get_column("participant_id").to_list()[:2] == ["anna", "egor"]  # largest change first

    totals = comparison.totals
    assert totals.change_minor == rub("800") + 33_334
    assert totals.scenario_cost_minor - totals.baseline_cost_minor == totals.change_minor
    assert totals.payment_change_minor == totals.change_minor
    assert (totals.participants, totals.better_off, totals.worse_off, totals.unchanged) == (6, 2, 0, 4)
    assert comparison.totals_major()["change"] == D("1133.34")
    assert comparison.major(totals.change_minor) == D("1133.34")
    assert row(comparison.participants_major(), "egor")["change"] == D("333.34")

    commission = comparison.incentives.filter(pl.col("incentive_id") == "commission").row(0, named=True)
    assert commission == {
        "plan_id": "rep",
        "incentive_id": "commission",
        "baseline_minor": rub("3200") + 740_741 + 133_333,
        "scenario_minor": rub("4000") + 740_741 + 166_667,
        "change_minor": rub("800") + 33_334,
        # PERIOD payout window: the cumulative value is the period's amount
        "baseline_cumulative_minor": rub("3200") + 740_741 + 133_333,
        "scenario_cumulative_minor": rub("4000") + 740_741 + 166_667,
        "cumulative_change_minor": rub("800") + 33_334,
    }
    assert comparison.incentives.filter(pl.col("plan_id") != "rep").get_column("change_minor").to_list() == [0, 0]
    assert comparison.scenario.kind == comparison.baseline.kind == WHAT_IF


def test_a_quota_cut_moves_a_rep_into_the_higher_tier() -> None:
    scenario = Scenario(
        "quota cuts",
        overrides=(
            # added: anna's quota 80,000 -> attainment 1.0 -> 6%: 4,800.00 (was 3,200.00)
            VariableOverride("rep", "quota", D(80_000), Y, position_id="R1"),
            # replaces egor's 50,000 from March: 30,000 -> 1.11 -> 6%: 1,999.9998 -> 2,000.00 (was 1,333.33)
            VariableOverride("rep", "quota", D(30_000), date(2026, 3, 1), position_id="R3"),
        ),
    )
    comparison = what_if(march(), scenario)
    assert row(comparison.participants, "anna")["change_minor"] == rub("1600")
    assert row(comparison.participants, "egor")["change_minor"] == rub("2000") - 133_333
    assert row(comparison.participants, "boris")["change_minor"] == 0
    tiers_now = comparison.scenario.payouts.filter(pl.col("incentive_id") == "commission")
    assert row(tiers_now, "anna")["tier_index"] == row(tiers_now, "egor")["tier_index"] == 1
    assert row(comparison.baseline.payouts, "anna")["tier_index"] == 0
    # egor's book override is cut around the scenario's, not dropped: it still holds in January-February
    book = apply_scenario(BOOK, scenario, ORG)
    assert [(o.position_id, o.value, o.valid_from, o.valid_to) for o in book.overrides] == [
        ("R3", D(50_000), Y, date(2026, 3, 1)),
        ("R1", D(80_000), Y, None),
        ("R3", D(30_000), date(2026, 3, 1), None),
    ]
    assert BOOK.overrides == (VariableOverride("rep", "quota", D(50_000), Y, position_id="R3"),)


def test_a_new_spiff_adds_exactly_its_amount_to_qualifying_reps() -> None:
    spiff = Spiff(incentive_id="march_spiff", period="2026-03", condition="revenue >= 50000", amount="500")
    comparison = what_if(march(), Scenario("spiff", plans=(rep_plan("0.04", spiff),)))
    # anna (80,000) and boris (123,456.78) qualify; egor (33,333.33) does not
    assert {r["participant_id"]: r["change_minor"] for r in comparison.participants.iter_rows(named=True)} == {
        "anna": rub("500"),
        "boris": rub("500"),
        "egor": 0,
        "vera": 0,
        "dina": 0,
        "gleb": 0,
    }
    assert comparison.totals.change_minor == rub("1000")
    assert comparison.incentives.filter(pl.col("incentive_id") == "march_spiff").row(0, named=True) == {
        "plan_id": "rep",
        "incentive_id": "march_spiff",
        "baseline_minor": 0,
        "scenario_minor": rub("1000"),
        "change_minor": rub("1000"),
        "baseline_cumulative_minor": 0,
        "scenario_cumulative_minor": rub("1000"),
        "cumulative_change_minor": rub("1000"),
    }
    assert paid(comparison.scenario, "anna", "march_spiff") == rub("500")


def test_a_quarterly_bonus_reached_earlier_shows_in_the_cumulative_change_not_in_this_period() -> None:
    """QTD bonus of 1,000 at revenue >= quota; anna sells 60,000 in February and 30,000 in March.
    Quota 100,000: 90,000 by March, no bonus. Quota 50,000: reached in February, so March earns its
    window value (1,000) less February's (1,000) = 0, while the quarter's value rises by 1,000."""
    qtd = Plan(
        plan_id="rep",
        variables={"quota": D(100_000)},
        credit_rules=(CreditRule(rule_id="all"),),
        measurements=(Measurement(measurement_id="revenue", window="QTD", filter=CreditFilter(credit_types="DIRECT")),),
        incentives=(
            ThresholdBonus(incentive_id="bonus", payout_window="QTD", condition="revenue >= quota", amount="1000"),
        ),
    )
    inputs = RunInputs(
        period=MARCH,
        org=ORG,
        plans=PlanBook((qtd,), (PlanAssignment("rep", Y, title_id="REP"),)),
        transactions=transactions_frame([sale("f", "R1", "60000", date(2026, 2, 5)), sale("m", "R1", "30000")]),
    )
    lower = qtd.model_copy(update={"variables": {"quota": D(50_000)}})
    comparison = what_if(inputs, Scenario("quota 50,000", plans=(lower,)))
    bonus = comparison.incentives.row(0, named=True)
    assert (bonus["change_minor"], bonus["cumulative_change_minor"]) == (0, rub("1000"))
    assert comparison.totals.change_minor == 0 and comparison.totals.unchanged == 6  # every holder is a payee


def test_a_new_plan_with_its_own_assignment_replaces_the_title_plan_from_a_date() -> None:
    flat = rep_plan().model_copy(
        update={
            "plan_id": "rep-flat",
            "incentives": (
                RateTableIncentive(incentive_id="flat", base="revenue", tiers=(Tier(lower=D(0), rate=D("0.05")),)),
            ),
        }
    )
    scenario = Scenario("flat 5% for R1", plans=(flat,), assignments=(PlanAssignment("rep-flat", Y, position_id="R1"),))
    comparison = what_if(march(), scenario)
    # anna: 80,000 x 5% = 4,000.00 on the new plan; nobody else moves
    assert paid(comparison.scenario, "anna", "flat") == rub("4000")
    assert paid(comparison.scenario, "anna", "commission") == 0
    assert comparison.totals.change_minor == rub("800")
    assert comparison.totals.better_off == 1


def test_an_invalid_scenario_reports_every_violation_at_its_field_path() -> None:
    broken = rep_plan(
        "0.04",
        RateTableIncentive(incentive_id="bonus", base="nope", tiers=(Tier(lower=D(0), rate=D("0.01")),)),
    )
    scenario = Scenario(
        " ",
        plans=(broken, leader_plan("mgr", "0.02").model_copy(update={"currency": "USD"}), broken),
        overrides=(VariableOverride("rep", "no_such", D(1), Y, position_id="R1"),),
        assignments=(PlanAssignment("rep", Y, title_id="NOPE"),),
    )
    with pytest.raises(PlanValidationError) as err:
        what_if(march(), scenario)
    fields = {v.field for v in err.value.violations}
    assert fields == {
        "scenario.name",
        "scenario.plans[0].incentives[1].base",
        "scenario.plans[1].currency",
        "scenario.plans[2].plan_id",
        "scenario.overrides[0].variable",
        "scenario.assignments[0].title_id",
    }
    # A plan that renames its quota breaks the override the book keeps for egor: reported on the book.
    renamed = rep_plan().model_copy(update={"variables": {"goal": D(100_000)}})
    renamed = renamed.model_copy(
        update={
            "measurements": (
                renamed.measurements[0],
                Measurement(measurement_id="attainment", kind="FORMULA", formula="revenue / goal"),
            ),
            "incentives": (
                RateTableIncentive(
                    incentive_id="commission", base="revenue", basis="ATTAINMENT", quota="goal", tiers=tiers()
                ),
            ),
        }
    )
    with pytest.raises(PlanValidationError) as err:
        apply_scenario(BOOK, Scenario("rename", plans=(renamed,)), ORG)
    assert [(v.field, v.reason) for v in err.value.violations] == [
        ("book.overrides[0].variable", "plan 'rep' has no variable 'quota'")
    ]


# --------------------------------------------------------------------------- purity and baseline


def test_what_if_never_touches_its_inputs_and_its_baseline_is_a_plain_full_run() -> None:
    inputs = march()
    frames = {n: getattr(inputs, n).clone() for n in ("transactions", "prior_balances", "open_deposits")}
    plans = (BOOK.plans, BOOK.assignments, BOOK.overrides)
    scenario = Scenario(
        "all",
        plans=(rep_plan("0.05"),),
        overrides=(VariableOverride("rep", "quota", D(30_000), date(2026, 3, 1), position_id="R3"),),
    )
    production = calculate_period(inputs)
    comparison = what_if(inputs, scenario)
    for name, frame in frames.items():
        assert getattr(inputs, name).equals(frame)
    assert (inputs.plans.plans, inputs.plans.assignments, inputs.plans.overrides) == plans
    assert inputs.adjustments == (Adjustment("a1", "boris", rub("100"), "missed bonus"),)
    assert differences(comparison.baseline, production) == []
    changed = replace(inputs, plans=apply_scenario(BOOK, scenario, ORG))
    assert differences(comparison.scenario, calculate_period(changed)) == []
    # Given the production run as the baseline, only the scenario is computed; same comparison.
    given = what_if(inputs, scenario, baseline=production, context=prepare_context(inputs))
    assert given.baseline is production
    assert given.totals == comparison.totals
    assert given.participants.equals(comparison.participants)
    assert differences(production, calculate_period(inputs)) == []  # the production run is untouched
    with pytest.raises(ValueError, match="another organisation or plan book"):
        what_if(replace(inputs, plans=changed.plans), scenario, baseline=production, context=prepare_context(changed))


def test_what_if_works_on_a_finalized_period() -> None:
    frozen = march(finalized_periods=frozenset({MARCH}))
    with pytest.raises(PeriodFinalizedError):
        calculate_period(frozen)
    comparison = what_if(frozen, Scenario("rate 5%", plans=(rep_plan("0.05"),)))
    assert comparison.totals.change_minor == rub("800") + 33_334
    assert differences(comparison.baseline, calculate_period(march())) == []


# --------------------------------------------------------------------------- the deal estimator


def with_deal(inputs: RunInputs, transaction: Transaction) -> RunInputs:
    """The inputs with the hypothetical sale, built independently of the estimator (String columns)."""
    strings = [*CLASSIFIER_COLUMNS, "seller_position_id", "currency"]
    tx = inputs.transactions.with_columns(pl.col(strings).cast(pl.String))
    return replace(inputs, transactions=pl.concat([tx, transactions_frame([transaction])]))


def test_a_deal_crossing_the_quota_shows_the_tier_change_and_the_exact_delta() -> None:
    inputs = march()
    context = prepare_context(inputs)
    previous = calculate_period(inputs, context)
    deal = HypotheticalDeal(rub("25000"), date(2026, 3, 25), "RUB", product="loan", segment="mass")
    estimate = estimate_deal(inputs, previous, "anna", deal, context=context)
    # 80,000 + 25,000 = 105,000 -> attainment 1.05 -> 6% on all of it: 6,300.00 (was 3,200.00)
    assert (estimate.current_minor, estimate.with_deal_minor, estimate.difference_minor) == (
        rub("3200"),
        rub("6300"),
        rub("3100"),
    )
    assert (estimate.current_payment_minor, estimate.payment_with_deal_minor) == (rub("2200"), rub("5300"))
    assert estimate.position_id == "R1" and estimate.transaction.transaction_id == "WHATIF:deal"
    assert estimate.new_tier_reached
    line = estimate.incentives.row(0, named=True)
    assert (line["incentive_id"], line["tier_before"], line["tier_after"], line["change_minor"]) == (
        "commission",
        0,
        1,
        rub("3100"),
    )
    assert estimate.kpi("attainment") == (D("0.8"), D("1.05"))
    assert estimate.kpi("revenue") == (D(80_000), D(105_000))
    assert estimate.major(estimate.difference_minor) == D("3100.00")
    # The estimate is a full run with the sale added, to the kopeck (vera's override moved too).
    full = calculate_period(with_deal(inputs, estimate.transaction))
    assert differences(estimate.result, full) == []
    assert paid(estimate.result, "vera", "override") == rub("2284.57")  # 228,456.78 x 1%
    assert estimate.result.kind == WHAT_IF
    # Below the boundary: boris stays at 6%, + 10,000 x 6% = 600.00, no new tier.
    small = estimate_deal(inputs, previous, "boris", replace(deal, amount_minor=rub("10000")), context=context)
    assert small.difference_minor == rub("600") and not small.new_tier_reached


def test_deal_validation_names_the_field() -> None:
    inputs = march()
    previous = calculate_period(inputs)

    def fields(participant: str, deal: HypotheticalDeal) -> list[str]:
        with pytest.raises(DealValidationError) as err:
            estimate_deal(inputs, previous, participant, deal)
        return [v.field for v in err.value.violations]

    good = HypotheticalDeal(rub("1000"), date(2026, 3, 5), "RUB")
    assert fields("anna", replace(good, amount_minor=0, day=date(2026, 4, 1), currency="USD")) == [
        "deal.amount_minor",
        "deal.currency",
        "deal.day",
    ]
    assert fields("kira", good) == ["participant_id"]  # holds no position
    assert fields("nobody", good) == ["participant_id"]
    assert fields("anna", replace(good, position_id="R2")) == ["deal.position_id"]
    assert fields("anna", replace(good, deal_id="")) == ["deal.deal_id"]
    taken = replace(inputs, transactions=transactions_frame([sale("WHATIF:deal", "R1", "1")]))
    with pytest.raises(DealValidationError, match="already exists"):
        estimate_deal(taken, previous, "anna", good)


def test_estimator_and_what_if_on_the_benchmark_data_with_enum_columns() -> None:
    """The generated period: QTD graduated tiers, per-position quotas, transfers, Enum columns."""
    inputs = generate(300, 20_000, seed=3)
    context = prepare_context(inputs)
    previous = calculate_period(inputs, context)
    # participant 0 transfers to X000000 on 16 March; a deal on the 20th is sold from the new position
    mover = participant_of_rep(0)
    deal = HypotheticalDeal(rub("400000"), date(2026, 3, 20), "RUB", "insurance", "region01", "online", "mass")
    estimate = estimate_deal(inputs, previous, mover, deal, context=context)
    assert estimate.position_id == "X000000" and estimate.difference_minor > 0
    assert differences(estimate.result, calculate_period(with_deal(inputs, estimate.transaction)), credits=False) == []
    # a product the period has never seen widens the Enum column and still prices exactly
    new_product = replace(deal, product="lease", day=date(2026, 3, 3), deal_id="lease")
    other = estimate_deal(inputs, previous, participant_of_rep(7), new_product, context=context)
    assert differences(other.result, calculate_period(with_deal(inputs, other.transaction)), credits=False) == []

    rep = inputs.plans.by_id["rep-2026"]
    commission = rep.incentives[0]
    assert isinstance(commission, RateTableIncentive)
    faster = commission.model_copy(
        update={"tiers": tuple(t.model_copy(update={"rate": t.rate * D("1.1")}) for t in commission.tiers)}
    )
    scenario = Scenario("rates +10%", plans=(rep.model_copy(update={"incentives": (faster, *rep.incentives[1:])}),))
    comparison = what_if(inputs, scenario, baseline=previous, context=context)
    changed = replace(inputs, plans=apply_scenario(inputs.plans, scenario, inputs.org))
    assert differences(comparison.scenario, calculate_period(changed), credits=False) == []
    assert comparison.totals.change_minor > 0 and comparison.totals.worse_off == 0
