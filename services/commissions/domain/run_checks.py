"""Checks every run makes before computing anything, shared by the engine and the oracle so that bad
input gets the same clear answer from both: plans in another currency, transactions the ingestion
step would have rejected, adjustments without a reason, runs on a finalized period."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from services.commissions.domain.errors import PeriodFinalizedError, RunInputError, Violation
from services.commissions.domain.inputs import OverpaymentClass, RunInputs
from services.commissions.domain.money import MAX_TRANSACTION_MINOR, is_currency
from services.commissions.domain.transactions import TRANSACTION_SCHEMA


def refuse_finalized(inputs: RunInputs) -> None:
    """A finalized period is never rewritten; a late change becomes a prior-period adjustment."""
    if inputs.period in inputs.finalized_periods:
        raise PeriodFinalizedError(
            f"period {inputs.period} is finalized; late changes go into the open period as prior-period adjustments"
        )


def check_run_inputs(
    inputs: RunInputs, transactions: pl.DataFrame | None = None, positions: pl.Series | None = None
) -> None:
    """Raise `RunInputError` with every violation found; nothing has been computed yet.
    ``transactions`` narrows the transaction checks to the rows a run reads (an incremental run);
    ``positions`` is the organisation's position ids as a Series, when the caller has it already."""
    out: list[Violation] = []
    if not is_currency(inputs.currency):
        out.append(Violation("currency", f"{inputs.currency!r} is not an ISO 4217 currency code"))
    for i, plan in enumerate(inputs.plans.plans):
        if plan.currency != inputs.currency:
            out.append(Violation(f"plans[{i}].currency", f"is {plan.currency}, the run is in {inputs.currency}"))
    tx = inputs.transactions if transactions is None else transactions
    missing = [c for c in TRANSACTION_SCHEMA if c not in tx.columns]
    if missing:
        out.append(Violation("transactions", f"missing columns: {', '.join(missing)}"))
    else:
        known = positions if positions is not None else pl.Series(sorted(inputs.org.position_ids), dtype=pl.String)
        if isinstance(tx.schema["seller_position_id"], pl.Enum | pl.Categorical):
            known = known.cast(tx.schema["seller_position_id"], strict=False)
        bad = tx.select(
            currency=(pl.col("currency") != inputs.currency).sum(),
            amount=(pl.col("amount_minor").abs() > MAX_TRANSACTION_MINOR).sum(),
            nulls=pl.any_horizontal(
                pl.col(
                    ["transaction_id", "booking_date", "credit_date", "amount_minor", "seller_position_id", "units"]
                ).is_null()
            ).sum(),
            duplicate_ids=pl.len() - pl.col("transaction_id").n_unique(),
            unknown_positions=(~pl.col("seller_position_id").is_in(known.implode())).sum(),
        ).row(0, named=True)
        reasons = {
            "currency": f"transactions not in {inputs.currency}",
            "amount": "transactions beyond the per-transaction limit",
            "nulls": "transactions with missing required fields",
            "duplicate_ids": "repeated transaction ids",
            "unknown_positions": "transactions with an unknown selling position",
        }
        for key, reason in reasons.items():
            if bad[key]:
                out.append(Violation(f"transactions.{key}", f"{bad[key]} {reason}"))
    pct = inputs.policy.max_recovery_percent
    if pct is not None and (not 0 <= pct <= 100 or pct != pct.quantize(Decimal("0.0001"))):
        out.append(Violation("policy.max_recovery_percent", "must be from 0 to 100 with at most 4 decimals"))
    participants = inputs.org.participant_ids
    seen: set[str] = set()
    for i, a in enumerate(inputs.adjustments):
        path = f"adjustments[{i}]"
        if a.adjustment_id in seen:
            out.append(Violation(f"{path}.adjustment_id", f"duplicate adjustment {a.adjustment_id!r}"))
        seen.add(a.adjustment_id)
        if a.participant_id not in participants:
            out.append(Violation(f"{path}.participant_id", f"unknown participant {a.participant_id!r}"))
        if not a.reason.strip():
            out.append(Violation(f"{path}.reason", "every adjustment needs a reason"))
        if a.amount_minor < 0 and a.overpayment_class is None:
            out.append(
                Violation(
                    f"{path}.overpayment_class",
                    "a negative adjustment is an overpayment and must be classified "
                    f"({', '.join(c.value for c in OverpaymentClass)})",
                )
            )
    if out:
        raise RunInputError(out)
