"""Engine steps 6-7, vectorized: deposits held and released, then the pay step per participant
(negative balances carried forward, draws advanced and recovered, calculation-error overpayments
recovered within the policy limit, other overpayments only recorded) and the payroll lines.

These steps run on decoded frames (ids, not codes): they are per participant, a few hundred thousand
rows at most, and their inputs and outputs are the frames carried between periods.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from services.commissions.domain.engine_context import EngineContext
from services.commissions.domain.fixed_point import rhe_div
from services.commissions.domain.inputs import BALANCE_SCHEMA, DEPOSIT_SCHEMA, OverpaymentClass, RunInputs
from services.commissions.domain.periods import day_number
from services.commissions.domain.results import (
    ADJUSTMENT_SCHEMA,
    PAYMENT_SCHEMA,
    PAYROLL_SCHEMA,
    EarningCode,
    Treatment,
)

I64 = pl.Int64


def _percent(column: pl.Expr, millionths: pl.Expr | int) -> pl.Expr:
    """column x percent / 100, half-even, with the percent in millionths of one (100% = 1_000_000)."""
    m = millionths if isinstance(millionths, int) else millionths.cast(pl.Int128)
    return rhe_div(column.cast(pl.Int128) * m, 1_000_000).cast(I64)


@dataclass
class DepositOutcome:
    held: pl.DataFrame
    released: pl.DataFrame
    still_open: pl.DataFrame


def deposits(
    ctx: EngineContext, inputs_open: pl.DataFrame, payouts: pl.DataFrame, conditions: pl.DataFrame
) -> DepositOutcome:
    """Release what is due (by period or condition), then hold a share of each positive held line."""
    period = str(ctx.period)
    od = inputs_open.join(conditions, on=["participant_id", "position_id", "deposit_id"], how="left")
    due = (pl.col("earned_period") < period) & (
        (pl.col("release_period").is_not_null() & (pl.col("release_period") <= period)) | pl.col("met").fill_null(False)
    )
    od = od.with_columns(due=due)
    released = od.filter(pl.col("due")).select(list(DEPOSIT_SCHEMA))
    still_open = od.filter(~pl.col("due")).select(list(DEPOSIT_SCHEMA))
    rules = [
        (
            plan.plan.plan_id,
            iid,
            d.deposit_id,
            int(d.hold_percent * 10_000),
            None if d.release_after_periods is None else str(ctx.period.plus(d.release_after_periods)),
        )
        for plan in ctx.compiled
        for d in plan.plan.deposits
        for iid in d.incentive_ids
    ]
    table = pl.DataFrame(
        rules,
        schema={
            "plan_id": pl.String,
            "incentive_id": pl.String,
            "deposit_id": pl.String,
            "pct": I64,
            "release_period": pl.String,
        },
        orient="row",
    )
    held = (
        payouts.filter(pl.col("amount_minor") > 0)
        .join(table, on=["plan_id", "incentive_id"], how="inner")
        .with_columns(amount=_percent(pl.col("amount_minor"), pl.col("pct")))
        .filter(pl.col("amount") > 0)
        .select(
            pl.concat_str(["participant_id", "position_id", "incentive_id", pl.lit(period)], separator="|").alias(
                "deposit_key"
            ),
            "deposit_id",
            "participant_id",
            "position_id",
            "incentive_id",
            "earning_code",
            pl.lit(period).alias("earned_period"),
            "release_period",
            pl.col("amount").alias("amount_minor"),
        )
    )
    return DepositOutcome(held.cast(DEPOSIT_SCHEMA), released.cast(DEPOSIT_SCHEMA), still_open.cast(DEPOSIT_SCHEMA))  # type: ignore[arg-type]


def adjustments_frame(inputs: RunInputs) -> pl.DataFrame:
    rows = [
        (
            a.adjustment_id,
            a.participant_id,
            a.amount_minor,
            a.reason,
            None if a.overpayment_class is None else a.overpayment_class.value,
            a.origin_period,
            a.incentive_id,
            a.position_id,
        )
        for a in inputs.adjustments
    ]
    schema = {k: v for k, v in ADJUSTMENT_SCHEMA.items() if k != "treatment"}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    treatment = (
        pl.when(pl.col("amount_minor") >= 0)
        .then(pl.lit(Treatment.PAID.value))
        .when(pl.col("overpayment_class") == OverpaymentClass.CALCULATION_ERROR.value)
        .then(pl.lit(Treatment.RECOVERABLE.value))
        .otherwise(pl.lit(Treatment.RECORDED.value))
    )
    return frame.with_columns(treatment=treatment).select(list(ADJUSTMENT_SCHEMA))


@dataclass
class PayOutcome:
    payments: pl.DataFrame
    balances: pl.DataFrame
    payroll: pl.DataFrame


def pay(
    ctx: EngineContext,
    inputs: RunInputs,
    payees: pl.DataFrame,  # participant_id, position_id, ref (Int32 day), draw, recoverable
    payouts: pl.DataFrame,
    held: pl.DataFrame,
    released: pl.DataFrame,
    adjustments: pl.DataFrame,
    prior_balances: pl.DataFrame,
) -> PayOutcome:
    """The pay step for every participant with a payee, a release, an adjustment or a balance."""
    start = day_number(ctx.period.start)
    latest = (
        payees.sort("ref", "position_id")
        .group_by("participant_id")
        .agg(pl.all().last())
        .select(
            "participant_id",
            pl.when(pl.col("ref") >= start).then(pl.col("draw")).otherwise(None).fill_null(0).alias("draw"),
            pl.when(pl.col("ref") >= start)
            .then(pl.col("recoverable"))
            .otherwise(False)
            .fill_null(False)
            .alias("recoverable"),
        )
    )

    def per(frame: pl.DataFrame, name: str, expr: pl.Expr) -> pl.DataFrame:
        return frame.group_by("participant_id").agg(expr.sum().alias(name))

    parts = [
        per(payouts, "earn", pl.col("amount_minor")),
        per(held, "held", pl.col("amount_minor")),
        per(released, "released", pl.col("amount_minor")),
        per(adjustments.filter(pl.col("treatment") == Treatment.PAID.value), "paid", pl.col("amount_minor")),
        per(adjustments.filter(pl.col("treatment") == Treatment.RECOVERABLE.value), "rec_new", -pl.col("amount_minor")),
        per(adjustments.filter(pl.col("treatment") == Treatment.RECORDED.value), "n_new", -pl.col("amount_minor")),
    ]
    nonzero = prior_balances.filter(pl.any_horizontal([pl.col(c) != 0 for c in list(BALANCE_SCHEMA)[1:]]))
    who = pl.concat(
        [latest.select("participant_id"), nonzero.select("participant_id")]
        + [p.select("participant_id") for p in parts[2:]]
    ).unique()
    frame = who.join(latest, on="participant_id", how="left").join(prior_balances, on="participant_id", how="left")
    for p in parts:
        frame = frame.join(p, on="participant_id", how="left")
    numbers = ["earn", "held", "released", "paid", "rec_new", "n_new", "draw", *list(BALANCE_SCHEMA)[1:]]
    frame = frame.with_columns([pl.col(c).fill_null(0).cast(I64) for c in numbers]).with_columns(
        pl.col("recoverable").fill_null(False)
    )
    col = pl.col
    frame = frame.with_columns(
        a0=col("earn") - col("held") + col("released") + col("paid") - col("negative_balance_minor")
    )
    frame = frame.with_columns(
        b_out=pl.max_horizontal(-col("a0"), pl.lit(0, I64)), a1=pl.max_horizontal(col("a0"), pl.lit(0, I64))
    )
    frame = frame.with_columns(
        draw_recovery=pl.min_horizontal(
            col("draw_balance_minor"), pl.max_horizontal(col("a1") - col("draw"), pl.lit(0, I64))
        )
    )
    frame = frame.with_columns(a2=col("a1") - col("draw_recovery"))
    frame = frame.with_columns(advance=pl.max_horizontal(col("draw") - col("a2"), pl.lit(0, I64)))
    frame = frame.with_columns(
        d_out=col("draw_balance_minor")
        - col("draw_recovery")
        + pl.when(col("recoverable")).then(col("advance")).otherwise(0),
        pay0=col("a2") + col("advance"),
        r_total=col("recoverable_overpayment_minor") + col("rec_new"),
    )
    pct = inputs.policy.max_recovery_percent
    limit = col("pay0") if pct is None else _percent(col("pay0"), int(pct * 10_000))
    frame = frame.with_columns(recovery=pl.min_horizontal(col("r_total"), pl.max_horizontal(limit, pl.lit(0, I64))))
    frame = frame.with_columns(payment=col("pay0") - col("recovery"))
    payments = frame.select(
        "participant_id",
        earnings_minor=col("earn"),
        deposits_held_minor=col("held"),
        deposits_released_minor=col("released"),
        adjustments_paid_minor=col("paid"),
        prior_negative_balance_minor=col("negative_balance_minor"),
        negative_balance_carried_minor=col("b_out"),
        draw_recovery_minor=col("draw_recovery"),
        draw_minor=col("advance"),
        overpayment_recovery_minor=col("recovery"),
        payment_minor=col("payment"),
    ).cast(PAYMENT_SCHEMA)  # type: ignore[arg-type]
    balances = frame.select(
        "participant_id",
        negative_balance_minor=col("b_out"),
        draw_balance_minor=col("d_out"),
        recoverable_overpayment_minor=col("r_total") - col("recovery"),
        recorded_overpayment_minor=col("recorded_overpayment_minor") + col("n_new"),
    ).cast(BALANCE_SCHEMA)  # type: ignore[arg-type]
    steps = [
        (EarningCode.ADJUSTMENT, col("paid")),
        (EarningCode.PRIOR_BALANCE, -col("negative_balance_minor")),
        (EarningCode.BALANCE_CARRIED_FORWARD, col("b_out")),
        (EarningCode.DRAW_RECOVERY, -col("draw_recovery")),
        (EarningCode.DRAW, col("advance")),
        (EarningCode.OVERPAYMENT_RECOVERY, -col("recovery")),
    ]
    lines = [
        payouts.select("participant_id", "earning_code", "amount_minor"),
        held.select("participant_id", "earning_code", -col("amount_minor")),
        released.select("participant_id", "earning_code", "amount_minor"),
        *[
            frame.select("participant_id", pl.lit(code.value).alias("earning_code"), expr.alias("amount_minor"))
            for code, expr in steps
        ],
    ]
    payroll = (
        pl.concat([x.cast(PAYROLL_SCHEMA) for x in lines])  # type: ignore[arg-type]
        .group_by("participant_id", "earning_code")
        .agg(col("amount_minor").sum())
        .filter(col("amount_minor") != 0)
    )
    return PayOutcome(payments, balances, payroll.cast(PAYROLL_SCHEMA))  # type: ignore[arg-type]
