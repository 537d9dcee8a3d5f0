"""REST shapes of the commissions resources: the organisation, plans, adjustments, dashboards, team
views, statements, runs and transaction uploads.

Money is exact: `minor_units` (integer) with its ISO 4217 `currency`, plus `amount`, the same value as
decimal text in major units ("7800.00"). Ratios, rates and measurement values are decimal text too
(never floats); empty text means "not applicable", as in the contract. Money sent in is decimal text
in major units with its currency, never a float.

The commissions vocabulary keeps the upper-case names of the plan documents and of the service
("FULL", "RATE_TABLE", "CALCULATION_ERROR", "PAID"); only the period's state is lower-case ("open",
"finalized"), as everywhere else in the API."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from crm.commissions.v1 import commissions_pb2 as pb
from gateway.convert import enum_prefix, enum_to_str
from gateway.models.common import Day, Input, Output, Str

# ISO 4217 currencies whose minor unit is not 1/100 (the rest have two decimals).
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENTS = {code: n for codes, n in ((_EXPONENT_0, 0), (_EXPONENT_3, 3), (_EXPONENT_4, 4)) for code in codes.split()}
#: A period: a month as "YYYY-MM".
PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_DECIMAL = re.compile(r"-?\d{1,18}(\.\d{1,18})?")
#: The largest int64 minor amount (what the contract's Money carries).
_MAX_MINOR = 2**63 - 1
#: Length limits: ids and names are the gateway's; reasons and named participants the service's.
MAX_ID = 128
MAX_NAME = 200
MAX_REASON = 500
MAX_NAMED_PARTICIPANTS = 10_000


def exponent(currency: str) -> int:
    """Decimals of the currency's minor unit (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency.strip().upper(), 2)


def to_minor(amount: str, currency: str) -> int:
    """Decimal text in major units -> integer minor units; ValueError when it has more decimals than
    the currency's minor unit or does not fit the contract's 64-bit amount."""
    value = Decimal(amount).scaleb(exponent(currency))
    if value != value.to_integral_value():
        raise ValueError(f"{currency.strip().upper() or 'RUB'} has {exponent(currency)} decimals: {amount} is finer")
    if abs(value) > _MAX_MINOR:
        raise ValueError("the amount is too large")
    return int(value)


def _period_text(value: str) -> str:
    if not PERIOD.fullmatch(value):
        raise ValueError(f"{value!r} is not a period: use YYYY-MM, e.g. 2026-03")
    return value


def _decimal_text(value: str) -> str:
    if not _DECIMAL.fullmatch(value.strip()):
        raise ValueError(f'{value[:40]!r} is not decimal text such as "1250.50"')
    return value.strip()


#: An id of the organisation or of a plan: 1 to 128 characters.
Id = Annotated[Str, StringConstraints(min_length=1, max_length=MAX_ID)]
Name = Annotated[Str, StringConstraints(max_length=MAX_NAME)]
#: A period as "YYYY-MM".
PeriodText = Annotated[Str, AfterValidator(_period_text)]
#: A decimal number as text ("1250.50", "-300"), never a JSON number.
DecimalText = Annotated[Str, StringConstraints(max_length=40), AfterValidator(_decimal_text)]


def contract_enum(enum_type: Any) -> type[StrEnum]:
    """A str enum of the contract's values by their upper-case names without the prefix
    (OVERPAYMENT_CLASS_OTHER -> "OTHER"), so the model and the .proto cannot disagree."""
    prefix = enum_prefix(enum_type.DESCRIPTOR)
    names = [v.name.removeprefix(prefix) for v in enum_type.DESCRIPTOR.values if v.number != 0]
    return StrEnum(enum_type.DESCRIPTOR.name, {n: n for n in names}, module=__name__)  # type: ignore[return-value]


def contract_value(enum_type: Any, name: str) -> int:
    """ "OTHER" -> pb.OVERPAYMENT_CLASS_OTHER."""
    return int(enum_type.Value(enum_prefix(enum_type.DESCRIPTOR) + str(name)))


def contract_name(enum_type: Any, number: int) -> str | None:
    """pb.OVERPAYMENT_CLASS_OTHER -> "OTHER"; None for the unspecified value."""
    value = enum_type.DESCRIPTOR.values_by_number.get(number)
    if value is None or value.number == 0:
        return None
    return str(value.name).removeprefix(enum_prefix(enum_type.DESCRIPTOR))


OverpaymentClass = contract_enum(pb.OverpaymentClass)
RunMode = contract_enum(pb.RunMode)
ParticipantRole = contract_enum(pb.ParticipantRole)


class Money(Output):
    amount: str = Field(description='Decimal text in major units, e.g. "7800.00".')
    currency: str
    minor_units: int


def money(message: Any) -> Money:
    """A crm.common.v1.Money as REST money."""
    exp = exponent(message.currency_code)
    amount = Decimal(message.minor_units).scaleb(-exp)
    return Money(amount=f"{amount:.{exp}f}", currency=message.currency_code, minor_units=message.minor_units)


def _date(message: Any) -> date | None:
    return date(message.year, message.month, message.day) if message.year else None


def _text(value: str) -> str | None:
    return value or None


# -- organisation ----------------------------------------------------------------------------------


class TitleIn(Input):
    title_id: Id = Field(description='e.g. "REP", "MGR": plans apply to every position of a title.')
    name: Name = ""


class PositionVersionIn(Input):
    """One effective-dated version of a position: its title and manager position from valid_from."""

    position_id: Id
    title_id: Id
    manager_position_id: Annotated[Str, StringConstraints(max_length=MAX_ID)] = Field(
        "", description="The position above this one; empty for a top position."
    )
    valid_from: Day
    valid_to: Day | None = Field(None, description="Exclusive; null: open-ended.")


class ParticipantIn(Input):
    participant_id: Id = Field(description="For people, their party id (the subject of their tokens).")
    name: Name = ""
    role: ParticipantRole = Field(ParticipantRole("EMPLOYEE"), description="EMPLOYEE, AGENT or PARTNER.")  # type: ignore[assignment]


class AssignmentIn(Input):
    """A participant holding a position for a date range (a transfer is a new assignment)."""

    participant_id: Id
    position_id: Id
    valid_from: Day
    valid_to: Day | None = Field(None, description="Exclusive; null: open-ended.")


class OrganisationIn(Input):
    """Additions to the organisation; the whole resulting organisation is validated and nothing is
    written when any of it is wrong. A title or participant sent again replaces its name (and role);
    a position version or assignment sent again unchanged is a no-op."""

    titles: list[TitleIn] = Field(default_factory=list)
    positions: list[PositionVersionIn] = Field(default_factory=list)
    participants: list[ParticipantIn] = Field(default_factory=list)
    assignments: list[AssignmentIn] = Field(default_factory=list)


class OrganisationSaved(Output):
    """How many of each the request carried."""

    titles: int
    positions: int
    participants: int
    assignments: int


# -- plans -----------------------------------------------------------------------------------------

PLAN_EXAMPLE = {
    "plan_id": "rep",
    "name": "Representatives 2026",
    "variables": {"quota": "100000"},
    "credit_rules": [{"rule_id": "all"}],
    "measurements": [
        {"measurement_id": "revenue", "filter": {"credit_types": "DIRECT"}},
        {"measurement_id": "attainment", "kind": "FORMULA", "formula": "revenue / quota"},
    ],
    "incentives": [
        {
            "kind": "RATE_TABLE",
            "incentive_id": "commission",
            "base": "revenue",
            "basis": "ATTAINMENT",
            "quota": "quota",
            "tiers": [{"lower": "0", "upper": "1", "rate": "0.02"}, {"lower": "1", "rate": "0.04"}],
        }
    ],
}


class PlanIn(Input):
    plan: dict[str, Any] = Field(
        description="The plan document (credit rules, measurements, incentives, deposits, draw; see the "
        "commissions plan model). Its `version` is ignored: each save is the plan's next version. A "
        'problem names the offending part as "body.plan.<path>", e.g. body.plan.incentives[0].tiers[1].lower.',
        examples=[PLAN_EXAMPLE],
    )
    effective_period: PeriodText | None = Field(
        None,
        description='"YYYY-MM": the first period this version applies to; null: from the plan\'s beginning. '
        "A version effective in a finalized period does not rewrite it: the next run of an open period "
        "pays the difference as prior-period adjustments.",
    )


class PlanSaved(Output):
    plan_id: str
    version: int
    effective_period: str | None = Field(description="null: from the plan's beginning.")


class PlanVersion(Output):
    plan_id: str
    version: int
    effective_period: str | None = Field(description="The first period it applies to; null: from the beginning.")
    plan: dict[str, Any] = Field(description="The plan document as stored (with its version).")
    recorded_on: date | None


class PlanAssignmentIn(Input):
    """Exactly one of title_id and position_id (a position's plan wins over its title's)."""

    title_id: Annotated[Str, StringConstraints(max_length=MAX_ID)] | None = None
    position_id: Annotated[Str, StringConstraints(max_length=MAX_ID)] | None = None
    valid_from: Day
    valid_to: Day | None = Field(None, description="Exclusive; null: open-ended.")


class PlanAssignment(Output):
    assignment_id: int
    plan_id: str
    title_id: str | None
    position_id: str | None
    valid_from: date | None
    valid_to: date | None


class VariableOverrideIn(Input):
    """A plan variable's value for one title or one position (which wins) over a date range; exactly
    one of title_id and position_id."""

    variable: Id = Field(description='A variable the plan declares, e.g. "quota".')
    value: DecimalText = Field(description='Decimal text, e.g. "50000".')
    title_id: Annotated[Str, StringConstraints(max_length=MAX_ID)] | None = None
    position_id: Annotated[Str, StringConstraints(max_length=MAX_ID)] | None = None
    valid_from: Day
    valid_to: Day | None = Field(None, description="Exclusive; null: open-ended.")


class VariableOverride(Output):
    override_id: int
    plan_id: str
    variable: str
    value: str
    title_id: str | None
    position_id: str | None
    valid_from: date | None
    valid_to: date | None


class Plans(Output):
    versions: list[PlanVersion] = Field(description="Every stored version, oldest first per plan.")
    assignments: list[PlanAssignment]
    overrides: list[VariableOverride]

    @classmethod
    def of(cls, m: pb.ListPlansResponse) -> Plans:
        return cls(
            versions=[
                PlanVersion(
                    plan_id=v.plan_id,
                    version=v.version,
                    effective_period=_text(v.effective_period),
                    plan=json.loads(v.plan_json),
                    recorded_on=_date(v.recorded_on),
                )
                for v in m.versions
            ],
            assignments=[
                PlanAssignment(
                    assignment_id=a.assignment_id,
                    plan_id=a.plan_id,
                    title_id=_text(a.title_id),
                    position_id=_text(a.position_id),
                    valid_from=_date(a.valid_from),
                    valid_to=_date(a.valid_to),
                )
                for a in m.assignments
            ],
            overrides=[
                VariableOverride(
                    override_id=o.override_id,
                    plan_id=o.plan_id,
                    variable=o.variable,
                    value=o.value,
                    title_id=_text(o.title_id),
                    position_id=_text(o.position_id),
                    valid_from=_date(o.valid_from),
                    valid_to=_date(o.valid_to),
                )
                for o in m.overrides
            ],
        )


class AssignmentCreated(Output):
    assignment_id: int


class OverrideCreated(Output):
    override_id: int


# -- adjustments -----------------------------------------------------------------------------------


class AdjustmentIn(Input):
    participant_id: Id
    amount: DecimalText = Field(
        description="Decimal text in major units: positive is paid to the participant, negative is an "
        'overpayment taken back (never zero), e.g. "500.00" or "-1000".'
    )
    currency: Annotated[Str, StringConstraints(max_length=3)] = Field(
        "RUB", description="ISO 4217; the period's run currency."
    )
    reason: Annotated[Str, StringConstraints(max_length=MAX_REASON)] = Field(
        description="Why (shown on the statement); required, at most 500 characters."
    )
    overpayment_class: OverpaymentClass | None = Field(  # type: ignore[valid-type]
        None,
        description="Required for a negative amount: CALCULATION_ERROR (recovered from later payouts within "
        "the legal limit), EMPLOYEE_FAULT or OTHER (recorded, never deducted automatically).",
    )


class AdjustmentAdded(Output):
    adjustment_id: str
    period: str


class AdjustmentLine(Output):
    """An adjustment: entered by finance (manual) or derived by a run from a late change to a finalized
    period (prior-period, with its origin_period, position and incentive)."""

    adjustment_id: str
    participant_id: str
    amount: Money
    reason: str
    overpayment_class: str | None = Field(
        description="CALCULATION_ERROR, EMPLOYEE_FAULT or OTHER for an overpayment; null for money paid."
    )
    treatment: str | None = Field(
        description="PAID (positive), RECOVERABLE (a calculation-error overpayment, deducted within the 20% "
        "limit) or RECORDED (any other overpayment); null before a run treated it."
    )
    origin_period: str | None = Field(description="Prior-period adjustments: the finalized period corrected.")
    position_id: str | None
    incentive_id: str | None
    period: str = Field(description="The period that pays it.")


def adjustment_line(a: pb.AdjustmentLine) -> AdjustmentLine:
    return AdjustmentLine(
        adjustment_id=a.adjustment_id,
        participant_id=a.participant_id,
        amount=money(a.amount),
        reason=a.reason,
        overpayment_class=contract_name(pb.OverpaymentClass, a.overpayment_class),
        treatment=_text(a.treatment),
        origin_period=_text(a.origin_period),
        position_id=_text(a.position_id),
        incentive_id=_text(a.incentive_id),
        period=a.period,
    )


class Adjustments(Output):
    period: str
    adjustments: list[AdjustmentLine] = Field(description="Manual adjustments only (no run treatment yet).")


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


def kpi(k: pb.Kpi) -> Kpi:
    return Kpi(
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
            kpis=[kpi(k) for k in m.kpis],
        )


# -- team ------------------------------------------------------------------------------------------


class TeamMember(Output):
    participant_id: str
    name: str
    position_id: str
    title_id: str
    expected_payout: Money
    headline: Kpi | None = Field(description="The member's first KPI with an attainment; null when none.")


class Team(Output):
    manager_id: str
    period: str
    run_version: int
    members: list[TeamMember] = Field(description="Everyone below the manager's positions, at any depth.")
    team_expected_payout: Money

    @classmethod
    def of(cls, m: pb.GetTeamResponse) -> Team:
        return cls(
            manager_id=m.manager_id,
            period=m.period,
            run_version=m.run_version,
            members=[
                TeamMember(
                    participant_id=t.participant_id,
                    name=t.name,
                    position_id=t.position_id,
                    title_id=t.title_id,
                    expected_payout=money(t.expected_payout),
                    headline=kpi(t.headline) if t.HasField("headline") else None,
                )
                for t in m.members
            ],
            team_expected_payout=money(m.team_expected_payout),
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


def _earning_lines(lines: Any) -> list[EarningLine]:
    return [EarningLine(earning_code=p.earning_code, amount=money(p.amount)) for p in lines]


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
    adjustments: list[AdjustmentLine] = Field(
        description="Manual and prior-period adjustments paid, recovered or recorded in this period."
    )

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
            payroll=_earning_lines(m.payroll),
            adjustments=[adjustment_line(a) for a in m.adjustments],
        )


# -- runs ------------------------------------------------------------------------------------------


class RunIn(Input):
    currency: Str | None = Field(None, description="ISO 4217 calculation currency; default RUB.")
    mode: RunMode = Field(  # type: ignore[valid-type]
        RunMode("FULL"),  # type: ignore[assignment]
        description="FULL recomputes everyone. INCREMENTAL recomputes only the participants whose inputs "
        "changed since the period's latest run (plus participant_ids); it runs in full, saying why in "
        "`note`, when there is no earlier run or the organisation or plans changed.",
    )
    participant_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_NAMED_PARTICIPANTS,
        description="INCREMENTAL only: participants to recompute in any case (at most 10,000).",
    )


class Payment(Output):
    participant_id: str
    earnings: Money
    payment: Money


class Run(Output):
    period: str
    run_version: int
    kind: str = Field(description="FULL or INCREMENTAL: what the run actually was.")
    recomputed_participants: int = Field(description="INCREMENTAL: how many participants were recomputed.")
    note: str | None = Field(description="Why an incremental run ran in full; null otherwise.")
    payees: int
    total_payment: Money
    payments: list[Payment]
    prior_period_adjustments: list[AdjustmentLine] = Field(
        description="Differences found in finalized periods whose inputs changed after finalization, paid "
        "(or, for overpayments, recorded) in this period."
    )

    @classmethod
    def of(cls, m: pb.RunPeriodResponse) -> Run:
        return cls(
            period=m.period,
            run_version=m.run_version,
            kind=m.kind,
            recomputed_participants=m.recomputed_participants,
            note=_text(m.note),
            payees=m.payees,
            total_payment=money(m.total_payment),
            payments=[
                Payment(participant_id=p.participant_id, earnings=money(p.earnings), payment=money(p.payment))
                for p in m.payments
            ],
            prior_period_adjustments=[adjustment_line(a) for a in m.prior_period_adjustments],
        )


class RunSummary(Output):
    run_version: int
    kind: str = Field(description="FULL or INCREMENTAL.")
    recorded_at: datetime | None
    payees: int
    total_payment: Money
    finalized: bool = Field(description="Whether this is the period's finalized run.")


class Runs(Output):
    period: str
    state: str | None = Field(description="open or finalized.")
    runs: list[RunSummary] = Field(description="Oldest first.")

    @classmethod
    def of(cls, m: pb.ListRunsResponse) -> Runs:
        return cls(
            period=m.period,
            state=enum_to_str(pb.PeriodState.DESCRIPTOR, m.state),
            runs=[
                RunSummary(
                    run_version=r.run_version,
                    kind=r.kind,
                    recorded_at=datetime.fromisoformat(r.recorded_at) if r.recorded_at else None,
                    payees=r.payees,
                    total_payment=money(r.total_payment),
                    finalized=r.finalized,
                )
                for r in m.runs
            ],
        )


class RunTotals(Output):
    """What finance checks before finalizing a run."""

    period: str
    run_version: int
    kind: str
    state: str | None = Field(description="open or finalized.")
    payees: int
    participants_paid: int
    earnings_by_code: list[EarningLine]
    total_payment: Money
    deposits_held: Money
    deposits_released: Money
    draws_advanced: Money
    draws_recovered: Money
    overpayments_recovered: Money
    negative_balances_carried: Money
    recoverable_overpayments_outstanding: Money
    recorded_overpayments_outstanding: Money
    manual_adjustments: Money
    prior_period_adjustments: Money
    previous_run_version: int | None = Field(description="The run before this one in the period; null for the first.")
    change_in_total_payment: Money = Field(description="Against the previous run.")
    participants_changed: int = Field(description="Participants whose payment differs from the previous run.")

    @classmethod
    def of(cls, m: pb.GetRunTotalsResponse) -> RunTotals:
        amounts = (
            "total_payment",
            "deposits_held",
            "deposits_released",
            "draws_advanced",
            "draws_recovered",
            "overpayments_recovered",
            "negative_balances_carried",
            "recoverable_overpayments_outstanding",
            "recorded_overpayments_outstanding",
            "manual_adjustments",
            "prior_period_adjustments",
            "change_in_total_payment",
        )
        return cls(
            period=m.period,
            run_version=m.run_version,
            kind=m.kind,
            state=enum_to_str(pb.PeriodState.DESCRIPTOR, m.state),
            payees=m.payees,
            participants_paid=m.participants_paid,
            earnings_by_code=_earning_lines(m.earnings_by_code),
            previous_run_version=m.previous_run_version or None,
            participants_changed=m.participants_changed,
            **{name: money(getattr(m, name)) for name in amounts},
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
