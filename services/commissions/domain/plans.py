"""Compensation plans as versioned, validated data, in the vocabulary of SAP Commissions and Xactly.

A `Plan` is built from components:

* **credit rules** decide which transactions credit which positions: a condition on the transaction's
  classifiers (product, territory, channel, customer segment; every listed classifier must match one of
  its values), split targets (the selling position or a fixed position, with percentages summing to
  100) and how many levels of managers receive the same amount as an *indirect* credit (roll-up). Every
  matching rule credits; rules are evaluated with the plan of the *selling* position on the credit date.
* **measurements** aggregate the credits of a payee: ``SUM`` of credited amounts (in major units),
  ``COUNT`` of credited units (a sale +1, the reversal that empties it -1), over the period, the
  quarter to date or the year to date; ``FORMULA`` measurements combine other measurements and plan
  variables (ratios, attainment) in the expression language.
* **incentives** turn measurements into earnings:

  - ``RATE_TABLE``: a commission on a base measurement with a tier table keyed on attainment
    (base / quota) or on the base amount itself. ``STEPPED`` (Xactly's "retroactive") pays the *whole*
    base at the rate of the tier reached; ``GRADUATED`` (incremental, marginal) pays *each slice* of
    the base at its own tier's rate, the slice bounds being the tier bounds (x quota for attainment).
    Tiers are half-open ``[lower, upper)``, contiguous from 0, the last open-ended; a value below 0
    falls into the first tier. Optional ``multipliers`` (a second stepped table on the same key) are
    accelerators (> 1) and decelerators (< 1); then the ``floor`` and the ``cap`` are applied, in
    that order.
  - ``THRESHOLD_BONUS``: pays ``amount`` when ``condition`` holds.
  - ``PER_CREDIT``: a rate on every matching credit (optionally by classifier value) plus an amount per
    unit, each credit rounded half-even to the minor unit, then summed.
  - ``SPIFF``: a one-off ``amount`` paid in one named period when ``condition`` holds.
  - ``FORMULA``: any number formula, with optional floor and cap.

  An incentive with a ``payout_window`` of QTD or YTD is *cumulative*: what it earns in a period is its
  value through this period (rounded to the minor unit) minus its value through the previous period of
  the same window, both recomputed from credits; so a tier reached in March re-rates January too.
* **deposits** hold a percentage of some incentives' positive earnings and release each holding after
  N periods or when a condition on the payee's current measurements holds.
* a **draw**: a guaranteed minimum payment per period, recoverable (an advance repaid from later
  earnings above the draw) or not.

Plan **variables** (quota, target incentive, rates) have defaults on the plan and may be overridden per
title or per position for date ranges (position beats title beats plan). `validate_plan` reports every
violation with its field path; `PlanBook` ties plans to titles and positions over time.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.errors import ExpressionError, PlanValidationError, Violation
from services.commissions.domain.expressions import NAME_PATTERN, RESERVED, Formula, Type
from services.commissions.domain.money import exponent, is_currency
from services.commissions.domain.periods import Period, Window, overlaps

SELLER = "SELLER"
EARNING_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
MAX_PER_CREDIT_RATE = Decimal(10)


class Classifier(StrEnum):
    PRODUCT = "product"
    TERRITORY = "territory"
    CHANNEL = "channel"
    SEGMENT = "segment"


class CreditType(StrEnum):
    DIRECT = "DIRECT"
    INDIRECT = "INDIRECT"
    ALL = "ALL"


class MeasurementKind(StrEnum):
    SUM = "SUM"
    COUNT = "COUNT"
    FORMULA = "FORMULA"


class TierMethod(StrEnum):
    STEPPED = "STEPPED"
    GRADUATED = "GRADUATED"


class TierBasis(StrEnum):
    ATTAINMENT = "ATTAINMENT"
    AMOUNT = "AMOUNT"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Condition = dict[Classifier, tuple[str, ...]]


class SplitTarget(_Model):
    """Who gets a share of a matching transaction: the selling position or a fixed one."""

    position: str = SELLER
    percent: Decimal = Decimal(100)


class CreditRule(_Model):
    rule_id: str
    condition: Condition = Field(default_factory=dict)
    targets: tuple[SplitTarget, ...] = (SplitTarget(),)
    rollup_levels: int | None = 0  # None: every manager up to the top


class CreditFilter(_Model):
    """Which credits a measurement or per-credit commission looks at: direct (level 0), indirect
    (rolled up) or all; only those produced by ``rule_ids`` *of the same plan* when set (a manager's
    plan cannot name a representative plan's rules); only transactions matching ``condition``."""

    credit_types: CreditType = CreditType.ALL
    rule_ids: tuple[str, ...] | None = None
    condition: Condition = Field(default_factory=dict)


class Measurement(_Model):
    measurement_id: str
    kind: MeasurementKind = MeasurementKind.SUM
    window: Window = Window.PERIOD  # SUM and COUNT only; a FORMULA takes the window of what it reads
    filter: CreditFilter = Field(default_factory=CreditFilter)
    formula: str | None = None


class Tier(_Model):
    lower: Decimal
    upper: Decimal | None = None
    rate: Decimal


class _IncentiveBase(_Model):
    incentive_id: str
    earning_code: str = "COMMISSION"
    payout_window: Window = Window.PERIOD


class RateTableIncentive(_IncentiveBase):
    kind: Literal["RATE_TABLE"] = "RATE_TABLE"
    base: str
    basis: TierBasis = TierBasis.AMOUNT
    quota: str | None = None
    method: TierMethod = TierMethod.STEPPED
    tiers: tuple[Tier, ...]
    multipliers: tuple[Tier, ...] = ()
    cap: str | None = None
    floor: str | None = None


class ThresholdBonus(_IncentiveBase):
    kind: Literal["THRESHOLD_BONUS"] = "THRESHOLD_BONUS"
    earning_code: str = "BONUS"
    condition: str
    amount: str


class PerCreditCommission(_IncentiveBase):
    kind: Literal["PER_CREDIT"] = "PER_CREDIT"
    filter: CreditFilter = Field(default_factory=CreditFilter)
    rate: Decimal = Decimal(0)
    rates_by: Classifier | None = None
    rate_table: dict[str, Decimal] = Field(default_factory=dict)
    amount_per_unit: Decimal = Decimal(0)


class Spiff(_IncentiveBase):
    kind: Literal["SPIFF"] = "SPIFF"
    earning_code: str = "SPIFF"
    period: str
    condition: str = "true"
    amount: str


class FormulaIncentive(_IncentiveBase):
    kind: Literal["FORMULA"] = "FORMULA"
    formula: str
    cap: str | None = None
    floor: str | None = None


Incentive = Annotated[
    RateTableIncentive | ThresholdBonus | PerCreditCommission | Spiff | FormulaIncentive,
    Field(discriminator="kind"),
]


class DepositRule(_Model):
    deposit_id: str
    incentive_ids: tuple[str, ...]
    hold_percent: Decimal
    release_after_periods: int | None = None
    release_condition: str | None = None


class Draw(_Model):
    amount: str
    recoverable: bool = True


class Plan(_Model):
    plan_id: str
    version: int = 1
    name: str = ""
    currency: str = "RUB"
    variables: dict[str, Decimal] = Field(default_factory=dict)
    credit_rules: tuple[CreditRule, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    incentives: tuple[Incentive, ...] = ()
    deposits: tuple[DepositRule, ...] = ()
    draw: Draw | None = None


@dataclass(frozen=True, slots=True)
class PlanAssignment:
    """A plan applies to every position of a title, or to one position (which wins), for a range."""

    plan_id: str
    valid_from: date
    valid_to: date | None = None
    title_id: str | None = None
    position_id: str | None = None


@dataclass(frozen=True, slots=True)
class VariableOverride:
    """A plan variable's value for one title or one position (which wins) for a range."""

    plan_id: str
    variable: str
    value: Decimal
    valid_from: date
    valid_to: date | None = None
    title_id: str | None = None
    position_id: str | None = None


# --------------------------------------------------------------------------- parsing and validation


def parse_plan(data: Mapping[str, Any]) -> Plan:
    """A plan from JSON-like data, validated; shape errors and rule violations alike become
    `PlanValidationError` with dotted field paths."""
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanValidationError(
            [Violation(_pydantic_path(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        ) from None
    return ensure_valid_plan(plan)


def _pydantic_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("RATE_TABLE", "THRESHOLD_BONUS", "PER_CREDIT", "SPIFF", "FORMULA"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def ensure_valid_plan(plan: Plan, known_positions: Collection[str] | None = None) -> Plan:
    violations = validate_plan(plan, known_positions)
    if violations:
        raise PlanValidationError(violations)
    return plan


def _decimal_places(value: Decimal) -> int:
    exp = value.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 99


def _num_ok(value: Decimal, path: str, out: list[Violation], *, minimum: Decimal | None = None) -> bool:
    try:
        fp.num(value)
    except (ValueError, ArithmeticError) as exc:
        out.append(Violation(path, str(exc)))
        return False
    if minimum is not None and value < minimum:
        out.append(Violation(path, f"must be at least {minimum}"))
        return False
    return True


def _condition_ok(condition: Condition, path: str, out: list[Violation]) -> None:
    for key, values in condition.items():
        if not values:
            out.append(Violation(f"{path}.{key}", "must list at least one value"))


class _Checker:
    """Collects the violations of one plan; formulas are parsed and type-checked against its names."""

    def __init__(self, plan: Plan, known_positions: Collection[str] | None) -> None:
        self.plan = plan
        self.known_positions = known_positions
        self.out: list[Violation] = []
        self.types: dict[str, Type] = {}
        self.formulas: dict[str, Formula] = {}
        self.windows: dict[str, Window | None] = {}

    def formula(self, text: str | None, path: str, expected: Type) -> Formula | None:
        if text is None:
            return None
        try:
            f = Formula.parse(text)
        except ExpressionError as exc:
            self.out.append(Violation(path, f"bad formula: {exc}"))
            return None
        errors = f.check(self.types, expected)
        for e in errors:
            self.out.append(Violation(path, f"bad formula: {e}"))
        return None if errors else f

    def unique(self, ids: list[str], path: str, what: str) -> None:
        seen: set[str] = set()
        for i, x in enumerate(ids):
            if not x:
                self.out.append(Violation(f"{path}[{i}]", f"{what} must not be empty"))
            elif x in seen:
                self.out.append(Violation(f"{path}[{i}]", f"duplicate {what} {x!r}"))
            seen.add(x)

    def run(self) -> list[Violation]:
        p = self.plan
        if not p.plan_id:
            self.out.append(Violation("plan_id", "must not be empty"))
        if p.version < 1:
            self.out.append(Violation("version", "must be 1 or more"))
        if not is_currency(p.currency):
            self.out.append(Violation("currency", f"{p.currency!r} is not an ISO 4217 currency code"))
        for name, value in p.variables.items():
            if not NAME_PATTERN.fullmatch(name) or name in RESERVED:
                self.out.append(Violation(f"variables.{name}", "must be a name (letters, digits, _) and not a keyword"))
            _num_ok(value, f"variables.{name}", self.out)
            self.types[name] = Type.NUMBER
        self.rules()
        self.measurements()
        self.incentives()
        self.deposits()
        if p.draw is not None:
            f = self.formula(p.draw.amount, "draw.amount", Type.NUMBER)
            if f is not None:
                self.formulas["draw.amount"] = f
        return self.out

    def rules(self) -> None:
        ids = [r.rule_id for r in self.plan.credit_rules]
        self.unique(ids, "credit_rules", "rule id")
        for i, r in enumerate(self.plan.credit_rules):
            path = f"credit_rules[{i}]"
            _condition_ok(r.condition, f"{path}.condition", self.out)
            if not r.targets:
                self.out.append(Violation(f"{path}.targets", "must have at least one target"))
            total = Decimal(0)
            seen: set[str] = set()
            for j, t in enumerate(r.targets):
                tp = f"{path}.targets[{j}]"
                if t.percent <= 0 or t.percent > 100 or _decimal_places(t.percent) > 4:
                    self.out.append(Violation(f"{tp}.percent", "must be above 0, at most 100, with at most 4 decimals"))
                total += t.percent
                if t.position in seen:
                    self.out.append(Violation(f"{tp}.position", f"{t.position!r} is already a target of this rule"))
                seen.add(t.position)
                known = self.known_positions
                if t.position != SELLER and known is not None and t.position not in known:
                    self.out.append(Violation(f"{tp}.position", f"unknown position {t.position!r}"))
            if r.targets and total != 100:
                self.out.append(Violation(f"{path}.targets", f"split percentages sum to {total}, not 100"))
            if r.rollup_levels is not None and r.rollup_levels < 0:
                self.out.append(Violation(f"{path}.rollup_levels", "must be 0 or more (or null for all levels)"))

    def credit_filter(self, flt: CreditFilter, path: str) -> None:
        rules = {r.rule_id for r in self.plan.credit_rules}
        for j, rid in enumerate(flt.rule_ids or ()):
            if rid not in rules:
                self.out.append(Violation(f"{path}.rule_ids[{j}]", f"unknown credit rule {rid!r}"))
        _condition_ok(flt.condition, f"{path}.condition", self.out)

    def measurements(self) -> None:
        ms = self.plan.measurements
        self.unique([m.measurement_id for m in ms], "measurements", "measurement id")
        for i, m in enumerate(ms):
            if not NAME_PATTERN.fullmatch(m.measurement_id) or m.measurement_id in RESERVED:
                self.out.append(Violation(f"measurements[{i}].measurement_id", "must be a name and not a keyword"))
            if m.measurement_id in self.plan.variables:
                self.out.append(Violation(f"measurements[{i}].measurement_id", "is also a variable name"))
            self.types[m.measurement_id] = Type.NUMBER
        formulas: dict[str, tuple[int, Formula]] = {}
        for i, m in enumerate(ms):
            path = f"measurements[{i}]"
            if m.kind is MeasurementKind.FORMULA:
                if m.formula is None:
                    self.out.append(Violation(f"{path}.formula", "a FORMULA measurement needs a formula"))
                    continue
                f = self.formula(m.formula, f"{path}.formula", Type.NUMBER)
                if f is not None:
                    formulas[m.measurement_id] = (i, f)
                    self.formulas[f"measurements.{m.measurement_id}"] = f
            else:
                if m.formula is not None:
                    self.out.append(Violation(f"{path}.formula", f"a {m.kind} measurement has no formula"))
                self.credit_filter(m.filter, f"{path}.filter")
                self.windows[m.measurement_id] = m.window
        # Circular references between formula measurements, then each formula's window.
        order = _topological(
            {k: [n for n in f.names if n in formulas] for k, (_, f) in formulas.items()},
        )
        if order is None:
            cycle = _cycle({k: [n for n in f.names if n in formulas] for k, (_, f) in formulas.items()})
            idx = formulas[cycle[0]][0]
            self.out.append(Violation(f"measurements[{idx}].formula", f"circular reference: {' -> '.join(cycle)}"))
            return
        for mid in order:
            idx, f = formulas[mid]
            windows = {self.windows[n] for n in f.names if n in self.windows} - {None}
            if len(windows) > 1:
                self.out.append(
                    Violation(
                        f"measurements[{idx}].formula",
                        f"reads measurements of different windows: {', '.join(sorted(w.value for w in windows))}",
                    )
                )
            self.windows[mid] = windows.pop() if len(windows) == 1 else None

    def tiers(self, tiers: tuple[Tier, ...], path: str, what: str) -> None:
        if not tiers:
            self.out.append(Violation(path, "needs at least one tier"))
            return
        if tiers[0].lower != 0:
            self.out.append(Violation(f"{path}[0].lower", "the first tier must start at 0"))
        for j, t in enumerate(tiers):
            tp = f"{path}[{j}]"
            _num_ok(t.lower, f"{tp}.lower", self.out)
            _num_ok(t.rate, f"{tp}.rate", self.out, minimum=Decimal(0))
            if t.upper is None:
                if j != len(tiers) - 1:
                    self.out.append(Violation(f"{tp}.upper", "only the last tier may be open-ended"))
                continue
            _num_ok(t.upper, f"{tp}.upper", self.out)
            if t.upper <= t.lower:
                self.out.append(Violation(f"{tp}.upper", "must be above lower"))
            if j == len(tiers) - 1:
                self.out.append(Violation(f"{tp}.upper", f"the last {what} must be open-ended (upper: null)"))
            else:
                nxt = tiers[j + 1].lower
                if t.upper > nxt:
                    self.out.append(Violation(f"{tp}.upper", f"overlaps {what} {j + 1} which starts at {nxt}"))
                elif t.upper < nxt:
                    self.out.append(Violation(f"{tp}.upper", f"leaves a gap before {what} {j + 1} at {nxt}"))

    def reads_windows(self, formulas: list[Formula | None], names: set[str]) -> set[Window]:
        out: set[Window] = {w for n in names if (w := self.windows.get(n)) is not None}
        for f in formulas:
            if f is not None:
                out |= {w for n in f.names if (w := self.windows.get(n)) is not None}
        return out

    def incentives(self) -> None:
        p = self.plan
        self.unique([x.incentive_id for x in p.incentives], "incentives", "incentive id")
        measures = {m.measurement_id for m in p.measurements}
        for i, inc in enumerate(p.incentives):
            path = f"incentives[{i}]"
            if not EARNING_CODE.fullmatch(inc.earning_code):
                self.out.append(Violation(f"{path}.earning_code", "must be A-Z, 0-9 and _, starting with a letter"))
            reads: list[Formula | None] = []
            extra: set[str] = set()
            key = f"incentives.{inc.incentive_id}"
            if isinstance(inc, RateTableIncentive):
                if inc.base not in measures:
                    self.out.append(Violation(f"{path}.base", f"unknown measurement {inc.base!r}"))
                extra.add(inc.base)
                if inc.basis is TierBasis.ATTAINMENT and inc.quota is None:
                    self.out.append(Violation(f"{path}.quota", "tiers on attainment need a quota formula"))
                for part in ("quota", "cap", "floor"):
                    f = self.formula(getattr(inc, part), f"{path}.{part}", Type.NUMBER)
                    if f is not None:
                        self.formulas[f"{key}.{part}"] = f
                    reads.append(f)
                self.tiers(inc.tiers, f"{path}.tiers", "tier")
                if inc.multipliers:
                    self.tiers(inc.multipliers, f"{path}.multipliers", "multiplier tier")
            elif isinstance(inc, ThresholdBonus | Spiff):
                for part, t in (("condition", Type.BOOLEAN), ("amount", Type.NUMBER)):
                    f = self.formula(getattr(inc, part), f"{path}.{part}", t)
                    if f is not None:
                        self.formulas[f"{key}.{part}"] = f
                    reads.append(f)
                if isinstance(inc, Spiff):
                    try:
                        Period.parse(inc.period)
                    except ValueError as exc:
                        self.out.append(Violation(f"{path}.period", str(exc)))
                    if inc.payout_window is not Window.PERIOD:
                        self.out.append(Violation(f"{path}.payout_window", "a SPIFF is paid once, in its period"))
                    continue
            elif isinstance(inc, PerCreditCommission):
                self.per_credit(inc, path)
                continue
            else:
                for part, t in (("formula", Type.NUMBER), ("cap", Type.NUMBER), ("floor", Type.NUMBER)):
                    f = self.formula(getattr(inc, part), f"{path}.{part}", t)
                    if f is not None:
                        self.formulas[f"{key}.{part}"] = f
                    reads.append(f)
            bad = self.reads_windows(reads, extra) - {inc.payout_window}
            if bad:
                self.out.append(
                    Violation(
                        f"{path}.payout_window",
                        f"is {inc.payout_window} but the incentive reads {', '.join(sorted(bad))} measurements",
                    )
                )

    def per_credit(self, inc: PerCreditCommission, path: str) -> None:
        self.credit_filter(inc.filter, f"{path}.filter")
        if inc.payout_window is not Window.PERIOD:
            self.out.append(Violation(f"{path}.payout_window", "per-credit commissions are paid per period"))
        _num_ok(inc.rate, f"{path}.rate", self.out, minimum=Decimal(0))
        if inc.rate > MAX_PER_CREDIT_RATE:
            self.out.append(Violation(f"{path}.rate", f"must be at most {MAX_PER_CREDIT_RATE}"))
        if inc.rate_table and inc.rates_by is None:
            self.out.append(Violation(f"{path}.rates_by", "a rate table needs the classifier it is keyed by"))
        for k, v in inc.rate_table.items():
            _num_ok(v, f"{path}.rate_table.{k}", self.out, minimum=Decimal(0))
            if v > MAX_PER_CREDIT_RATE:
                self.out.append(Violation(f"{path}.rate_table.{k}", f"must be at most {MAX_PER_CREDIT_RATE}"))
        if is_currency(self.plan.currency) and _decimal_places(inc.amount_per_unit) > exponent(self.plan.currency):
            self.out.append(
                Violation(f"{path}.amount_per_unit", f"is finer than the minor unit of {self.plan.currency}")
            )
        elif abs(inc.amount_per_unit) >= Decimal(10) ** 9:
            self.out.append(Violation(f"{path}.amount_per_unit", "must be below 10^9"))

    def deposits(self) -> None:
        p = self.plan
        self.unique([d.deposit_id for d in p.deposits], "deposits", "deposit id")
        incentives = {x.incentive_id for x in p.incentives}
        held: set[str] = set()
        for i, d in enumerate(p.deposits):
            path = f"deposits[{i}]"
            if not d.incentive_ids:
                self.out.append(Violation(f"{path}.incentive_ids", "must name at least one incentive"))
            for j, iid in enumerate(d.incentive_ids):
                if iid not in incentives:
                    self.out.append(Violation(f"{path}.incentive_ids[{j}]", f"unknown incentive {iid!r}"))
                elif iid in held:
                    self.out.append(Violation(f"{path}.incentive_ids[{j}]", f"{iid!r} is already held by a deposit"))
                held.add(iid)
            if d.hold_percent <= 0 or d.hold_percent > 100 or _decimal_places(d.hold_percent) > 4:
                self.out.append(
                    Violation(f"{path}.hold_percent", "must be above 0, at most 100, with at most 4 decimals")
                )
            if d.release_after_periods is not None and d.release_after_periods < 1:
                self.out.append(Violation(f"{path}.release_after_periods", "must be 1 or more"))
            if d.release_after_periods is None and d.release_condition is None:
                self.out.append(Violation(path, "needs release_after_periods, a release_condition or both"))
            f = self.formula(d.release_condition, f"{path}.release_condition", Type.BOOLEAN)
            if f is not None:
                self.formulas[f"deposits.{d.deposit_id}.release_condition"] = f


def _topological(deps: dict[str, list[str]]) -> list[str] | None:
    """Dependencies first; None when there is a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}
    for start in sorted(deps):
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            node, i = stack.pop()
            children = deps.get(node, [])
            if i < len(children):
                stack.append((node, i + 1))
                child = children[i]
                if state.get(child) == 1:
                    return None
                if not state.get(child):
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
                order.append(node)
    return order


def _cycle(deps: dict[str, list[str]]) -> list[str]:
    for start in sorted(deps):
        path = [start]
        seen = {start}
        node = start
        while True:
            nxt = next((c for c in sorted(deps.get(node, [])) if c in deps), None)
            if nxt is None:
                break
            if nxt in seen:
                return [*path[path.index(nxt) :], nxt]
            path.append(nxt)
            seen.add(nxt)
            node = nxt
    return sorted(deps)[:1]


def validate_plan(plan: Plan, known_positions: Collection[str] | None = None) -> list[Violation]:
    """Every violation of the plan's rules: unknown measurements, rules or incentives, bad formulas,
    circular formula measurements, overlapping or gapped tiers, splits not summing to 100%, windows
    that would double-pay, out-of-range literals."""
    return _Checker(plan, known_positions).run()


# --------------------------------------------------------------------------- compiled view for the engines


@dataclass(frozen=True)
class CompiledPlan:
    """A validated plan with its formulas parsed and its formula measurements in dependency order:
    what both the engine and the oracle evaluate."""

    plan: Plan
    formulas: dict[str, Formula]
    windows: dict[str, Window | None]
    formula_order: tuple[str, ...]
    variables: dict[str, Decimal]

    @cached_property
    def measurement(self) -> dict[str, Measurement]:
        return {m.measurement_id: m for m in self.plan.measurements}

    @cached_property
    def deposit_of(self) -> dict[str, DepositRule]:
        return {iid: d for d in self.plan.deposits for iid in d.incentive_ids}

    def measurement_window(self, measurement_id: str) -> Window | None:
        return self.windows.get(measurement_id)


def compile_plan(plan: Plan) -> CompiledPlan:
    checker = _Checker(plan, None)
    violations = checker.run()
    if violations:
        raise PlanValidationError(violations)
    formula_ids = [m.measurement_id for m in plan.measurements if m.kind is MeasurementKind.FORMULA]
    order = _topological(
        {k: [n for n in checker.formulas[f"measurements.{k}"].names if n in formula_ids] for k in formula_ids}
    )
    assert order is not None
    return CompiledPlan(
        plan=plan,
        formulas=checker.formulas,
        windows=checker.windows,
        formula_order=tuple(order),
        variables={k: fp.num(v) for k, v in plan.variables.items()},
    )


# --------------------------------------------------------------------------- the plan book


@dataclass(frozen=True)
class PlanBook:
    """The plans of a run (one version each) and where they apply."""

    plans: tuple[Plan, ...] = ()
    assignments: tuple[PlanAssignment, ...] = ()
    overrides: tuple[VariableOverride, ...] = ()
    # Not an init field: `dataclasses.replace(book, plans=...)` must not inherit the old plans' compiled forms.
    _compiled: dict[str, CompiledPlan] = field(default_factory=dict, init=False, compare=False, repr=False)

    @cached_property
    def by_id(self) -> dict[str, Plan]:
        return {p.plan_id: p for p in self.plans}

    def compiled(self, plan_id: str) -> CompiledPlan:
        if plan_id not in self._compiled:
            self._compiled[plan_id] = compile_plan(self.by_id[plan_id])
        return self._compiled[plan_id]


def validate_plan_book(book: PlanBook, titles: Collection[str], positions: Collection[str]) -> list[Violation]:
    """Every plan's violations (prefixed ``plans[i]``), plus assignments and overrides that name unknown
    plans, titles, positions or variables, or that overlap for the same title or position."""
    out: list[Violation] = []
    seen: set[str] = set()
    for i, p in enumerate(book.plans):
        if p.plan_id in seen:
            out.append(Violation(f"plans[{i}].plan_id", f"duplicate plan {p.plan_id!r} (one version per run)"))
        seen.add(p.plan_id)
        out += [Violation(f"plans[{i}].{v.field}", v.reason) for v in validate_plan(p, positions)]
    ranges: dict[tuple[str, str], list[tuple[date, date | None, int]]] = {}
    for i, a in enumerate(book.assignments):
        path = f"assignments[{i}]"
        if a.plan_id not in book.by_id:
            out.append(Violation(f"{path}.plan_id", f"unknown plan {a.plan_id!r}"))
        target = _target(a.title_id, a.position_id, titles, positions, path, out)
        if a.valid_to is not None and a.valid_to <= a.valid_from:
            out.append(Violation(f"{path}.valid_to", "must be after valid_from"))
        if target:
            ranges.setdefault(target, []).append((a.valid_from, a.valid_to, i))
    for target, rs in ranges.items():
        rs.sort(key=lambda r: r[0])
        for x, y in itertools.pairwise(rs):
            if overlaps(x[0], x[1], y[0], y[1]):
                out.append(
                    Violation(f"assignments[{y[2]}]", f"overlaps another plan assignment of {target[0]} {target[1]!r}")
                )
    oranges: dict[tuple[str, str, str, str], list[tuple[date, date | None, int]]] = {}
    for i, o in enumerate(book.overrides):
        path = f"overrides[{i}]"
        plan = book.by_id.get(o.plan_id)
        if plan is None:
            out.append(Violation(f"{path}.plan_id", f"unknown plan {o.plan_id!r}"))
        elif o.variable not in plan.variables:
            out.append(Violation(f"{path}.variable", f"plan {o.plan_id!r} has no variable {o.variable!r}"))
        _num_ok(o.value, f"{path}.value", out)
        if o.valid_to is not None and o.valid_to <= o.valid_from:
            out.append(Violation(f"{path}.valid_to", "must be after valid_from"))
        target = _target(o.title_id, o.position_id, titles, positions, path, out)
        if target:
            oranges.setdefault((o.plan_id, o.variable, *target), []).append((o.valid_from, o.valid_to, i))
    for rs in oranges.values():
        rs.sort(key=lambda r: r[0])
        for x, y in itertools.pairwise(rs):
            if overlaps(x[0], x[1], y[0], y[1]):
                out.append(Violation(f"overrides[{y[2]}]", "overlaps another override of the same variable and target"))
    return out


def _target(
    title_id: str | None,
    position_id: str | None,
    titles: Collection[str],
    positions: Collection[str],
    path: str,
    out: list[Violation],
) -> tuple[str, str] | None:
    if (title_id is None) == (position_id is None):
        out.append(Violation(path, "needs exactly one of title_id and position_id"))
        return None
    if title_id is not None:
        if title_id not in titles:
            out.append(Violation(f"{path}.title_id", f"unknown title {title_id!r}"))
        return ("title", title_id)
    assert position_id is not None
    if position_id not in positions:
        out.append(Violation(f"{path}.position_id", f"unknown position {position_id!r}"))
    return ("position", position_id)


def ensure_valid_plan_book(book: PlanBook, titles: Collection[str], positions: Collection[str]) -> PlanBook:
    violations = validate_plan_book(book, titles, positions)
    if violations:
        raise PlanValidationError(violations)
    return book


def next_version(previous: Plan, changed: Plan) -> Plan:
    """A new version of a plan: same id, version + 1, validated. Saved versions are never edited."""
    if changed.plan_id != previous.plan_id:
        raise PlanValidationError([Violation("plan_id", "a new version keeps the plan id")])
    return ensure_valid_plan(changed.model_copy(update={"version": previous.version + 1}))
