"""What a run produces: frames with fixed schemas, identical whether the vectorized engine or the
row-by-row oracle computed them (the property tests compare them frame by frame).

Fractional figures (measurement values, rates, attainment, multipliers) are raw `fixed_point` Nums:
Int64 holding the value x 10^6. Money is Int64 minor units of the run currency.

Traceability: every payout line names its plan, incentive, base measurement, the value the tier was
looked up on, the tier index (0-based), the rate, the multiplier and whether a floor or cap applied;
`measurements` holds the measurement values behind it; `credit_lines()` lists every credit (direct and
rolled-up) with its transaction, rule, split target and roll-up level, so a figure can be followed down
to the transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum

import polars as pl

from services.commissions.domain.inputs import BALANCE_SCHEMA, DEPOSIT_SCHEMA
from services.commissions.domain.periods import Period

S, I32, I64, B, D = pl.String(), pl.Int32(), pl.Int64(), pl.Boolean(), pl.Date()

CREDIT_SCHEMA: dict[str, pl.DataType] = {
    "transaction_id": S,
    "seller_position_id": S,
    "plan_id": S,  # the selling position's plan, whose rule produced the credit
    "rule_id": S,
    "target_index": I32,
    "level": I32,  # 0 = direct credit, n = rolled up n levels
    "position_id": S,
    "participant_id": S,  # null when the position was vacant on the credit date
    "booking_period": S,
    "credit_date": D,
    "amount_minor": I64,
    "units": I32,
}
PAYEE_SCHEMA: dict[str, pl.DataType] = {
    "participant_id": S,
    "position_id": S,
    "title_id": S,
    "plan_id": S,
    "plan_version": I32,
    "ref_date": D,
    "draw_minor": I64,  # the plan's draw for this payee (null: no draw)
    "draw_recoverable": B,
}
MEASUREMENT_SCHEMA: dict[str, pl.DataType] = {
    "participant_id": S,
    "position_id": S,
    "plan_id": S,
    "measurement_id": S,
    "value": I64,
    "prior_value": I64,  # through the previous period of the same window (cumulative incentives)
}
PAYOUT_SCHEMA: dict[str, pl.DataType] = {
    "participant_id": S,
    "position_id": S,
    "plan_id": S,
    "incentive_id": S,
    "kind": S,
    "earning_code": S,
    "base_measurement_id": S,
    "base_value": I64,
    "quota_value": I64,  # the quota formula's value (attainment = base / quota)
    "tier_value": I64,
    "tier_index": I32,
    "rate": I64,
    "multiplier": I64,
    "floored": B,
    "capped": B,
    "condition_met": B,
    "cumulative_minor": I64,
    "prior_cumulative_minor": I64,
    "amount_minor": I64,
}
PAYMENT_SCHEMA: dict[str, pl.DataType] = {
    "participant_id": S,
    "earnings_minor": I64,
    "deposits_held_minor": I64,
    "deposits_released_minor": I64,
    "adjustments_paid_minor": I64,
    "prior_negative_balance_minor": I64,
    "negative_balance_carried_minor": I64,
    "draw_recovery_minor": I64,
    "draw_minor": I64,
    "overpayment_recovery_minor": I64,
    "payment_minor": I64,
}
PAYROLL_SCHEMA: dict[str, pl.DataType] = {"participant_id": S, "earning_code": S, "amount_minor": I64}
ADJUSTMENT_SCHEMA: dict[str, pl.DataType] = {
    "adjustment_id": S,
    "participant_id": S,
    "amount_minor": I64,
    "reason": S,
    "overpayment_class": S,
    "treatment": S,
    "origin_period": S,
    "incentive_id": S,
    "position_id": S,
}


class Treatment(StrEnum):
    PAID = "PAID"  # a positive adjustment, paid with this period
    RECOVERABLE = "RECOVERABLE"  # a calculation-error overpayment, recovered from payouts within limits
    RECORDED = "RECORDED"  # any other overpayment: recorded, never deducted by the engine


class EarningCode(StrEnum):
    """Payroll codes of the pay step; incentives bring their own (COMMISSION, BONUS, SPIFF, ...)."""

    ADJUSTMENT = "ADJUSTMENT"
    PRIOR_BALANCE = "PRIOR_BALANCE"
    BALANCE_CARRIED_FORWARD = "BALANCE_CARRIED_FORWARD"
    DRAW = "DRAW"
    DRAW_RECOVERY = "DRAW_RECOVERY"
    OVERPAYMENT_RECOVERY = "OVERPAYMENT_RECOVERY"


KEYS: dict[str, tuple[str, ...]] = {
    "payees": ("participant_id", "position_id"),
    "measurements": ("participant_id", "position_id", "measurement_id"),
    "payouts": ("participant_id", "position_id", "incentive_id"),
    "deposits_held": ("deposit_key",),
    "deposits_released": ("deposit_key",),
    "open_deposits": ("deposit_key",),
    "payments": ("participant_id",),
    "balances": ("participant_id",),
    "payroll": ("participant_id", "earning_code"),
    "adjustments": ("adjustment_id",),
}
CREDIT_KEY = ("transaction_id", "rule_id", "target_index", "level")
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "payees": PAYEE_SCHEMA,
    "measurements": MEASUREMENT_SCHEMA,
    "payouts": PAYOUT_SCHEMA,
    "deposits_held": DEPOSIT_SCHEMA,
    "deposits_released": DEPOSIT_SCHEMA,
    "open_deposits": DEPOSIT_SCHEMA,
    "payments": PAYMENT_SCHEMA,
    "balances": BALANCE_SCHEMA,
    "payroll": PAYROLL_SCHEMA,
    "adjustments": ADJUSTMENT_SCHEMA,
}


def canonical(frame: pl.DataFrame, schema: dict[str, pl.DataType], key: tuple[str, ...]) -> pl.DataFrame:
    """The frame in its schema's column order and types, sorted by its key: comparable by equality."""
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()]).sort(list(key), nulls_last=True)


@dataclass(frozen=True)
class RunResult:
    """One run of one period. ``kind``: FULL, INCREMENTAL, REFERENCE (the oracle) or RECOMPUTE (a
    finalized period recomputed only to derive prior-period adjustments; never stored as a run)."""

    period: Period
    currency: str
    run_version: int
    kind: str
    payees: pl.DataFrame
    measurements: pl.DataFrame
    payouts: pl.DataFrame
    deposits_held: pl.DataFrame
    deposits_released: pl.DataFrame
    open_deposits: pl.DataFrame
    payments: pl.DataFrame
    balances: pl.DataFrame
    payroll: pl.DataFrame
    adjustments: pl.DataFrame
    credit_source: Callable[[Collection[str] | None], pl.DataFrame] = field(repr=False, compare=False)
    engine_state: object | None = field(default=None, repr=False, compare=False)  # see engine.EngineState

    def credit_lines(self, participant_ids: Collection[str] | None = None) -> pl.DataFrame:
        """The credits of the run (direct and rolled up) in `CREDIT_SCHEMA`, all of them or those
        attributed to the given participants; built on demand because a full run has tens of millions."""
        return canonical(self.credit_source(participant_ids), CREDIT_SCHEMA, CREDIT_KEY)

    def frame(self, name: str) -> pl.DataFrame:
        return canonical(getattr(self, name), SCHEMAS[name], KEYS[name])


def differences(a: RunResult, b: RunResult, *, credits: bool = True, limit: int = 5) -> list[str]:
    """Where two results disagree, frame by frame (empty when they agree to the kopeck)."""
    out: list[str] = []
    names = list(KEYS)
    for name in names:
        fa, fb = a.frame(name), b.frame(name)
        out += _diff(name, fa, fb, KEYS[name], limit)
    if credits:
        out += _diff("credits", a.credit_lines(), b.credit_lines(), CREDIT_KEY, limit)
    return out


def _diff(name: str, fa: pl.DataFrame, fb: pl.DataFrame, key: tuple[str, ...], limit: int) -> list[str]:
    if fa.equals(fb, null_equal=True):
        return []
    out = [f"{name}: {fa.height} rows vs {fb.height} rows"]
    only_a = fa.join(fb, on=list(fa.columns), how="anti", nulls_equal=True)
    only_b = fb.join(fa, on=list(fb.columns), how="anti", nulls_equal=True)
    for row in only_a.head(limit).iter_rows(named=True):
        out.append(f"  only in first:  {row}")
    for row in only_b.head(limit).iter_rows(named=True):
        out.append(f"  only in second: {row}")
    return out
