"""Prior-period adjustments and the classification of overpayments.

A finalized period is never rewritten. When its inputs change later (a late transaction, a corrected
plan variable), the period is *recomputed* with today's data only to compare: the difference on every
incentive line becomes an `Adjustment` paid or taken back in the open period, with a reason.

Taking money back is an overpayment. Russian Labour Code art. 137 allows an employer to deduct an
overpayment from later wages without the employee's consent only when it came from a *calculation
(counting) error*; every other overpayment (a late reversal, an employee's fault, anything else) is
recorded but not deducted automatically. The pay step enforces this: only adjustments classified
``CALCULATION_ERROR`` reduce later payouts (within the art. 138 limit of `PaymentPolicy`); a negative
adjustment without a classification is refused.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from services.commissions.domain.engine import EngineContext, recompute
from services.commissions.domain.errors import RunInputError, Violation
from services.commissions.domain.inputs import Adjustment, OverpaymentClass, RunInputs
from services.commissions.domain.periods import Period
from services.commissions.domain.results import RunResult

__all__ = ["OverpaymentClass", "late_change_adjustments", "prior_period_adjustments", "recoverable"]


def recoverable(adjustment: Adjustment) -> bool:
    """Whether the engine may deduct this adjustment from later payouts (art. 137: counting errors only)."""
    return adjustment.amount_minor < 0 and adjustment.overpayment_class is OverpaymentClass.CALCULATION_ERROR


def prior_period_adjustments(
    finalized: RunResult,
    recomputed: RunResult,
    *,
    open_period: Period,
    reason: str,
    overpayment_class: OverpaymentClass | None = None,
    already_adjusted: Iterable[Adjustment] = (),
) -> tuple[Adjustment, ...]:
    """One adjustment per (participant, position, incentive) whose earning differs between what was
    finalized and what the same period gives today, less what earlier prior-period adjustments of the
    same origin already paid or took back (``already_adjusted``: those of finalized later periods).
    Ids are deterministic per origin, line and open period (a rerun of the open period yields the same
    ids). Negative differences need ``overpayment_class``: what kind of overpayment they are."""
    if finalized.period != recomputed.period:
        raise ValueError("the recomputation must be of the finalized period")
    if finalized.period >= open_period:
        raise ValueError(f"adjustments for {finalized.period} belong in a later period than {open_period}")
    if not reason.strip():
        raise RunInputError([Violation("reason", "every adjustment needs a reason")])
    key = ["participant_id", "position_id", "incentive_id"]
    origin = str(finalized.period)
    issued = [
        (a.participant_id, a.position_id, a.incentive_id, a.amount_minor)
        for a in already_adjusted
        if a.origin_period == origin
    ]
    paid_before = (
        pl.concat(
            [
                finalized.payouts.select(*key, "amount_minor"),
                pl.DataFrame(
                    issued,
                    schema={
                        "participant_id": pl.String,
                        "position_id": pl.String,
                        "incentive_id": pl.String,
                        "amount_minor": pl.Int64,
                    },
                    orient="row",
                ),
            ]
        )
        .group_by(key)
        .agg(pl.col("amount_minor").sum())
    )
    before = paid_before.select(*key, pl.col("amount_minor").alias("before"))
    after = recomputed.payouts.select(*key, pl.col("amount_minor").alias("after"))
    diff = (
        before.join(after, on=key, how="full", coalesce=True)
        .with_columns(delta=pl.col("after").fill_null(0) - pl.col("before").fill_null(0))
        .filter(pl.col("delta") != 0)
        .sort(key)
    )
    if diff.filter(pl.col("delta") < 0).height and overpayment_class is None:
        raise RunInputError(
            [Violation("overpayment_class", "the recomputation pays less than was paid: classify the overpayment")]
        )
    return tuple(
        Adjustment(
            adjustment_id=f"PPA:{origin}:{row['participant_id']}:{row['position_id']}:{row['incentive_id']}:{open_period}",
            participant_id=row["participant_id"],
            amount_minor=row["delta"],
            reason=reason,
            overpayment_class=overpayment_class if row["delta"] < 0 else None,
            origin_period=origin,
            incentive_id=row["incentive_id"],
            position_id=row["position_id"],
        )
        for row in diff.iter_rows(named=True)
    )


def late_change_adjustments(
    finalized_inputs_today: RunInputs,
    finalized: RunResult,
    *,
    open_period: Period,
    reason: str,
    overpayment_class: OverpaymentClass | None = None,
    context: EngineContext | None = None,
    already_adjusted: Iterable[Adjustment] = (),
) -> tuple[Adjustment, ...]:
    """Recompute a finalized period with today's data and turn the differences into adjustments for
    the open period (to be passed in that period's `RunInputs.adjustments`)."""
    recomputed = recompute(finalized_inputs_today, context)
    return prior_period_adjustments(
        finalized,
        recomputed,
        open_period=open_period,
        reason=reason,
        overpayment_class=overpayment_class,
        already_adjusted=already_adjusted,
    )
