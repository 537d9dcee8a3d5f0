"""Runs: a finalized period is never run again (engine, oracle, incremental alike), versions are
numbered, bad run input is refused before anything is computed, incremental runs refuse to reuse a
result computed under another organisation or plan book."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from services.commissions.domain.engine import calculate_incremental, calculate_period, prepare_context
from services.commissions.domain.errors import PeriodFinalizedError, RunInputError
from services.commissions.domain.inputs import Adjustment, RunInputs
from services.commissions.domain.org import Assignment, Organisation, Participant, PositionVersion, Title
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import (
    CreditRule,
    Measurement,
    Plan,
    PlanAssignment,
    PlanBook,
    RateTableIncentive,
    Tier,
)
from services.commissions.domain.reference import reference_run
from services.commissions.domain.results import differences
from services.commissions.domain.runs import PeriodLedger, finalized_periods
from services.commissions.domain.transactions import Transaction, transactions_frame

Y = date(2026, 1, 1)
MARCH = Period(2026, 3)
ORG = Organisation(
    titles=(Title("REP"), Title("MGR")),
    positions=(
        PositionVersion("M1", "MGR", None, Y),
        PositionVersion("R1", "REP", "M1", Y),
        PositionVersion("R2", "REP", "M1", Y),
    ),
    participants=(Participant("anna"), Participant("boris"), Participant("vera")),
    assignments=(Assignment("anna", "R1", Y), Assignment("boris", "R2", Y), Assignment("vera", "M1", Y)),
)
PLAN = Plan(
    plan_id="rep",
    credit_rules=(CreditRule(rule_id="all", rollup_levels=None),),
    measurements=(Measurement(measurement_id="revenue"),),
    incentives=(
        RateTableIncentive(incentive_id="c", base="revenue", tiers=(Tier(lower=Decimal(0), rate=Decimal("0.05")),)),
    ),
)
BOOK = PlanBook((PLAN,), (PlanAssignment("rep", Y, title_id="REP"), PlanAssignment("rep", Y, title_id="MGR")))


def sale(tid: str, position: str, amount: int, day: date = date(2026, 3, 5)) -> Transaction:
    return Transaction(tid, day, day, amount, "RUB", position, "loan", "north", "web", "mass")


def inputs(txns: list[Transaction], **kw: object) -> RunInputs:
    return RunInputs(period=MARCH, org=ORG, plans=BOOK, transactions=transactions_frame(txns), **kw)  # type: ignore[arg-type]


def test_a_finalized_period_is_refused_by_every_entry_point() -> None:
    ledger = PeriodLedger(MARCH).record("FULL", datetime(2026, 4, 1, tzinfo=UTC))
    assert ledger.runs[0].run_version == 1 and ledger.next_version() == 2
    ledger = ledger.finalize(datetime(2026, 4, 2, tzinfo=UTC))
    frozen = inputs([sale("t1", "R1", 100_00)], finalized_periods=finalized_periods([ledger]))
    with pytest.raises(PeriodFinalizedError):
        calculate_period(frozen)
    with pytest.raises(PeriodFinalizedError):
        reference_run(frozen)
    previous = calculate_period(replace(frozen, finalized_periods=frozenset()))
    with pytest.raises(PeriodFinalizedError):
        calculate_incremental(frozen, previous, ["anna"])
    with pytest.raises(PeriodFinalizedError):
        ledger.next_version()
    with pytest.raises(PeriodFinalizedError):
        ledger.finalize(datetime(2026, 4, 3, tzinfo=UTC))


def test_bad_run_input_is_refused_before_anything_runs() -> None:
    usd_plan = PLAN.model_copy(update={"currency": "USD"})
    tx = transactions_frame([sale("t1", "R1", 100), sale("t1", "R1", 100)])
    bad = RunInputs(
        period=MARCH,
        org=ORG,
        plans=PlanBook((usd_plan,), BOOK.assignments),
        transactions=tx.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit("R9"))
            .otherwise(pl.col("seller_position_id"))
            .alias("seller_position_id")
        ),
        adjustments=(Adjustment("a1", "nobody", 100, " "),),
    )
    for run in (calculate_period, reference_run):
        with pytest.raises(RunInputError) as err:
            run(bad)
        assert [v.field for v in err.value.violations] == [
            "plans[0].currency",
            "transactions.duplicate_ids",
            "transactions.unknown_positions",
            "adjustments[0].participant_id",
            "adjustments[0].reason",
        ]


def test_incremental_run_matches_a_full_run_and_refuses_a_changed_organisation() -> None:
    before = inputs([sale("t1", "R1", 100_00), sale("t2", "R2", 50_00)])
    context = prepare_context(before)
    previous = calculate_period(before, context)
    after = replace(before, transactions=transactions_frame([sale("t1", "R1", 300_00), sale("t2", "R2", 50_00)]))
    incremental = calculate_incremental(after, previous, ["anna"], context)
    assert differences(incremental, calculate_period(after)) == []
    assert differences(incremental, reference_run(after)) == []
    # The manager's override moved with anna's sale: 350.00 x 5% = 17.50
    assert incremental.payouts.filter(pl.col("participant_id") == "vera")["amount_minor"].to_list() == [1750]
    moved = replace(
        before, org=replace(ORG, assignments=(*ORG.assignments[:2], Assignment("vera", "M1", date(2026, 2, 1))))
    )
    with pytest.raises(ValueError, match="run in full"):
        calculate_incremental(moved, previous, ["anna"])
