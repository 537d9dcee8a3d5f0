"""Engine steps 3-5, vectorized: the payees of the run, their plan variables, measurements and
incentive lines, one plan at a time over a frame with one row per payee.

Every figure is a column of raw Nums; every column the oracle would compute is checked for null (the
vector side's "overflowed") and turns into `CalculationError`, so both implementations fail on the same
inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.engine_context import CODE, DAY, EngineContext, asof
from services.commissions.domain.engine_credits import DIRECT, INDIRECT, Aggregation, payee_key
from services.commissions.domain.errors import CalculationError
from services.commissions.domain.expressions import Formula
from services.commissions.domain.periods import Window, day_number
from services.commissions.domain.plans import (
    CompiledPlan,
    CreditType,
    FormulaIncentive,
    MeasurementKind,
    PerCreditCommission,
    RateTableIncentive,
    Spiff,
    ThresholdBonus,
    Tier,
    TierBasis,
    TierMethod,
)

Resolver = Callable[[str], pl.Expr]
ZERO = pl.lit(0, fp.RAW)


def payee_frame(ctx: EngineContext, aggregate: pl.DataFrame, only: pl.Series | None = None) -> pl.DataFrame:
    """Payees: (participant, position) with credits in the window or an assignment overlapping the
    period (restricted to the ``only`` keys if given); each with its reference date, title and plan on
    that date."""
    period = ctx.period
    start, end = day_number(period.start), day_number(period.end)
    last = end - 1
    holders = ctx.holders
    if only is not None:
        holders = holders.filter(pl.col("pos").is_in((only % (1 << 32)).cast(CODE).implode()))
    active = holders.filter(pl.col("start") < end, pl.col("end") > start).select(
        payee_key(pl.col("part"), pl.col("pos")).alias("key")
    )
    keys = pl.concat([aggregate.select("key"), active]).unique()
    if only is not None:
        keys = keys.filter(pl.col("key").is_in(only.implode()))
    refs = (
        holders.filter(pl.col("start") <= last)
        .with_columns(payee_key(pl.col("part"), pl.col("pos")).alias("key"))
        .sort("start")
        .group_by("key")
        .agg(pl.col("end").last())
        .select("key", pl.min_horizontal(pl.col("end") - 1, pl.lit(last, DAY)).cast(DAY).alias("ref"))
    )
    frame = (
        keys.join(refs, on="key", how="inner")
        .with_columns(
            (pl.col("key") // (1 << 32)).cast(CODE).alias("part"),
            (pl.col("key") % (1 << 32)).cast(CODE).alias("pos"),
        )
        .sort("ref")
    )
    frame = asof(frame, "pos", "ref", ctx.versions, {"title": "title"}, ctx)
    return asof(frame, "pos", "ref", ctx.plan_timeline, {"plan": "plan"}, ctx)


@dataclass
class PlanOutputs:
    measurements: list[pl.DataFrame]
    payouts: list[pl.DataFrame]
    draws: pl.DataFrame | None  # key, draw (minor)
    conditions: list[pl.DataFrame]  # key, deposit_id, met


class PlanEvaluation:
    """One plan over its payees: variables, measurements, incentives, draw and release conditions."""

    def __init__(
        self, ctx: EngineContext, plan_code: int, payees: pl.DataFrame, aggregate: pl.DataFrame, agg: Aggregation
    ) -> None:
        self.ctx = ctx
        self.pc = plan_code
        self.plan: CompiledPlan = ctx.compiled[plan_code]
        self.frame = payees
        self.aggregate = aggregate
        self.agg = agg
        self.period = ctx.period
        self.temp = 0

    # ------------------------------------------------------------------ helpers

    def add(self, **columns: pl.Expr) -> None:
        self.frame = self.frame.with_columns(**{name: self.anchor(e) for name, e in columns.items()})

    @staticmethod
    def anchor(expr: pl.Expr) -> pl.Expr:
        """The expression as a full column, one value per payee. Literals would otherwise become
        broadcast columns, and polars 2.1 mis-sizes ``literal >= broadcast column`` (length 1)."""
        return pl.when(pl.col("key").is_not_null()).then(expr)

    def check(self, what: str, *columns: str) -> None:
        bad = self.frame.filter(pl.any_horizontal([pl.col(c).is_null() for c in columns]))
        if bad.height:
            row = bad.row(0, named=True)
            who = f"{self.ctx.participants[row['part']]}/{self.ctx.positions[row['pos']]}"
            raise CalculationError(
                f"plan {self.plan.plan.plan_id}: {what} is beyond the fixed-point range of +-{fp.LIMIT} for payee {who}"
            )

    def compile(self, key: str, resolve: Resolver) -> pl.Expr:
        f: Formula = self.plan.formulas[key]
        return f.to_polars(resolve, self.materialize)

    def materialize(self, expr: pl.Expr) -> pl.Expr:
        """Store an intermediate result as a column (keeps expression trees small; see `expressions`)."""
        self.temp += 1
        name = f"_t{self.temp}"
        self.frame = self.frame.with_columns(self.anchor(expr).alias(name))
        return pl.col(name)

    def now(self, name: str) -> pl.Expr:
        return pl.col(f"v:{name}" if name in self.plan.variables else f"m:{name}")

    def prior(self, name: str) -> pl.Expr:
        if name in self.plan.variables:
            return pl.col(f"v:{name}")
        return pl.col(f"p:{name}" if f"p:{name}" in self.frame.columns else f"m:{name}")

    # ------------------------------------------------------------------ the steps

    def run(self) -> PlanOutputs:
        self.sums()
        self.variables()
        self.measurements()
        payouts = []
        for inc in self.plan.plan.incentives:
            line = self.incentive_line(inc)
            if line is not None:
                payouts.append(line)
        draws = None
        if self.plan.plan.draw is not None:
            self.add(draw=self.compile("draw.amount", self.now))
            self.check("the draw amount", "draw")
            draws = self.frame.select(
                "key",
                pl.max_horizontal(fp.p_to_minor(pl.col("draw"), self.ctx.exponent), pl.lit(0, pl.Int64)).alias("draw"),
            )
        conditions = []
        for d in self.plan.plan.deposits:
            if d.release_condition is not None:
                col = f"release:{d.deposit_id}"
                self.add(**{col: self.compile(f"deposits.{d.deposit_id}.release_condition", self.now)})
                self.check(f"the release condition of deposit {d.deposit_id}", col)
                conditions.append(
                    self.frame.select(
                        "key", pl.lit(d.deposit_id, pl.String).alias("deposit_id"), pl.col(col).alias("met")
                    )
                )
        return PlanOutputs(self.measurement_frames(), payouts, draws, conditions)

    def sums(self) -> None:
        """Credit sums each SUM/COUNT measurement (now and prior) and per-credit incentive reads."""
        period = self.period
        exprs: list[pl.Expr] = []
        self.sum_columns: list[str] = []

        def kind_ok(types: CreditType) -> pl.Expr:
            if types is CreditType.DIRECT:
                return pl.col("kind") == DIRECT
            if types is CreditType.INDIRECT:
                return pl.col("kind") == INDIRECT
            return pl.lit(True)

        def total(src: str, types: CreditType, lo: int, hi: int, name: str) -> None:
            cond = kind_ok(types) & pl.col("month").is_between(lo, hi)
            exprs.append(pl.col(src).filter(cond).sum().alias(name))
            self.sum_columns.append(name)

        for m in self.plan.plan.measurements:
            if m.kind is MeasurementKind.FORMULA:
                continue
            f = self.agg.filter_index(self.ctx, self.pc, m.filter)
            src = f"a{f}" if m.kind is MeasurementKind.SUM else f"n{f}"
            ws = period.window_start(m.window).index
            total(src, m.filter.credit_types, ws, period.index, f"s:{m.measurement_id}")
            if m.window is not Window.PERIOD and period.has_prior_in_window(m.window):
                prev = period.prev()
                total(
                    src, m.filter.credit_types, prev.window_start(m.window).index, prev.index, f"t:{m.measurement_id}"
                )
        for k, spec in enumerate(self.agg.per_credit):
            if spec.plan_code == self.pc:
                inc = spec.incentive
                total(f"c{k}", inc.filter.credit_types, period.index, period.index, f"pc:{inc.incentive_id}")
        if not exprs:
            return
        sums = self.aggregate.join(self.frame.select("key"), on="key", how="semi").group_by("key").agg(exprs)
        self.frame = self.frame.join(sums, on="key", how="left").with_columns(
            [pl.col(c).fill_null(0).cast(pl.Int64) for c in self.sum_columns]
        )

    def variables(self) -> None:
        """Plan default, overridden by the title's, overridden by the position's, on the reference date."""
        ov = self.ctx.overrides.filter(pl.col("plan") == self.pc)
        for name, default in self.plan.variables.items():
            col = f"v:{name}"
            mine = ov.filter(pl.col("variable") == name)
            found = []
            for level in ("pos", "title"):
                rows = mine.filter(pl.col(level).is_not_null()).select(level, "start", "end", "value")
                if rows.height == 0:
                    continue
                hit = (
                    self.frame.select("key", level, "ref")
                    .join(rows, on=level, how="inner")
                    .filter(pl.col("start") <= pl.col("ref"), pl.col("ref") < pl.col("end"))
                    .select("key", pl.col("value").alias(f"o{level}:{name}"))
                )
                self.frame = self.frame.join(hit, on="key", how="left")
                found.append(pl.col(f"o{level}:{name}"))
            self.add(**{col: pl.coalesce([*found, fp.lit(default)])})

    def measurements(self) -> None:
        exp = self.ctx.exponent
        converted: dict[str, pl.Expr] = {}
        for m in self.plan.plan.measurements:
            if m.kind is MeasurementKind.FORMULA:
                continue
            for src, dst in (("s", "m"), ("t", "p")):
                name = f"{src}:{m.measurement_id}"
                if name not in self.frame.columns:
                    continue
                raw = (
                    fp.p_from_minor(pl.col(name), exp)
                    if m.kind is MeasurementKind.SUM
                    else fp.guard(pl.col(name).cast(fp.WIDE) * fp.ONE)
                )
                converted[f"{dst}:{m.measurement_id}"] = raw
        if converted:
            self.add(**converted)
            self.check("a measurement", *converted)
        for mid in self.plan.formula_order:
            self.add(**{f"m:{mid}": self.compile(f"measurements.{mid}", self.now)})
            self.check(f"measurement {mid}", f"m:{mid}")
            window = self.plan.measurement_window(mid)
            if window is not None and window is not Window.PERIOD and self.period.has_prior_in_window(window):
                self.add(**{f"p:{mid}": self.compile(f"measurements.{mid}", self.prior)})
                self.check(f"measurement {mid} (prior)", f"p:{mid}")

    def measurement_frames(self) -> list[pl.DataFrame]:
        out = []
        for m in self.plan.plan.measurements:
            prior = f"p:{m.measurement_id}"
            out.append(
                self.frame.select(
                    "part",
                    "pos",
                    pl.lit(self.plan.plan.plan_id, pl.String).alias("plan_id"),
                    pl.lit(m.measurement_id, pl.String).alias("measurement_id"),
                    pl.col(f"m:{m.measurement_id}").alias("value"),
                    (pl.col(prior) if prior in self.frame.columns else pl.lit(None, fp.RAW)).alias("prior_value"),
                )
            )
        return out

    # ------------------------------------------------------------------ incentives

    def incentive_line(self, inc: Any) -> pl.DataFrame | None:
        if isinstance(inc, Spiff) and inc.period != str(self.period):
            return None
        exp = self.ctx.exponent
        common = [
            "part",
            "pos",
            pl.lit(self.plan.plan.plan_id, pl.String).alias("plan_id"),
            pl.lit(inc.incentive_id, pl.String).alias("incentive_id"),
            pl.lit(inc.kind, pl.String).alias("kind"),
            pl.lit(inc.earning_code, pl.String).alias("earning_code"),
        ]
        nulls = {
            "base_measurement_id": pl.lit(None, pl.String),
            "base_value": pl.lit(None, fp.RAW),
            "quota_value": pl.lit(None, fp.RAW),
            "tier_value": pl.lit(None, fp.RAW),
            "tier_index": pl.lit(None, pl.Int32),
            "rate": pl.lit(None, fp.RAW),
            "multiplier": pl.lit(None, fp.RAW),
            "floored": pl.lit(False),
            "capped": pl.lit(False),
            "condition_met": pl.lit(None, pl.Boolean),
        }
        if isinstance(inc, PerCreditCommission):
            total = pl.col(f"pc:{inc.incentive_id}")
            trace = {**nulls, "rate": fp.lit(fp.num(inc.rate))}
            return self.frame.select(
                *common,
                **trace,
                cumulative_minor=total,
                prior_cumulative_minor=pl.lit(0, pl.Int64),
                amount_minor=total,
            )
        pre = f"i:{inc.incentive_id}:"
        value, trace = self.value(inc, self.now, pre)
        self.add(**{f"{pre}cum": fp.p_to_minor(pl.col(value), exp)})
        prior = pl.lit(0, pl.Int64)
        if inc.payout_window is not Window.PERIOD and self.period.has_prior_in_window(inc.payout_window):
            before, _ = self.value(inc, self.prior, f"j:{inc.incentive_id}:")
            prior = fp.p_to_minor(pl.col(before), exp)
        self.add(**{f"{pre}before": prior})
        return self.frame.select(
            *common,
            **{**nulls, **trace},
            cumulative_minor=pl.col(f"{pre}cum"),
            prior_cumulative_minor=pl.col(f"{pre}before"),
            amount_minor=pl.col(f"{pre}cum") - pl.col(f"{pre}before"),
        )

    def value(self, inc: Any, resolve: Resolver, pre: str) -> tuple[str, dict[str, pl.Expr]]:
        """Add the incentive's value F (and its trace) as columns; return F's column and the trace."""
        key = f"incentives.{inc.incentive_id}"
        if isinstance(inc, RateTableIncentive):
            return self.rate_table(inc, resolve, pre)
        if isinstance(inc, ThresholdBonus | Spiff):
            self.add(**{f"{pre}c": self.compile(f"{key}.condition", resolve)})
            self.check(f"the condition of {inc.incentive_id}", f"{pre}c")
            cond = pl.col(f"{pre}c")
            self.add(**{f"{pre}F": pl.when(cond).then(self.compile(f"{key}.amount", resolve)).otherwise(ZERO)})
            self.check(f"incentive {inc.incentive_id}", f"{pre}F")
            return f"{pre}F", {"condition_met": cond}
        assert isinstance(inc, FormulaIncentive)
        self.add(**{f"{pre}v": self.compile(f"{key}.formula", resolve)})
        self.check(f"incentive {inc.incentive_id}", f"{pre}v")
        return self.floor_cap(inc.incentive_id, inc.floor, inc.cap, resolve, pre, f"{pre}v")

    def floor_cap(
        self, iid: str, floor: str | None, cap: str | None, resolve: Resolver, pre: str, value: str
    ) -> tuple[str, dict[str, pl.Expr]]:
        key = f"incentives.{iid}"
        v = pl.col(value)
        floored, capped = pl.lit(False), pl.lit(False)
        if floor is not None:
            self.add(**{f"{pre}fl": self.compile(f"{key}.floor", resolve)})
            self.check(f"the floor of {iid}", f"{pre}fl")
            low = pl.col(f"{pre}fl")
            self.add(**{f"{pre}floored": v < low, f"{pre}vf": fp.p_max(v, low)})
            floored, v = pl.col(f"{pre}floored"), pl.col(f"{pre}vf")
        if cap is not None:
            self.add(**{f"{pre}cp": self.compile(f"{key}.cap", resolve)})
            self.check(f"the cap of {iid}", f"{pre}cp")
            high = pl.col(f"{pre}cp")
            self.add(**{f"{pre}capped": v > high, f"{pre}vc": fp.p_min(v, high)})
            capped, v = pl.col(f"{pre}capped"), pl.col(f"{pre}vc")
        self.add(**{f"{pre}F": v})
        return f"{pre}F", {"floored": floored, "capped": capped}

    @staticmethod
    def tier_index(x: pl.Expr, tiers: tuple[Tier, ...]) -> pl.Expr:
        index: pl.Expr = pl.lit(0, pl.Int32)
        for t in tiers[1:]:
            index = index + (x >= fp.lit(t.lower)).cast(pl.Int32)
        return pl.when(x.is_null()).then(None).otherwise(index).cast(pl.Int32)

    @staticmethod
    def pick(index: pl.Expr, tiers: tuple[Tier, ...]) -> pl.Expr:
        out = pl.when(index == 0).then(fp.lit(tiers[0].rate))
        for j, t in enumerate(tiers[1:], start=1):
            out = out.when(index == j).then(fp.lit(t.rate))
        return out.otherwise(None).cast(fp.RAW)

    def rate_table(self, inc: RateTableIncentive, resolve: Resolver, pre: str) -> tuple[str, dict[str, pl.Expr]]:
        key = f"incentives.{inc.incentive_id}"
        base = resolve(inc.base)
        quota = ZERO
        if inc.quota is not None:
            self.add(**{f"{pre}q": self.compile(f"{key}.quota", resolve)})
            self.check(f"the quota of {inc.incentive_id}", f"{pre}q")
            quota = pl.col(f"{pre}q")
        self.add(**{f"{pre}x": base if inc.basis is TierBasis.AMOUNT else fp.p_div(base, quota)})
        self.check(f"the attainment of {inc.incentive_id}", f"{pre}x")
        x = pl.col(f"{pre}x")
        self.add(**{f"{pre}i": self.tier_index(x, inc.tiers)})
        self.add(**{f"{pre}r": self.pick(pl.col(f"{pre}i"), inc.tiers)})
        if inc.method is TierMethod.STEPPED:
            value = fp.p_mul(base, pl.col(f"{pre}r"))
        else:
            bounds = []
            for j, t in enumerate(inc.tiers):
                if inc.basis is TierBasis.AMOUNT:
                    bounds.append(fp.lit(t.lower))
                else:
                    self.add(**{f"{pre}L{j}": fp.p_mul(fp.lit(t.lower), quota)})
                    self.check(f"the tier bounds of {inc.incentive_id}", f"{pre}L{j}")
                    bounds.append(pl.col(f"{pre}L{j}"))
            value = ZERO
            for j, t in enumerate(inc.tiers):
                top = base if j == len(inc.tiers) - 1 else self.materialize(fp.p_min(base, bounds[j + 1]))
                piece = self.materialize(fp.p_sub(top, bounds[j]))
                if j > 0:
                    piece = self.materialize(fp.p_max(piece, ZERO))
                value = self.materialize(fp.p_add(value, self.materialize(fp.p_mul(piece, fp.lit(t.rate)))))
        self.add(**{f"{pre}v0": value})
        self.check(f"incentive {inc.incentive_id}", f"{pre}v0")
        current = f"{pre}v0"
        multiplier = pl.lit(None, fp.RAW)
        if inc.multipliers:
            self.add(**{f"{pre}mi": self.tier_index(x, inc.multipliers)})
            self.add(**{f"{pre}m": self.pick(pl.col(f"{pre}mi"), inc.multipliers)})
            self.add(**{f"{pre}v1": fp.p_mul(pl.col(current), pl.col(f"{pre}m"))})
            self.check(f"incentive {inc.incentive_id}", f"{pre}v1")
            current, multiplier = f"{pre}v1", pl.col(f"{pre}m")
        final, trace = self.floor_cap(inc.incentive_id, inc.floor, inc.cap, resolve, pre, current)
        trace.update(
            base_measurement_id=pl.lit(inc.base, pl.String),
            base_value=base,
            quota_value=pl.col(f"{pre}q") if inc.quota is not None else pl.lit(None, fp.RAW),
            tier_value=x,
            tier_index=pl.col(f"{pre}i"),
            rate=pl.col(f"{pre}r"),
            multiplier=multiplier,
        )
        return final, trace


def evaluate_plans(
    ctx: EngineContext, payees: pl.DataFrame, aggregate: pl.DataFrame, agg: Aggregation
) -> list[PlanOutputs]:
    out = []
    for pc in range(len(ctx.compiled)):
        mine = payees.filter(pl.col("plan") == pc)
        if mine.height:
            out.append(PlanEvaluation(ctx, pc, mine, aggregate, agg).run())
    return out


__all__ = ["PlanEvaluation", "PlanOutputs", "evaluate_plans", "payee_frame"]
