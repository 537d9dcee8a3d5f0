"""REST shapes of the commissions resources: dashboards, statements, runs and transaction uploads.

Money is exact: `minor_units` (integer) with its ISO 4217 `currency`, plus `amount`, the same value as
decimal text in major units ("7800.00"). Ratios, rates and measurement values are decimal text too
(never floats); empty text means "not applicable", as in the contract."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field

from crm.commissions.v1 import commissions_pb2 as pb
from gateway.convert import enum_to_str
from gateway.models.common import Input, Output, Str

# ISO 4217 currencies whose minor unit is not 1/100 (the rest have two decimals).
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENTS = {code: n for codes, n in ((_EXPONENT_0, 0), (_EXPONENT_3, 3), (_EXPONENT_4, 4)) for code in codes.split()}


class Money(Output):
    amount: str = Field(description='Decimal text in major units, e.g. "7800.00".')
    currency: str
    minor_units: int


def money(message: Any) -> Money:
    """A crm.common.v1.Money as REST money."""
    exponent = _EXPONENTS.get(message.currency_code, 2)
    amount = Decimal(message.minor_units).scaleb(-exponent)
    return Money(amount=f"{amount:.{exponent}f}", currency=message.currency_code, minor_units=message.minor_units)


def _date(message: Any) -> date | None:
    return date(message.year, message.month, message.day) if message.year else None


# -- dashboard -------------------------------------------------------------------------------------


class Kpi(Output):
    position_id: str
    plan_id: str
    measurement_id: str
    value: str
    quota: str
    attainment: str
    to_quota: str = Field(description="What is still missing to reach the quota (0 once reached).")
    tier_index: int | None = Field(description="0-based tier reached; null when no tier applies.")
    tier_rate: str
    next_tier_rate: str
    to_next_tier: str
    rank: int | None = Field(description="1 = best among peers of the same title, plan and measurement.")
    peers: int


class Dashboard(Output):
    participant_id: str
    period: str
    run_version: int
    expected_payout: Money
    earnings: Money
    kpis: list[Kpi]

    @classmethod
    def of(cls, m: pb.GetDashboardResponse) -> Dashboard:
        return cls(
            participant_id=m.participant_id,
            period=m.period,
            run_version=m.run_version,
            expected_payout=money(m.expected_payout),
            earnings=money(m.earnings),
            kpis=[
                Kpi(
                    position_id=k.position_id,
                    plan_id=k.plan_id,
                    measurement_id=k.measurement_id,
                    value=k.value,
                    quota=k.quota,
                    attainment=k.attainment,
                    to_quota=k.to_quota,
                    tier_index=None if k.tier_index < 0 else k.tier_index,
                    tier_rate=k.tier_rate,
                    next_tier_rate=k.next_tier_rate,
                    to_next_tier=k.to_next_tier,
                    rank=k.rank or None,
                    peers=k.peers,
                )
                for k in m.kpis
            ],
        )


# -- statement -------------------------------------------------------------------------------------


class CreditTrace(Output):
    transaction_id: str
    rule_id: str
    level: int = Field(description="0: direct credit; n: rolled up n levels.")
    amount: Money
    credit_date: date | None


class MeasurementFigure(Output):
    position_id: str
    measurement_id: str
    value: str
    credits: list[CreditTrace]


class StatementLine(Output):
    position_id: str
    plan_id: str
    incentive_id: str
    kind: str
    earning_code: str
    base_measurement_id: str
    base_value: str
    quota: str
    tier_value: str
    tier_index: int | None
    rate: str
    multiplier: str
    floored: bool
    capped: bool
    amount: Money


class EarningLine(Output):
    earning_code: str
    amount: Money


class Statement(Output):
    participant_id: str
    period: str
    run_version: int
    state: str | None = Field(description="open or finalized.")
    measurements: list[MeasurementFigure]
    lines: list[StatementLine]
    earnings: Money
    payment: Money
    payroll: list[EarningLine]

    @classmethod
    def of(cls, m: pb.GetStatementResponse) -> Statement:
        return cls(
            participant_id=m.participant_id,
            period=m.period,
            run_version=m.run_version,
            state=enum_to_str(pb.PeriodState.DESCRIPTOR, m.state),
            measurements=[
                MeasurementFigure(
                    position_id=f.position_id,
                    measurement_id=f.measurement_id,
                    value=f.value,
                    credits=[
                        CreditTrace(
                            transaction_id=c.transaction_id,
                            rule_id=c.rule_id,
                            level=c.level,
                            amount=money(c.amount),
                            credit_date=_date(c.credit_date),
                        )
                        for c in f.credits
                    ],
                )
                for f in m.measurements
            ],
            lines=[
                StatementLine(
                    position_id=line.position_id,
                    plan_id=line.plan_id,
                    incentive_id=line.incentive_id,
                    kind=line.kind,
                    earning_code=line.earning_code,
                    base_measurement_id=line.base_measurement_id,
                    base_value=line.base_value,
                    quota=line.quota,
                    tier_value=line.tier_value,
                    tier_index=None if line.tier_index < 0 else line.tier_index,
                    rate=line.rate,
                    multiplier=line.multiplier,
                    floored=line.floored,
                    capped=line.capped,
                    amount=money(line.amount),
                )
                for line in m.lines
            ],
            earnings=money(m.earnings),
            payment=money(m.payment),
            payroll=[EarningLine(earning_code=p.earning_code, amount=money(p.amount)) for p in m.payroll],
        )


# -- runs ------------------------------------------------------------------------------------------


class RunIn(Input):
    currency: Str | None = Field(None, description="ISO 4217 calculation currency; default RUB.")


class Payment(Output):
    participant_id: str
    earnings: Money
    payment: Money


class Run(Output):
    period: str
    run_version: int
    payees: int
    total_payment: Money
    payments: list[Payment]

    @classmethod
    def of(cls, m: pb.RunPeriodResponse) -> Run:
        return cls(
            period=m.period,
            run_version=m.run_version,
            payees=m.payees,
            total_payment=money(m.total_payment),
            payments=[
                Payment(participant_id=p.participant_id, earnings=money(p.earnings), payment=money(p.payment))
                for p in m.payments
            ],
        )


class Finalized(Output):
    period: str
    run_version: int
    state: str | None


# -- transactions ----------------------------------------------------------------------------------


class RejectedRow(Output):
    line: int = Field(description="The row's line in the CSV file (the header is line 1).")
    transaction_id: str
    field: str = Field(description='The CSV column that is wrong, e.g. "position_id".')
    reason: str


class IngestResult(Output):
    rows: int = Field(description="Data rows received.")
    accepted: int
    duplicates: int = Field(description="Rows already stored with the same content (a harmless resend).")
    rejected: list[RejectedRow]
