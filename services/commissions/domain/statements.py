"""A participant's statement for a period, the credits behind a figure, and finance's run totals.

Pure functions over a `RunResult`: the statement lists every payee (position held), every measurement,
every incentive line with the tier, rate and multiplier that applied, the deposits, adjustments, the
pay step (draws, balances, recoveries) and the payroll lines; `credits_behind` follows a measurement
down to its credits and their transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.engine_credits import condition_expr
from services.commissions.domain.inputs import RunInputs
from services.commissions.domain.money import from_minor
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import CreditType, MeasurementKind
from services.commissions.domain.results import RunResult


def _num(raw: int | None) -> Decimal | None:
    return None if raw is None else fp.from_raw(raw)


@dataclass(frozen=True, slots=True)
class PayeeInfo:
    position_id: str
    title_id: str | None
    plan_id: str | None
    plan_version: int | None
    ref_date: date


@dataclass(frozen=True, slots=True)
class MeasurementFigure:
    position_id: str
    measurement_id: str
    value: Decimal
    prior_value: Decimal | None


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One incentive line with everything needed to re-check it by hand."""

    position_id: str
    plan_id: str
    incentive_id: str
    kind: str
    earning_code: str
    base_measurement_id: str | None
    base_value: Decimal | None
    quota: Decimal | None
    tier_value: Decimal | None  # attainment for attainment tiers, the base otherwise
    tier_index: int | None
    rate: Decimal | None
    multiplier: Decimal | None
    floored: bool
    capped: bool
    condition_met: bool | None
    cumulative: Decimal
    prior_cumulative: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Statement:
    participant_id: str
    period: Period
    currency: str
    run_version: int
    payees: tuple[PayeeInfo, ...]
    measurements: tuple[MeasurementFigure, ...]
    lines: tuple[StatementLine, ...]
    deposits_held: tuple[dict[str, Any], ...]
    deposits_released: tuple[dict[str, Any], ...]
    adjustments: tuple[dict[str, Any], ...]
    payment: dict[str, Decimal]
    balances: dict[str, Decimal]
    payroll: tuple[tuple[str, Decimal], ...]


def participant_statement(result: RunResult, participant_id: str) -> Statement:
    """Everything the run computed for one participant, in major units."""
    cur = result.currency

    def mine(name: str) -> pl.DataFrame:
        return result.frame(name).filter(pl.col("participant_id") == participant_id)

    def money(frame: pl.DataFrame) -> dict[str, Decimal]:
        if frame.height == 0:
            return {}
        row = frame.row(0, named=True)
        return {k.removesuffix("_minor"): from_minor(v, cur) for k, v in row.items() if k.endswith("_minor")}

    payees = tuple(
        PayeeInfo(r["position_id"], r["title_id"], r["plan_id"], r["plan_version"], r["ref_date"])
        for r in mine("payees").iter_rows(named=True)
    )
    measurements = tuple(
        MeasurementFigure(r["position_id"], r["measurement_id"], fp.from_raw(r["value"]), _num(r["prior_value"]))
        for r in mine("measurements").iter_rows(named=True)
    )
    lines = tuple(
        StatementLine(
            position_id=r["position_id"],
            plan_id=r["plan_id"],
            incentive_id=r["incentive_id"],
            kind=r["kind"],
            earning_code=r["earning_code"],
            base_measurement_id=r["base_measurement_id"],
            base_value=_num(r["base_value"]),
            quota=_num(r["quota_value"]),
            tier_value=_num(r["tier_value"]),
            tier_index=r["tier_index"],
            rate=_num(r["rate"]),
            multiplier=_num(r["multiplier"]),
            floored=r["floored"],
            capped=r["capped"],
            condition_met=r["condition_met"],
            cumulative=from_minor(r["cumulative_minor"], cur),
            prior_cumulative=from_minor(r["prior_cumulative_minor"], cur),
            amount=from_minor(r["amount_minor"], cur),
        )
        for r in mine("payouts").iter_rows(named=True)
    )
    return Statement(
        participant_id=participant_id,
        period=result.period,
        currency=cur,
        run_version=result.run_version,
        payees=payees,
        measurements=measurements,
        lines=lines,
        deposits_held=tuple(mine("deposits_held").iter_rows(named=True)),
        deposits_released=tuple(mine("deposits_released").iter_rows(named=True)),
        adjustments=tuple(mine("adjustments").iter_rows(named=True)),
        payment=money(mine("payments")),
        balances=money(mine("balances")),
        payroll=tuple(
            (r["earning_code"], from_minor(r["amount_minor"], cur)) for r in mine("payroll").iter_rows(named=True)
        ),
    )


def credits_behind(
    result: RunResult, inputs: RunInputs, participant_id: str, position_id: str, measurement_id: str
) -> pl.DataFrame:
    """The credits (with their transactions' classifiers) a SUM/COUNT measurement of a payee adds up:
    the measurement's credit type, rules, classifier condition and window. The amounts sum to the
    measurement's value (in minor units; units for COUNT)."""
    payee = result.payees.filter(pl.col("participant_id") == participant_id, pl.col("position_id") == position_id)
    if payee.height == 0 or payee["plan_id"][0] is None:
        raise KeyError(f"{participant_id}/{position_id} is not a payee with a plan in this run")
    plan_id = payee["plan_id"][0]
    plan = inputs.plans.compiled(plan_id)
    m = plan.measurement.get(measurement_id)
    if m is None or m.kind is MeasurementKind.FORMULA:
        raise KeyError(f"{measurement_id!r} is not a SUM or COUNT measurement of plan {plan_id}")
    first = str(result.period.window_start(m.window))
    lines = result.credit_lines([participant_id]).filter(
        pl.col("position_id") == position_id,
        pl.col("booking_period") >= first,
        pl.col("booking_period") <= str(result.period),
    )
    flt = m.filter
    if flt.credit_types is CreditType.DIRECT:
        lines = lines.filter(pl.col("level") == 0)
    elif flt.credit_types is CreditType.INDIRECT:
        lines = lines.filter(pl.col("level") > 0)
    if flt.rule_ids is not None:
        lines = lines.filter(pl.col("plan_id") == plan_id, pl.col("rule_id").is_in(list(flt.rule_ids)))
    tx = inputs.transactions.select(
        "transaction_id",
        "original_id",
        *[pl.col(c).cast(pl.String).fill_null("") for c in ("product", "territory", "channel", "segment")],
    )
    joined = lines.join(
        tx.filter(pl.col("transaction_id").is_in(lines["transaction_id"].to_list())), on="transaction_id"
    )
    return joined.filter(condition_expr(dict(flt.condition))).sort("credit_date", "transaction_id", "level")


@dataclass(frozen=True)
class RunTotals:
    """What finance looks at before finalizing a run."""

    period: Period
    run_version: int
    currency: str
    payees: int
    participants_paid: int
    earnings_by_code: dict[str, Decimal]
    total_payment: Decimal
    deposits_held: Decimal
    deposits_released: Decimal
    draws_advanced: Decimal
    draws_recovered: Decimal
    overpayments_recovered: Decimal
    negative_balances_carried: Decimal
    recoverable_overpayments_outstanding: Decimal
    recorded_overpayments_outstanding: Decimal


def run_totals(result: RunResult) -> RunTotals:
    cur = result.currency
    pay = result.payments.select(pl.exclude("participant_id").sum()).row(0, named=True)
    bal = result.balances.select(pl.exclude("participant_id").sum()).row(0, named=True)
    by_code = result.payroll.group_by("earning_code").agg(pl.col("amount_minor").sum()).sort("earning_code")

    def m(value: int | None) -> Decimal:
        return from_minor(value or 0, cur)

    return RunTotals(
        period=result.period,
        run_version=result.run_version,
        currency=cur,
        payees=result.payees.height,
        participants_paid=result.payments.filter(pl.col("payment_minor") != 0).height,
        earnings_by_code={r["earning_code"]: m(r["amount_minor"]) for r in by_code.iter_rows(named=True)},
        total_payment=m(pay["payment_minor"]),
        deposits_held=m(pay["deposits_held_minor"]),
        deposits_released=m(pay["deposits_released_minor"]),
        draws_advanced=m(pay["draw_minor"]),
        draws_recovered=m(pay["draw_recovery_minor"]),
        overpayments_recovered=m(pay["overpayment_recovery_minor"]),
        negative_balances_carried=m(pay["negative_balance_carried_minor"]),
        recoverable_overpayments_outstanding=m(bal["recoverable_overpayment_minor"]),
        recorded_overpayments_outstanding=m(bal["recorded_overpayment_minor"]),
    )
