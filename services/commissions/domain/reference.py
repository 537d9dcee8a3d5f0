"""The reference implementation: the run's semantics as plain, deliberately simple loops.

This is the oracle the vectorized engine is tested against (property tests require both to agree to
the kopeck on random plans, hierarchies and transactions) and the place to read what a run *means*.
It uses `Decimal` arithmetic (`fixed_point`'s scalar side) where the engine uses integer columns, so
the two share the rules but not the code that applies them.

A run of period P, step by step:

1. **Classify and credit.** Every transaction booked from the start of P's year through P's end is
   credited by each matching credit rule of the plan in effect for its selling position on its credit
   date. Each split target gets ``amount x percent / 100`` rounded half-even to the minor unit. The
   credit goes to the participant holding the credited position on the credit date (nobody's if the
   position is vacant).
2. **Roll up.** A rule with ``rollup_levels`` n credits the same amount to the n managers above each
   credited position, in the hierarchy of the credit date, each to that manager position's holder on
   that date (``level`` 1, 2, ...; None = to the top).
3. **Payees** are (participant, position) pairs with credits in the year to date or an assignment
   overlapping P. A payee's reference date is the last day in P it held the position (or the end of
   its last assignment before P); the plan, the title and the variable overrides in effect on that
   date apply to the payee for the whole run.
4. **Measure.** SUM and COUNT measurements sum the payee's matching credits booked in their window
   (P, quarter to date, year to date) into Nums; FORMULA measurements are evaluated after what they
   read. Windows other than PERIOD also get a *prior* value: the same window through the previous
   period (when P is not the window's first period).
5. **Incentives.** See `plans`. The amount of a line is ``minor(F(now)) - minor(F(prior))`` for
   cumulative incentives and ``minor(F(now))`` otherwise; ``minor`` rounds half-even to the minor unit.
6. **Deposits.** Open deposits from earlier periods are released when their release period has come or
   their rule's condition holds for the payee now; then the hold percentage of each positive line of a
   held incentive is deposited (rounded half-even).
7. **Pay** per participant, in this order: earnings (lines - holds + releases + positive adjustments)
   less the negative balance carried in; a negative result is carried forward and nothing is paid;
   outstanding recoverable draw is recovered from what exceeds the draw; the draw tops the payment up
   to the draw amount (recoverable draws add the top-up to the draw balance); finally calculation-error
   overpayments are recovered, at most ``max_recovery_percent`` of the payment. Other overpayments are
   only recorded. The draw is the plan draw of the participant's latest payee if that payee holds its
   position during P.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

import polars as pl

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.expressions import Formula
from services.commissions.domain.inputs import BALANCE_SCHEMA, DEPOSIT_SCHEMA, OverpaymentClass, RunInputs
from services.commissions.domain.money import exponent, rounded
from services.commissions.domain.org import Organisation
from services.commissions.domain.periods import Period, Window, covers, month_index, overlaps
from services.commissions.domain.plans import (
    SELLER,
    CompiledPlan,
    CreditFilter,
    CreditType,
    FormulaIncentive,
    MeasurementKind,
    PerCreditCommission,
    PlanBook,
    RateTableIncentive,
    Spiff,
    ThresholdBonus,
    TierBasis,
    TierMethod,
)
from services.commissions.domain.results import (
    ADJUSTMENT_SCHEMA,
    CREDIT_SCHEMA,
    MEASUREMENT_SCHEMA,
    PAYEE_SCHEMA,
    PAYMENT_SCHEMA,
    PAYOUT_SCHEMA,
    PAYROLL_SCHEMA,
    EarningCode,
    RunResult,
    Treatment,
)
from services.commissions.domain.run_checks import check_run_inputs, refuse_finalized

Env = dict[str, Decimal | bool]


@dataclass(frozen=True, slots=True)
class Credit:
    transaction_id: str
    seller_position_id: str
    plan_id: str
    rule_id: str
    target_index: int
    level: int
    position_id: str
    participant_id: str | None
    booking_index: int
    credit_date: date
    amount_minor: int
    units: int
    classifiers: Mapping[str, str]


def reference_run(inputs: RunInputs) -> RunResult:
    """The oracle: the same result as `engine.calculate_period`, computed one row at a time."""
    refuse_finalized(inputs)
    check_run_inputs(inputs)
    return _Run(inputs).result()


def plan_for(org: Organisation, book: PlanBook, position_id: str, day: date) -> str | None:
    """The plan in effect for a position on a day: its own plan assignment, else its title's."""
    for a in book.assignments:
        if a.position_id == position_id and covers(a.valid_from, a.valid_to, day):
            return a.plan_id
    title = org.title_as_of(position_id, day)
    if title is None:
        return None
    for a in book.assignments:
        if a.title_id == title and covers(a.valid_from, a.valid_to, day):
            return a.plan_id
    return None


def matches(condition: Mapping[Any, tuple[str, ...]], classifiers: Mapping[str, str]) -> bool:
    return all(classifiers[str(key)] in values for key, values in condition.items())


def filter_accepts(flt: CreditFilter, plan_id: str, credit: Credit) -> bool:
    if flt.credit_types is CreditType.DIRECT and credit.level != 0:
        return False
    if flt.credit_types is CreditType.INDIRECT and credit.level == 0:
        return False
    if flt.rule_ids is not None and (credit.plan_id != plan_id or credit.rule_id not in flt.rule_ids):
        return False
    return matches(flt.condition, credit.classifiers)


def split_share(amount_minor: int, percent: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 80
        return rounded(Decimal(amount_minor) * percent / 100)


class _Run:
    def __init__(self, inputs: RunInputs) -> None:
        self.inputs = inputs
        self.period = inputs.period
        self.org = inputs.org
        self.book = inputs.plans
        self.exp = exponent(inputs.currency)
        self.year_start = self.period.window_start(Window.YTD)

    # ------------------------------------------------------------------ steps 1-2: credits

    def credits(self) -> list[Credit]:
        out: list[Credit] = []
        for row in self.inputs.transactions.iter_rows(named=True):
            booking = month_index(row["booking_date"])
            if not self.year_start.index <= booking <= self.period.index:
                continue
            seller, day = row["seller_position_id"], row["credit_date"]
            plan_id = plan_for(self.org, self.book, seller, day)
            if plan_id is None:
                continue
            classifiers = {c: row[c] or "" for c in ("product", "territory", "channel", "segment")}
            for rule in self.book.by_id[plan_id].credit_rules:
                if not matches(rule.condition, classifiers):
                    continue
                for index, target in enumerate(rule.targets):
                    receiver = seller if target.position == SELLER else target.position
                    amount = split_share(row["amount_minor"], target.percent)

                    made = (row["transaction_id"], seller, plan_id, rule.rule_id, index)
                    tail = (booking, day, amount, row["units"], classifiers)
                    out.append(self.credit(made, 0, receiver, tail))
                    position, level = receiver, 0
                    while rule.rollup_levels is None or level < rule.rollup_levels:
                        manager = self.org.manager_as_of(position, day)
                        if manager is None:
                            break
                        level += 1
                        out.append(self.credit(made, level, manager, tail))
                        position = manager
        return out

    def credit(self, made: tuple[str, str, str, str, int], level: int, position: str, tail: tuple[Any, ...]) -> Credit:
        """A credit to ``position`` (and whoever holds it on the credit date)."""
        booking, day, amount, units, classifiers = tail
        holder = self.org.holder_as_of(position, day)
        return Credit(*made, level, position, holder, booking, day, amount, units, classifiers)

    # ------------------------------------------------------------------ step 3: payees

    def ref_date(self, participant: str, position: str) -> date:
        last = self.period.last_day
        latest = None
        for a in self.org.assignments_by_participant.get(participant, []):
            if (
                a.position_id == position
                and a.valid_from <= last
                and (latest is None or a.valid_from > latest.valid_from)
            ):
                latest = a
        assert latest is not None, "a payee always has an assignment"
        if latest.valid_to is not None and latest.valid_to - timedelta(days=1) < last:
            return latest.valid_to - timedelta(days=1)
        return last

    def variables(self, plan: CompiledPlan, position: str, title: str | None, day: date) -> dict[str, Decimal]:
        out = dict(plan.variables)
        for name in out:
            by_position = by_title = None
            for o in self.book.overrides:
                if o.plan_id != plan.plan.plan_id or o.variable != name or not covers(o.valid_from, o.valid_to, day):
                    continue
                if o.position_id == position:
                    by_position = o.value
                elif o.title_id is not None and o.title_id == title:
                    by_title = o.value
            chosen = by_position if by_position is not None else by_title
            if chosen is not None:
                out[name] = fp.num(chosen)
        return out

    # ------------------------------------------------------------------ step 4: measurements

    def primary(
        self,
        plan_id: str,
        flt: CreditFilter,
        kind: MeasurementKind,
        window: Window,
        state: Period,
        credits: list[Credit],
    ) -> Decimal:
        first = state.window_start(window).index
        total = 0
        for c in credits:
            if first <= c.booking_index <= state.index and filter_accepts(flt, plan_id, c):
                total += c.amount_minor if kind is MeasurementKind.SUM else c.units
        if kind is MeasurementKind.SUM:
            return fp.from_minor(total, self.exp)
        return fp.check(Decimal(total).quantize(fp.QUANTUM))

    def measure(
        self, plan: CompiledPlan, variables: dict[str, Decimal], credits: list[Credit]
    ) -> tuple[Env, Env, dict[str, Decimal | None]]:
        now: Env = dict(variables)
        prior: Env = dict(variables)
        prior_values: dict[str, Decimal | None] = {}
        pid = plan.plan.plan_id
        for m in plan.plan.measurements:
            if m.kind is MeasurementKind.FORMULA:
                continue
            now[m.measurement_id] = self.primary(pid, m.filter, m.kind, m.window, self.period, credits)
            if m.window is not Window.PERIOD and self.period.has_prior_in_window(m.window):
                value = self.primary(pid, m.filter, m.kind, m.window, self.period.prev(), credits)
                prior[m.measurement_id] = value
                prior_values[m.measurement_id] = value
            else:
                prior[m.measurement_id] = now[m.measurement_id]
                prior_values[m.measurement_id] = None
        for mid in plan.formula_order:
            f = plan.formulas[f"measurements.{mid}"]
            now[mid] = f.evaluate(now)
            window = plan.measurement_window(mid)
            if window is not None and window is not Window.PERIOD and self.period.has_prior_in_window(window):
                prior[mid] = f.evaluate(prior)
                prior_values[mid] = prior[mid]  # type: ignore[assignment]
            else:
                prior[mid] = now[mid]
                prior_values[mid] = None
        return now, prior, prior_values

    # ------------------------------------------------------------------ step 5: incentives

    def rate_table(self, plan: CompiledPlan, inc: RateTableIncentive, env: Env) -> tuple[Decimal, dict[str, Any]]:
        key = f"incentives.{inc.incentive_id}"
        base = env[inc.base]
        assert isinstance(base, Decimal)
        quota = self.num(plan.formulas[f"{key}.quota"], env) if inc.quota is not None else None
        x = base if inc.basis is TierBasis.AMOUNT else fp.div(base, quota or Decimal(0))
        index = sum(1 for t in inc.tiers[1:] if t.lower <= x)
        rate = inc.tiers[index].rate
        if inc.method is TierMethod.STEPPED:
            value = fp.mul(base, rate)
        else:
            bounds = [
                t.lower if inc.basis is TierBasis.AMOUNT else fp.mul(t.lower, quota or Decimal(0)) for t in inc.tiers
            ]
            value = Decimal(0)
            for j, t in enumerate(inc.tiers):
                top = base if j == len(inc.tiers) - 1 else min(base, bounds[j + 1])
                piece = fp.sub(top, bounds[j])
                if j > 0:
                    piece = max(piece, Decimal(0))
                value = fp.add(value, fp.mul(piece, t.rate))
        multiplier = None
        if inc.multipliers:
            m_index = sum(1 for t in inc.multipliers[1:] if t.lower <= x)
            multiplier = inc.multipliers[m_index].rate
            value = fp.mul(value, multiplier)
        value, floored, capped = self.floor_cap(plan, key, inc.floor, inc.cap, env, value)
        trace = {
            "base_measurement_id": inc.base,
            "base_value": fp.to_raw(base),
            "quota_value": None if quota is None else fp.to_raw(quota),
            "tier_value": fp.to_raw(x),
            "tier_index": index,
            "rate": fp.to_raw(rate),
            "multiplier": None if multiplier is None else fp.to_raw(multiplier),
            "floored": floored,
            "capped": capped,
        }
        return value, trace

    def floor_cap(
        self, plan: CompiledPlan, key: str, floor: str | None, cap: str | None, env: Env, value: Decimal
    ) -> tuple[Decimal, bool, bool]:
        floored = capped = False
        if floor is not None:
            low = self.num(plan.formulas[f"{key}.floor"], env)
            floored = value < low
            value = max(value, low)
        if cap is not None:
            high = self.num(plan.formulas[f"{key}.cap"], env)
            capped = value > high
            value = min(value, high)
        return value, floored, capped

    @staticmethod
    def num(f: Formula, env: Env) -> Decimal:
        v = f.evaluate(env)
        assert isinstance(v, Decimal)
        return v

    def incentive_value(self, plan: CompiledPlan, inc: Any, env: Env) -> tuple[Decimal, dict[str, Any]]:
        key = f"incentives.{inc.incentive_id}"
        if isinstance(inc, RateTableIncentive):
            return self.rate_table(plan, inc, env)
        if isinstance(inc, ThresholdBonus | Spiff):
            met = plan.formulas[f"{key}.condition"].evaluate(env)
            value = self.num(plan.formulas[f"{key}.amount"], env) if met else Decimal(0)
            return value, {"condition_met": bool(met)}
        assert isinstance(inc, FormulaIncentive)
        value = self.num(plan.formulas[f"{key}.formula"], env)
        value, floored, capped = self.floor_cap(plan, key, inc.floor, inc.cap, env, value)
        return value, {"floored": floored, "capped": capped}

    def per_credit(self, plan_id: str, inc: PerCreditCommission, credits: list[Credit]) -> int:
        per_unit = rounded(inc.amount_per_unit.scaleb(self.exp))
        total = 0
        for c in credits:
            if c.booking_index != self.period.index or not filter_accepts(inc.filter, plan_id, c):
                continue
            rate = inc.rate
            if inc.rates_by is not None and c.classifiers[str(inc.rates_by)] in inc.rate_table:
                rate = inc.rate_table[c.classifiers[str(inc.rates_by)]]
            with localcontext() as ctx:
                ctx.prec = 80
                total += rounded(Decimal(c.amount_minor) * rate) + c.units * per_unit
        return total

    # ------------------------------------------------------------------ the whole run

    def result(self) -> RunResult:
        credits = self.credits()
        by_payee: dict[tuple[str, str], list[Credit]] = defaultdict(list)
        for c in credits:
            if c.participant_id is not None:
                by_payee[(c.participant_id, c.position_id)].append(c)
        payee_keys = set(by_payee)
        for a in self.org.assignments:
            if overlaps(a.valid_from, a.valid_to, self.period.start, self.period.end):
                payee_keys.add((a.participant_id, a.position_id))

        payees, measurements, payouts = [], [], []
        envs: dict[tuple[str, str], tuple[CompiledPlan, Env]] = {}
        draws: dict[tuple[str, str], int] = {}
        conditions: dict[tuple[str, str, str], bool] = {}
        for participant, position in sorted(payee_keys):
            ref = self.ref_date(participant, position)
            title = self.org.title_as_of(position, ref)
            plan_id = plan_for(self.org, self.book, position, ref)
            plan = self.book.compiled(plan_id) if plan_id is not None else None
            if plan is None:
                payees.append((participant, position, title, plan_id, None, ref, None, None))
                continue
            mine = by_payee.get((participant, position), [])
            variables = self.variables(plan, position, title, ref)
            now, prior, prior_values = self.measure(plan, variables, mine)
            envs[(participant, position)] = (plan, now)
            for m in plan.plan.measurements:
                pv = prior_values[m.measurement_id]
                value = now[m.measurement_id]
                assert isinstance(value, Decimal)
                measurements.append(
                    (
                        participant,
                        position,
                        plan_id,
                        m.measurement_id,
                        fp.to_raw(value),
                        None if pv is None else fp.to_raw(pv),
                    )
                )
            for inc in plan.plan.incentives:
                line = self.payout(plan, inc, participant, position, now, prior, mine)
                if line is not None:
                    payouts.append(line)
            draw = None
            if plan.plan.draw is not None:
                amount = self.num(plan.formulas["draw.amount"], now)
                draw = draws[(participant, position)] = max(0, fp.to_minor(amount, self.exp))
            recoverable = None if plan.plan.draw is None else plan.plan.draw.recoverable
            payees.append((participant, position, title, plan_id, plan.plan.version, ref, draw, recoverable))
            for d in plan.plan.deposits:
                if d.release_condition is not None:
                    met = plan.formulas[f"deposits.{d.deposit_id}.release_condition"].evaluate(now)
                    conditions[(participant, position, d.deposit_id)] = bool(met)

        held, released, still_open = self.deposits(payouts, conditions)
        payments, balances, payroll, adjustments = self.pay(payees, payouts, held, released, draws)
        frame = pl.DataFrame
        credit_rows = [
            (
                c.transaction_id,
                c.seller_position_id,
                c.plan_id,
                c.rule_id,
                c.target_index,
                c.level,
                c.position_id,
                c.participant_id,
                str(Period.from_index(c.booking_index)),
                c.credit_date,
                c.amount_minor,
                c.units,
            )
            for c in credits
        ]
        return RunResult(
            period=self.period,
            currency=self.inputs.currency,
            run_version=self.inputs.run_version,
            kind="REFERENCE",
            payees=frame(payees, schema=PAYEE_SCHEMA, orient="row"),
            measurements=frame(measurements, schema=MEASUREMENT_SCHEMA, orient="row"),
            payouts=frame([tuple(p[c] for c in PAYOUT_SCHEMA) for p in payouts], schema=PAYOUT_SCHEMA, orient="row"),
            deposits_held=frame(held, schema=DEPOSIT_SCHEMA, orient="row"),
            deposits_released=frame(released, schema=DEPOSIT_SCHEMA, orient="row"),
            open_deposits=frame(still_open + held, schema=DEPOSIT_SCHEMA, orient="row"),
            payments=frame(payments, schema=PAYMENT_SCHEMA, orient="row"),
            balances=frame(balances, schema=BALANCE_SCHEMA, orient="row"),
            payroll=frame(payroll, schema=PAYROLL_SCHEMA, orient="row"),
            adjustments=frame(adjustments, schema=ADJUSTMENT_SCHEMA, orient="row"),
            credit_source=lambda who: frame(
                [r for r in credit_rows if who is None or r[7] in who], schema=CREDIT_SCHEMA, orient="row"
            ),
        )

    def payout(
        self, plan: CompiledPlan, inc: Any, participant: str, position: str, now: Env, prior: Env, credits: list[Credit]
    ) -> dict[str, Any] | None:
        line: dict[str, Any] = dict.fromkeys(PAYOUT_SCHEMA)
        line.update(
            participant_id=participant,
            position_id=position,
            plan_id=plan.plan.plan_id,
            incentive_id=inc.incentive_id,
            kind=inc.kind,
            earning_code=inc.earning_code,
            floored=False,
            capped=False,
        )
        if isinstance(inc, Spiff) and inc.period != str(self.period):
            return None
        if isinstance(inc, PerCreditCommission):
            total = self.per_credit(plan.plan.plan_id, inc, credits)
            line.update(
                rate=fp.to_raw(fp.num(inc.rate)), cumulative_minor=total, prior_cumulative_minor=0, amount_minor=total
            )
            return line
        value, trace = self.incentive_value(plan, inc, now)
        line.update(trace)
        cumulative = fp.to_minor(value, self.exp)
        before = 0
        if inc.payout_window is not Window.PERIOD and self.period.has_prior_in_window(inc.payout_window):
            before = fp.to_minor(self.incentive_value(plan, inc, prior)[0], self.exp)
        line.update(cumulative_minor=cumulative, prior_cumulative_minor=before, amount_minor=cumulative - before)
        return line

    # ------------------------------------------------------------------ step 6: deposits

    def deposits(
        self, payouts: list[dict[str, Any]], conditions: dict[tuple[str, str, str], bool]
    ) -> tuple[list[tuple], list[tuple], list[tuple]]:
        period = str(self.period)
        released, still_open = [], []
        for d in self.inputs.open_deposits.iter_rows():
            rec = dict(zip(DEPOSIT_SCHEMA, d, strict=True))
            due = rec["earned_period"] < period and (
                (rec["release_period"] is not None and rec["release_period"] <= period)
                or conditions.get((rec["participant_id"], rec["position_id"], rec["deposit_id"]), False)
            )
            (released if due else still_open).append(d)
        held = []
        for line in payouts:
            plan = self.book.compiled(line["plan_id"])
            rule = plan.deposit_of.get(line["incentive_id"])
            if rule is None or line["amount_minor"] <= 0:
                continue
            amount = split_share(line["amount_minor"], rule.hold_percent)
            if amount <= 0:
                continue
            key = f"{line['participant_id']}|{line['position_id']}|{line['incentive_id']}|{period}"
            release = str(self.period.plus(rule.release_after_periods)) if rule.release_after_periods else None
            held.append(
                (
                    key,
                    rule.deposit_id,
                    line["participant_id"],
                    line["position_id"],
                    line["incentive_id"],
                    line["earning_code"],
                    period,
                    release,
                    amount,
                )
            )
        return held, released, still_open

    # ------------------------------------------------------------------ step 7: pay

    def pay(
        self,
        payees: list[tuple],
        payouts: list[dict[str, Any]],
        held: list[tuple],
        released: list[tuple],
        draws: dict[tuple[str, str], int],
    ) -> tuple[list, list, list, list]:
        by_code: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        earnings: dict[str, int] = defaultdict(int)
        held_sum: dict[str, int] = defaultdict(int)
        released_sum: dict[str, int] = defaultdict(int)
        for line in payouts:
            earnings[line["participant_id"]] += line["amount_minor"]
            by_code[line["participant_id"]][line["earning_code"]] += line["amount_minor"]
        for d in held:
            held_sum[d[2]] += d[8]
            by_code[d[2]][d[5]] -= d[8]
        for d in released:
            released_sum[d[2]] += d[8]
            by_code[d[2]][d[5]] += d[8]
        adjustments, paid, recoverable, recorded = [], defaultdict(int), defaultdict(int), defaultdict(int)
        for a in self.inputs.adjustments:
            if a.amount_minor >= 0:
                treatment = Treatment.PAID
                paid[a.participant_id] += a.amount_minor
            elif a.overpayment_class is OverpaymentClass.CALCULATION_ERROR:
                treatment = Treatment.RECOVERABLE
                recoverable[a.participant_id] -= a.amount_minor
            else:
                treatment = Treatment.RECORDED
                recorded[a.participant_id] -= a.amount_minor
            adjustments.append(
                (
                    a.adjustment_id,
                    a.participant_id,
                    a.amount_minor,
                    a.reason,
                    a.overpayment_class,
                    treatment.value,
                    a.origin_period,
                    a.incentive_id,
                    a.position_id,
                )
            )
        prior = {r[0]: r for r in self.inputs.prior_balances.iter_rows()}
        # The draw: the latest payee's plan draw, if that payee holds its position during the period.
        latest: dict[str, tuple[date, str]] = {}
        for participant, position, _title, _plan, _version, ref, _draw, _rec in payees:
            if participant not in latest or (ref, position) > latest[participant]:
                latest[participant] = (ref, position)
        draw_of: dict[str, tuple[int, bool]] = {}
        for participant, (ref, position) in latest.items():
            if ref >= self.period.start and (participant, position) in draws:
                plan_id = plan_for(self.org, self.book, position, ref)
                assert plan_id is not None
                draw = self.book.by_id[plan_id].draw
                assert draw is not None
                draw_of[participant] = (draws[(participant, position)], draw.recoverable)
        who = set(latest) | set(released_sum) | set(paid) | set(recoverable) | set(recorded)
        who |= {p for p, r in prior.items() if any(r[1:])}
        payments, balances, payroll = [], [], []
        pct = self.inputs.policy.max_recovery_percent
        for p in sorted(who):
            b_in, d_in, r_in, n_in = prior[p][1:] if p in prior else (0, 0, 0, 0)
            e = earnings[p] - held_sum[p] + released_sum[p] + paid[p]
            a = e - b_in
            b_out = max(0, -a)
            a = max(a, 0)
            draw, draw_recoverable = draw_of.get(p, (0, False))
            draw_recovery = min(d_in, max(0, a - draw))
            a -= draw_recovery
            advance = max(0, draw - a)
            d_out = d_in - draw_recovery + (advance if draw_recoverable else 0)
            pay = a + advance
            r_total = r_in + recoverable[p]
            limit = pay if pct is None else split_share(pay, pct)
            recovery = min(r_total, max(0, limit))
            pay -= recovery
            payments.append(
                (
                    p,
                    earnings[p],
                    held_sum[p],
                    released_sum[p],
                    paid[p],
                    b_in,
                    b_out,
                    draw_recovery,
                    advance,
                    recovery,
                    pay,
                )
            )
            balances.append((p, b_out, d_out, r_total - recovery, n_in + recorded[p]))
            lines = dict(by_code[p])
            for code, amount in (
                (EarningCode.ADJUSTMENT, paid[p]),
                (EarningCode.PRIOR_BALANCE, -b_in),
                (EarningCode.BALANCE_CARRIED_FORWARD, b_out),
                (EarningCode.DRAW_RECOVERY, -draw_recovery),
                (EarningCode.DRAW, advance),
                (EarningCode.OVERPAYMENT_RECOVERY, -recovery),
            ):
                lines[code.value] = lines.get(code.value, 0) + amount
            payroll += [(p, code, amount) for code, amount in sorted(lines.items()) if amount != 0]
        return payments, balances, payroll, adjustments
