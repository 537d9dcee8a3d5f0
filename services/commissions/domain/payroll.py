"""Payroll export: what each participant is paid in a period, by earning code, as rows and as CSV.

The rows of one participant sum to their payment (the pay step writes its own codes for draws,
balances and recoveries next to the incentives' codes), so payroll can post them as they are.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from services.commissions.domain.money import from_minor
from services.commissions.domain.results import RunResult

CSV_HEADER = ("period", "participant_id", "earning_code", "amount", "currency")


@dataclass(frozen=True, slots=True)
class PayrollRow:
    period: str
    participant_id: str
    earning_code: str
    amount: Decimal
    currency: str


def payroll_rows(result: RunResult) -> list[PayrollRow]:
    """Non-zero amounts by participant and earning code, sorted, in major units."""
    period = str(result.period)
    return [
        PayrollRow(
            period,
            r["participant_id"],
            r["earning_code"],
            from_minor(r["amount_minor"], result.currency),
            result.currency,
        )
        for r in result.frame("payroll").iter_rows(named=True)
    ]


def payroll_csv(result: RunResult) -> str:
    """The payroll file: one line per participant and earning code, amounts with the currency's decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in payroll_rows(result):
        writer.writerow((row.period, row.participant_id, row.earning_code, f"{row.amount}", row.currency))
    return out.getvalue()
