"""What a calculation run reads: the period, the organisation, the plans, the transactions and the
state carried over from the previous period (balances, open deposits) plus this period's adjustments.

Carried state is passed as polars frames (`BALANCE_SCHEMA`, `DEPOSIT_SCHEMA`) because a run for
100,000 participants produces and consumes them whole; `balances_frame` and `deposits_frame` build
them from dataclasses for small cases and tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import polars as pl

from services.commissions.domain.org import Organisation
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import PlanBook
from services.commissions.domain.transactions import TRANSACTION_SCHEMA

BALANCE_SCHEMA: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "negative_balance_minor": pl.Int64(),  # negative results carried forward, owed by the participant
    "draw_balance_minor": pl.Int64(),  # recoverable draw advanced and not yet recovered
    "recoverable_overpayment_minor": pl.Int64(),  # calculation-error overpayments still to recover
    "recorded_overpayment_minor": pl.Int64(),  # other overpayments: recorded, never deducted automatically
}

DEPOSIT_SCHEMA: dict[str, pl.DataType] = {
    "deposit_key": pl.String(),  # participant|position|incentive|earned period
    "deposit_id": pl.String(),
    "participant_id": pl.String(),
    "position_id": pl.String(),
    "incentive_id": pl.String(),
    "earning_code": pl.String(),
    "earned_period": pl.String(),
    "release_period": pl.String(),  # null: released by condition only
    "amount_minor": pl.Int64(),
}


class OverpaymentClass(StrEnum):
    """Why money was overpaid. Russian Labour Code art. 137 allows deducting an overpayment from later
    wages only for a calculation (counting) error; anything else is recorded and needs the employee's
    consent or a court, so the engine never recovers it by itself."""

    CALCULATION_ERROR = "CALCULATION_ERROR"
    EMPLOYEE_FAULT = "EMPLOYEE_FAULT"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Adjustment:
    """Money added to (positive) or taken back from (negative, an overpayment) a participant's payment
    in the open period. Every adjustment carries a reason; a negative one must say what kind of
    overpayment it is."""

    adjustment_id: str
    participant_id: str
    amount_minor: int
    reason: str
    overpayment_class: OverpaymentClass | None = None
    origin_period: str | None = None  # the finalized period a prior-period adjustment corrects
    incentive_id: str | None = None
    position_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentPolicy:
    """Limits of the pay step. ``max_recovery_percent``: the share of a payment that may go to
    recovering calculation-error overpayments (Labour Code art. 138: 20%); None lifts the limit."""

    max_recovery_percent: Decimal | None = Decimal(20)


@dataclass(frozen=True, slots=True)
class ParticipantBalance:
    participant_id: str
    negative_balance_minor: int = 0
    draw_balance_minor: int = 0
    recoverable_overpayment_minor: int = 0
    recorded_overpayment_minor: int = 0


@dataclass(frozen=True, slots=True)
class Deposit:
    deposit_key: str
    deposit_id: str
    participant_id: str
    position_id: str
    incentive_id: str
    earning_code: str
    earned_period: str
    release_period: str | None
    amount_minor: int


def balances_frame(balances: Iterable[ParticipantBalance] = ()) -> pl.DataFrame:
    rows = [
        (
            b.participant_id,
            b.negative_balance_minor,
            b.draw_balance_minor,
            b.recoverable_overpayment_minor,
            b.recorded_overpayment_minor,
        )
        for b in balances
    ]
    return pl.DataFrame(rows, schema=BALANCE_SCHEMA, orient="row")


def deposits_frame(deposits: Iterable[Deposit] = ()) -> pl.DataFrame:
    rows = [
        (
            d.deposit_key,
            d.deposit_id,
            d.participant_id,
            d.position_id,
            d.incentive_id,
            d.earning_code,
            d.earned_period,
            d.release_period,
            d.amount_minor,
        )
        for d in deposits
    ]
    return pl.DataFrame(rows, schema=DEPOSIT_SCHEMA, orient="row")


@dataclass(frozen=True)
class RunInputs:
    """Everything one period's calculation depends on; the run is a pure function of it.

    ``transactions`` must hold every transaction booked from the start of the period's year through
    the period's end (earlier and later rows are ignored), in `TRANSACTION_SCHEMA`."""

    period: Period
    org: Organisation
    plans: PlanBook
    transactions: pl.DataFrame
    currency: str = "RUB"
    prior_balances: pl.DataFrame = field(default_factory=balances_frame)
    open_deposits: pl.DataFrame = field(default_factory=deposits_frame)
    adjustments: tuple[Adjustment, ...] = ()
    policy: PaymentPolicy = PaymentPolicy()
    finalized_periods: frozenset[Period] = frozenset()
    run_version: int = 1


def empty_transactions() -> pl.DataFrame:
    return pl.DataFrame(schema=TRANSACTION_SCHEMA)
