"""Engine steps 1-2, vectorized: classify transactions by the credit rules of their seller's plan,
split them into direct credits, attribute each to the position holder on the credit date, roll them up
the hierarchy in effect on that date, and aggregate everything the measurements need per payee,
month and credit type (direct or indirect).

The direct credits are kept (coded, with one ``u{L}``/``h{L}`` column pair per roll-up level: manager
position and its holder) so that `credit_lines` can list every credit for tracing without ever
materialising one row per indirect credit during the run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.engine_context import CODE, EngineContext, asof
from services.commissions.domain.periods import Window
from services.commissions.domain.plans import SELLER, CreditFilter, PerCreditCommission
from services.commissions.domain.results import CREDIT_SCHEMA
from services.commissions.domain.transactions import CLASSIFIER_COLUMNS

KEY = pl.UInt64
DIRECT, INDIRECT = 0, 1


def in_values(name: str, values: tuple[str, ...] | list[str], dtype: pl.DataType | None = None) -> pl.Expr:
    """``name`` is one of ``values``; a missing classifier counts as the empty string."""
    wanted = list(values)
    if isinstance(dtype, pl.Enum):
        known = set(dtype.categories.to_list())
        wanted = [v for v in wanted if v in known]
    expr = pl.col(name).is_in(wanted) if wanted else pl.lit(False)
    if "" in values:
        expr = expr | pl.col(name).is_null()
    return expr.fill_null(False)


def condition_expr(condition: dict[Any, tuple[str, ...]], schema: pl.Schema | None = None) -> pl.Expr:
    """A classifier condition (every listed classifier in its values) as a boolean expression."""
    out = pl.lit(True)
    for key, values in condition.items():
        out = out & in_values(str(key), values, None if schema is None else schema.get(str(key)))
    return out


def payee_key(part: pl.Expr, pos: pl.Expr) -> pl.Expr:
    """(participant, position) packed into one UInt64 for fast grouping."""
    return (part.cast(KEY) * (1 << 32)) + pos.cast(KEY)


@dataclass(frozen=True)
class FilterSpec:
    """A credit filter without its credit type (handled by the aggregate's ``kind`` column)."""

    rule_codes: frozenset[int] | None
    condition: tuple[tuple[str, tuple[str, ...]], ...]

    def accepts_rule(self, rule_code: int) -> bool:
        return self.rule_codes is None or rule_code in self.rule_codes


@dataclass(frozen=True)
class PerCreditSpec:
    """One PER_CREDIT incentive of one plan: its filter and what each credit is worth."""

    plan_code: int
    incentive: PerCreditCommission
    filter_index: int


@dataclass
class Aggregation:
    """The distinct filters the plans read; aggregate column ``a{f}``/``n{f}`` is the amount/units sum
    of filter ``f``, ``c{k}`` the per-credit value sum of per-credit incentive ``k``."""

    filters: list[FilterSpec] = field(default_factory=list)
    per_credit: list[PerCreditSpec] = field(default_factory=list)

    def filter_index(self, ctx: EngineContext, plan_code: int, flt: CreditFilter) -> int:
        rules = None
        if flt.rule_ids is not None:
            rules = frozenset(r.code for r in ctx.rules if r.plan_code == plan_code and r.rule.rule_id in flt.rule_ids)
        spec = FilterSpec(rules, tuple(sorted((str(k), tuple(sorted(v))) for k, v in flt.condition.items())))
        if spec not in self.filters:
            self.filters.append(spec)
        return self.filters.index(spec)

    def columns(self) -> list[str]:
        return [f"{p}{f}" for f in range(len(self.filters)) for p in ("a", "n")] + [
            f"c{k}" for k in range(len(self.per_credit))
        ]


def plan_aggregation(ctx: EngineContext) -> Aggregation:
    """Every distinct filter the plans' SUM/COUNT measurements and per-credit incentives use."""
    agg = Aggregation()
    for pc, plan in enumerate(ctx.compiled):
        for m in plan.plan.measurements:
            if m.formula is None:
                agg.filter_index(ctx, pc, m.filter)
        for inc in plan.plan.incentives:
            if isinstance(inc, PerCreditCommission):
                agg.per_credit.append(PerCreditSpec(pc, inc, agg.filter_index(ctx, pc, inc.filter)))
    return agg


@dataclass
class Credits:
    """Direct credits (coded parts), the transaction ids they point to, and the aggregate."""

    parts: list[pl.DataFrame]
    transaction_ids: pl.Series  # tid -> transaction_id
    aggregate: pl.DataFrame  # key, month, kind, seller, a{f}, n{f}, c{k}


def _transactions(ctx: EngineContext, tx: pl.DataFrame, sellers: list[str] | None) -> tuple[pl.DataFrame, pl.Series]:
    """The transactions booked in the year to date, coded, with the seller's plan on the credit date.

    Position and classifier columns may be String, Categorical or Enum; an Enum of exactly the
    organisation's position ids (sorted) is used as the position code without any lookup."""
    period = ctx.period
    first = period.window_start(Window.YTD)
    seller_type = tx.schema["seller_position_id"]
    if isinstance(seller_type, pl.Enum) and seller_type.categories.equals(ctx.positions):
        seller = pl.col("seller_position_id").to_physical().cast(CODE)
    else:
        seller = pl.col("seller_position_id").cast(pl.String).cast(pl.Enum(ctx.positions)).to_physical().cast(CODE)
    month = pl.col("booking_date").dt.year().cast(pl.Int32) * 12 + pl.col("booking_date").dt.month().cast(pl.Int32) - 1
    classifiers = [
        (pl.col(c).fill_null("") if tx.schema[c] == pl.String else pl.col(c)).alias(c) for c in CLASSIFIER_COLUMNS
    ]
    lazy = tx.lazy().filter(pl.col("booking_date") >= first.start, pl.col("booking_date") < period.end)
    if sellers is not None:
        codes = [ctx.position_code[p] for p in sellers]
        lazy = lazy.with_columns(seller.alias("_seller")).filter(pl.col("_seller").is_in(codes))
        seller = pl.col("_seller")
    lazy = lazy.with_row_index("tid")
    ids_plan = lazy.select(pl.col("transaction_id").cast(pl.String))
    base_plan = lazy.select(
        "tid",
        seller.alias("seller"),
        pl.col("credit_date").cast(pl.Int32).alias("cday"),
        month.alias("month"),
        pl.col("amount_minor").cast(pl.Int64).alias("amount"),
        pl.col("units").cast(pl.Int32).alias("units"),
        *classifiers,
    )
    ids_frame, base = pl.collect_all([ids_plan, base_plan])
    return asof(base, "seller", "cday", ctx.plan_timeline, {"plan": "plan"}, ctx), ids_frame.to_series()


def _rates(agg: Aggregation, schema: pl.Schema) -> list[pl.Expr]:
    """Per per-credit incentive, the raw Num rate of each transaction (by classifier value if keyed)."""
    out = []
    for k, spec in enumerate(agg.per_credit):
        inc = spec.incentive
        default = fp.to_raw(fp.num(inc.rate))
        if inc.rates_by is not None and inc.rate_table:
            keys = list(inc.rate_table)
            dtype = schema.get(str(inc.rates_by))
            if isinstance(dtype, pl.Enum):
                keys = [k for k in keys if k in set(dtype.categories.to_list())]
            values = [fp.to_raw(fp.num(inc.rate_table[x])) for x in keys]
            rate = pl.col(str(inc.rates_by)).replace_strict(keys, values, default=default, return_dtype=pl.Int64)
        else:
            rate = pl.lit(default, pl.Int64)
        out.append(rate.alias(f"rate{k}"))
    return out


def build_credits(
    ctx: EngineContext,
    transactions: pl.DataFrame,
    agg: Aggregation,
    *,
    sellers: list[str] | None = None,
) -> Credits:
    """Credit, roll up and aggregate. ``sellers`` restricts the transactions read to those of the
    given selling positions (an incremental run)."""
    base, ids = _transactions(ctx, transactions, sellers)
    schema = base.schema
    conditions = [condition_expr(dict(spec.condition), schema).alias(f"cond{f}") for f, spec in enumerate(agg.filters)]
    rule_matches = [condition_expr(dict(ref.rule.condition), schema).alias(f"rule{ref.code}") for ref in ctx.rules]
    base = base.with_columns(*conditions, *_rates(agg, schema), *rule_matches).drop(*CLASSIFIER_COLUMNS)

    parts: list[pl.DataFrame] = []
    aggregates: list[pl.DataFrame] = []
    for ref in ctx.rules:
        rule = ref.rule
        matched = base.filter((pl.col("plan") == ref.plan_code) & pl.col(f"rule{ref.code}"))
        if matched.height == 0:
            continue
        for index, target in enumerate(rule.targets):
            receiver = (
                pl.col("seller") if target.position == SELLER else pl.lit(ctx.position_code[target.position], CODE)
            )
            millionths = int(target.percent * 10_000)
            amount = pl.col("amount")
            if millionths != 1_000_000:
                amount = fp.rhe_div(amount.cast(fp.WIDE) * millionths, 1_000_000).cast(pl.Int64)
            part = matched.with_columns(receiver.alias("receiver"), amount.alias("amount"))
            part = asof(part, "receiver", "cday", ctx.holders, {"part": "h0"}, ctx)
            current, level = "receiver", 0
            while rule.rollup_levels is None or level < rule.rollup_levels:
                nxt = asof(part, current, "cday", ctx.versions, {"mgr": f"u{level + 1}"}, ctx)
                if nxt.get_column(f"u{level + 1}").null_count() == nxt.height:
                    break
                level += 1
                part = asof(nxt, f"u{level}", "cday", ctx.holders, {"part": f"h{level}"}, ctx)
                current = f"u{level}"
            per_credit = [
                (
                    fp.rhe_div(pl.col("amount").cast(fp.WIDE) * pl.col(f"rate{k}"), fp.ONE)
                    + pl.col("units").cast(pl.Int64) * _per_unit(ctx, s)
                )
                .cast(pl.Int64)
                .alias(f"pcv{k}")
                for k, s in enumerate(agg.per_credit)
            ]
            part = part.with_columns(
                pl.lit(ref.code, pl.UInt32).alias("rule"), pl.lit(index, pl.Int32).alias("target"), *per_credit
            )
            aggregates += _aggregate(part, ref.code, level, agg)
            ups = [c for lv in range(1, level + 1) for c in (f"u{lv}", f"h{lv}")]
            parts.append(
                part.select(
                    "tid", "rule", "target", "seller", "cday", "month", "amount", "units", "receiver", "h0", *ups
                )
            )
    return Credits(parts, ids, _combine(aggregates, agg))


def _per_unit(ctx: EngineContext, spec: PerCreditSpec) -> int:
    return int(spec.incentive.amount_per_unit.scaleb(ctx.exponent))


def _aggregate(part: pl.DataFrame, rule_code: int, levels: int, agg: Aggregation) -> list[pl.DataFrame]:
    """Per credit level: sums per (payee, month, selling position) of every filter this rule can
    satisfy. Keeping the seller lets an incremental run swap one seller's contributions exactly."""
    masked: list[pl.Expr] = []
    for f, spec in enumerate(agg.filters):
        if spec.accepts_rule(rule_code):
            flag = pl.col(f"cond{f}")
            masked += [
                pl.when(flag).then(pl.col("amount")).otherwise(0).alias(f"a{f}"),
                pl.when(flag).then(pl.col("units").cast(pl.Int64)).otherwise(0).alias(f"n{f}"),
            ]
    for k, spec in enumerate(agg.per_credit):
        if agg.filters[spec.filter_index].accepts_rule(rule_code):
            flag = pl.col(f"cond{spec.filter_index}")
            masked.append(pl.when(flag).then(pl.col(f"pcv{k}")).otherwise(0).alias(f"c{k}"))
    if not masked:
        return []
    sums = [pl.col(e.meta.output_name()).sum() for e in masked]
    plans = []
    for level in range(levels + 1):
        pos, holder = ("receiver", "h0") if level == 0 else (f"u{level}", f"h{level}")
        rows = part.lazy().filter(pl.col(holder).is_not_null())
        plans.append(
            rows.select(payee_key(pl.col(holder), pl.col(pos)).alias("key"), "month", "seller", *masked)
            .group_by("key", "month", "seller")
            .agg(sums)
            .with_columns(pl.lit(DIRECT if level == 0 else INDIRECT, pl.Int8).alias("kind"))
        )
    return [frame for frame in pl.collect_all(plans) if frame.height]


def aggregate_schema(agg: Aggregation) -> dict[str, pl.DataType]:
    return {
        "key": KEY,
        "month": pl.Int32(),
        "kind": pl.Int8(),
        "seller": CODE,
        **dict.fromkeys(agg.columns(), pl.Int64()),
    }


def _combine(aggregates: list[pl.DataFrame], agg: Aggregation) -> pl.DataFrame:
    """All partial aggregates in one frame (rows are summed later, per payee)."""
    schema = aggregate_schema(agg)
    if not aggregates:
        return pl.DataFrame(schema=schema)
    columns = agg.columns()
    frames = [a.with_columns([pl.lit(0, pl.Int64).alias(c) for c in columns if c not in a.columns]) for a in aggregates]
    return pl.concat([f.select(list(schema)).cast(schema) for f in frames])  # type: ignore[arg-type]


def credit_lines(ctx: EngineContext, credits: Credits, participant_ids: Collection[str] | None = None) -> pl.DataFrame:
    """Every credit, direct and rolled up, decoded to ids (`results.CREDIT_SCHEMA`); only those of
    the given participants when ``participant_ids`` is set (filtered on codes, before decoding)."""
    wanted = None
    if participant_ids is not None:
        wanted = [ctx.participant_code[p] for p in participant_ids if p in ctx.participant_code]
    rule_plan = pl.Series([ctx.plan_ids[r.plan_code] for r in ctx.rules], dtype=pl.String)
    rule_id = pl.Series([r.rule.rule_id for r in ctx.rules], dtype=pl.String)
    frames = []
    for part in credits.parts:
        levels = sum(1 for c in part.columns if c[0] == "u" and c[1:].isdigit())
        for level in range(levels + 1):
            pos, holder = ("receiver", "h0") if level == 0 else (f"u{level}", f"h{level}")
            rows = part.filter(pl.col(pos).is_not_null())
            if wanted is not None:
                rows = rows.filter(pl.col(holder).is_in(wanted))
            frames.append(
                rows.select(
                    pl.lit(credits.transaction_ids).gather(pl.col("tid")).alias("transaction_id"),
                    ctx.decode("seller", ctx.positions).alias("seller_position_id"),
                    pl.lit(rule_plan).gather(pl.col("rule")).alias("plan_id"),
                    pl.lit(rule_id).gather(pl.col("rule")).alias("rule_id"),
                    pl.col("target").alias("target_index"),
                    pl.lit(level, pl.Int32).alias("level"),
                    ctx.decode(pos, ctx.positions).alias("position_id"),
                    ctx.decode(holder, ctx.participants).alias("participant_id"),
                    _period_text(pl.col("month")).alias("booking_period"),
                    pl.col("cday").cast(pl.Date).alias("credit_date"),
                    pl.col("amount").alias("amount_minor"),
                    pl.col("units").cast(pl.Int32),
                )
            )
    if not frames:
        return pl.DataFrame(schema=CREDIT_SCHEMA)
    return pl.concat(frames)


def _period_text(month: pl.Expr) -> pl.Expr:
    year = (month // 12).cast(pl.String)
    mm = (month % 12 + 1).cast(pl.String).str.zfill(2)
    return pl.concat_str([year, pl.lit("-"), mm])
