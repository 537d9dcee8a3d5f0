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
) -> tuple[Adjustment, ...]:
    """One adjustment per (participant, position, incentive) whose earning differs between what was
    finalized and what the same period gives today. Ids are deterministic (a retry yields the same
    adjustments). Negative differences need ``overpayment_class``: what kind of overpayment they are."""
    if finalized.period != recomputed.period:
        raise ValueError("the recomputation must be of the finalized period")
    if finalized.period >= open_period:
        raise ValueError(f"adjustments for {finalized.period} belong in a later period than {open_period}")
    if not reason.strip():
        raise RunInputError([Violation("reason", "every adjustment needs a reason")])
    key = ["participant_id", "position_id", "incentive_id"]
    before = finalized.payouts.select(*key, pl.col("amount_minor").alias("before"))
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
    origin = str(finalized.period)
    return tuple(
        Adjustment(
            adjustment_id=f"PPA:{origin}:{row['participant_id']}:{row['position_id']}:{row['incentive_id']}:v{recomputed.run_version}",
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
) -> tuple[Adjustment, ...]:
    """Recompute a finalized period with today's data and turn the differences into adjustments for
    the open period (to be passed in that period's `RunInputs.adjustments`)."""
    recomputed = recompute(finalized_inputs_today, context)
    return prior_period_adjustments(
        finalized, recomputed, open_period=open_period, reason=reason, overpayment_class=overpayment_class
    )
