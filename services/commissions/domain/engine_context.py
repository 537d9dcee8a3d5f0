"""What the vectorized engine prepares once per organisation, plan book and period: dense integer
codes for ids and the effective-dated tables (position versions, holders, plan timeline, variable
overrides) as polars frames, plus the as-of lookup every step uses.

Ids are coded in sorted order, so comparing codes compares ids, and the same organisation always gets
the same codes (an incremental run can reuse a full run's context). Dates are polars Date physicals
(days since 1970-01-01, Int32); an open end is `OPEN_END`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from services.commissions.domain import fixed_point as fp
from services.commissions.domain.errors import PlanValidationError, Violation
from services.commissions.domain.inputs import RunInputs
from services.commissions.domain.money import exponent
from services.commissions.domain.periods import Period, Window, day_number
from services.commissions.domain.plans import SELLER, CompiledPlan, CreditRule

OPEN_END = 2**31 - 1
CODE = pl.UInt32
DAY = pl.Int32


def _day(d: date | None) -> int:
    return OPEN_END if d is None else day_number(d)


@dataclass(frozen=True)
class RuleRef:
    """A credit rule of one plan, with its global code."""

    code: int
    plan_code: int
    rule: CreditRule


@dataclass
class EngineContext:
    """Codes and effective-dated tables of one organisation + plan book, valid for one period."""

    period: Period
    currency: str
    exponent: int
    positions: pl.Series  # code -> id
    participants: pl.Series
    titles: pl.Series
    plan_ids: list[str]
    compiled: list[CompiledPlan]
    position_code: dict[str, int]
    participant_code: dict[str, int]
    title_code: dict[str, int]
    versions: pl.DataFrame  # pos, start, end, title, mgr (sorted by start)
    holders: pl.DataFrame  # pos, start, end, part (sorted by start)
    plan_timeline: pl.DataFrame  # pos, start, end, plan (sorted by start)
    overrides: pl.DataFrame  # plan, variable, pos, title, start, end, value (raw Num)
    rules: list[RuleRef]

    fingerprint: int  # changes when the organisation or the plan book does
    dense_cache: dict[tuple[int, int, int], pl.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def first_day(self) -> int:
        return day_number(self.period.window_start(Window.YTD).start)

    @property
    def last_day(self) -> int:
        return day_number(self.period.last_day)

    def decode(self, column: str, series: pl.Series) -> pl.Expr:
        """Codes in ``column`` back to ids (null stays null)."""
        return pl.lit(series).gather(pl.col(column))

    @staticmethod
    def decode_expr(codes: pl.Expr, series: pl.Series) -> pl.Expr:
        return pl.lit(series).gather(codes)


def prepare_context(inputs: RunInputs) -> EngineContext:
    """Build the codes and tables of a run's organisation and plans (no transactions involved)."""
    org, book = inputs.org, inputs.plans
    positions = sorted(org.position_ids)
    participants = sorted(org.participant_ids)
    titles = sorted({t.title_id for t in org.titles} | {v.title_id for v in org.positions})
    pos_code = {p: i for i, p in enumerate(positions)}
    part_code = {p: i for i, p in enumerate(participants)}
    title_code = {t: i for i, t in enumerate(titles)}
    plan_ids = [p.plan_id for p in book.plans]
    plan_code = {p: i for i, p in enumerate(plan_ids)}
    compiled = [book.compiled(p) for p in plan_ids]

    versions = pl.DataFrame(
        {
            "pos": [pos_code[v.position_id] for v in org.positions],
            "start": [_day(v.valid_from) for v in org.positions],
            "end": [_day(v.valid_to) for v in org.positions],
            "title": [title_code[v.title_id] for v in org.positions],
            "mgr": [None if v.manager_id is None else pos_code[v.manager_id] for v in org.positions],
        },
        schema={"pos": CODE, "start": DAY, "end": DAY, "title": CODE, "mgr": CODE},
    ).sort("start")
    holders = pl.DataFrame(
        {
            "pos": [pos_code[a.position_id] for a in org.assignments],
            "start": [_day(a.valid_from) for a in org.assignments],
            "end": [_day(a.valid_to) for a in org.assignments],
            "part": [part_code[a.participant_id] for a in org.assignments],
        },
        schema={"pos": CODE, "start": DAY, "end": DAY, "part": CODE},
    ).sort("start")
    timeline = _plan_timeline(inputs, versions, pos_code, title_code, plan_code)
    overrides = pl.DataFrame(
        {
            "plan": [plan_code.get(o.plan_id) for o in book.overrides],
            "variable": [o.variable for o in book.overrides],
            "pos": [None if o.position_id is None else pos_code.get(o.position_id) for o in book.overrides],
            "title": [None if o.title_id is None else title_code.get(o.title_id) for o in book.overrides],
            "start": [_day(o.valid_from) for o in book.overrides],
            "end": [_day(o.valid_to) for o in book.overrides],
            "value": [fp.to_raw(fp.num(o.value)) for o in book.overrides],
        },
        schema={
            "plan": CODE,
            "variable": pl.String,
            "pos": CODE,
            "title": CODE,
            "start": DAY,
            "end": DAY,
            "value": fp.RAW,
        },
    )
    rules = [
        RuleRef(code, pc, rule)
        for code, (pc, rule) in enumerate((pc, r) for pc, c in enumerate(compiled) for r in c.plan.credit_rules)
    ]
    unknown = [
        Violation(f"plans[{ref.plan_code}].credit_rules.{ref.rule.rule_id}.targets", f"unknown position {t.position!r}")
        for ref in rules
        for t in ref.rule.targets
        if t.position != SELLER and t.position not in pos_code
    ]
    if unknown:
        raise PlanValidationError(unknown)
    return EngineContext(
        period=inputs.period,
        currency=inputs.currency,
        exponent=exponent(inputs.currency),
        positions=pl.Series("positions", positions, dtype=pl.String),
        participants=pl.Series("participants", participants, dtype=pl.String),
        titles=pl.Series("titles", titles, dtype=pl.String),
        plan_ids=plan_ids,
        compiled=compiled,
        position_code=pos_code,
        participant_code=part_code,
        title_code=title_code,
        versions=versions,
        holders=holders,
        plan_timeline=timeline,
        overrides=overrides,
        rules=rules,
        fingerprint=_fingerprint(inputs),
    )


def _fingerprint(inputs: RunInputs) -> int:
    """A digest of everything but the transactions that a run's credits and payees depend on. Stable
    across processes (not Python's salted ``hash``): the service stores it with a run's state and
    compares it in a later process before running incrementally."""
    org, book = inputs.org, inputs.plans
    plans = tuple(p.model_dump_json() for p in book.plans)
    parts = (
        inputs.period,
        org.titles,
        org.positions,
        org.participants,
        org.assignments,
        plans,
        book.assignments,
        book.overrides,
    )
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _plan_timeline(
    inputs: RunInputs,
    versions: pl.DataFrame,
    pos_code: dict[str, int],
    title_code: dict[str, int],
    plan_code: dict[str, int],
) -> pl.DataFrame:
    """Per position, non-overlapping ranges with the plan in effect: its own plan assignment where one
    covers the day, else its title's (through the position version in effect that day)."""
    book = inputs.plans
    schema = {"pos": CODE, "start": DAY, "end": DAY, "plan": CODE}
    own = pl.DataFrame(
        [
            (pos_code[a.position_id], _day(a.valid_from), _day(a.valid_to), plan_code[a.plan_id])
            for a in book.assignments
            if a.position_id is not None
        ],
        schema=schema,
        orient="row",
    )
    by_title = pl.DataFrame(
        [
            (title_code[a.title_id], _day(a.valid_from), _day(a.valid_to), plan_code[a.plan_id])
            for a in book.assignments
            if a.title_id is not None and a.title_id in title_code
        ],
        schema={"title": CODE, "t_start": DAY, "t_end": DAY, "plan": CODE},
        orient="row",
    )
    inherited = (
        versions.join(by_title, on="title", how="inner")
        .with_columns(start=pl.max_horizontal("start", "t_start"), end=pl.min_horizontal("end", "t_end"))
        .filter(pl.col("start") < pl.col("end"))
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )
    if own.height == 0:
        return inherited.sort("start")
    # Elementary segments between every boundary of both sources; own assignments win.
    bounds = (
        pl.concat(
            [own.select("pos", d=pl.col(c)) for c in ("start", "end")]
            + [inherited.select("pos", d=pl.col(c)) for c in ("start", "end")]
        )
        .unique()
        .sort("pos", "d")
        .with_columns(next=pl.col("d").shift(-1).over("pos"))
        .filter(pl.col("next").is_not_null())
        .select("pos", start=pl.col("d"), end=pl.col("next"))
        .sort("start")
    )
    seg = asof(bounds, "pos", "start", own.sort("start"), {"plan": "own"})
    seg = asof(seg, "pos", "start", inherited.sort("start"), {"plan": "inherited"})
    return (
        seg.select("pos", "start", "end", plan=pl.coalesce("own", "inherited"))
        .filter(pl.col("plan").is_not_null())
        .cast(schema)  # type: ignore[arg-type]
        .sort("start")
    )


def _dense(table: pl.DataFrame, lo: int, hi: int, size: int) -> pl.DataFrame:
    """Per code, the values of positions with a single table row covering [lo, hi]; others null."""
    values = [c for c in table.columns if c not in ("pos", "start", "end")]
    simple = (
        table.group_by("pos")
        .agg(pl.len().alias("_n"), pl.col("start").min(), pl.col("end").max(), *[pl.col(c).first() for c in values])
        .filter((pl.col("_n") == 1) & (pl.col("start") <= lo) & (pl.col("end") > hi))
        .drop("_n", "start", "end")
    )
    return (
        pl.select(pl.int_range(size, dtype=table.schema["pos"]).alias("pos"))
        .join(simple.with_columns(pl.lit(True).alias("_simple")), on="pos", how="left")
        .sort("pos")
    )


def asof(
    left: pl.DataFrame,
    key: str,
    day: str,
    table: pl.DataFrame,
    values: dict[str, str],
    ctx: EngineContext | None = None,
) -> pl.DataFrame:
    """For each row of ``left``, the ``values`` of the ``table`` row (pos, start, end, ...;
    non-overlapping per pos) whose range covers the row's day, else null. ``values`` maps table
    columns to the names they get in the result; the rows of ``left`` keep their order.

    Most positions have one version and one holder over the days a run looks at: their values are
    gathered from a dense array indexed by the code (no join, no sort). Only rows of positions with
    several rows (a reorganisation, a transfer) or a partial range go through a sorted as-of join."""
    out_types = {n: table.schema[c] for c, n in values.items()}
    if left.height == 0:
        return left.with_columns([pl.lit(None, dtype=t).alias(n) for n, t in out_types.items()])
    keys = left.get_column(key)
    days = left.get_column(day)
    lo, hi = days.min(), days.max()
    cache = None
    if ctx is not None:  # a range shared by every lookup of the run, so the dense arrays are reused
        cache = ctx.dense_cache
        lo, hi = min(lo, ctx.first_day), max(hi, ctx.last_day)  # type: ignore[type-var, assignment]
    dense = None if cache is None else cache.get((id(table), lo, hi))  # type: ignore[arg-type]
    if dense is None or dense.height <= (keys.max() or 0):  # type: ignore[operator]
        dense = _dense(table, lo, hi, int(max(keys.max() or 0, table.get_column("pos").max() or 0)) + 1)  # type: ignore[arg-type]
        if cache is not None:
            cache[(id(table), lo, hi)] = dense  # type: ignore[index]
    codes = keys.cast(pl.UInt32)
    gathered = {n: dense.get_column(c).gather(codes).alias(n) for c, n in values.items()}
    needs = keys.is_not_null() & ~dense.get_column("_simple").gather(codes).fill_null(False)
    if needs.any():
        index = needs.arg_true()
        subset = (
            left.select(pl.col(key).alias("_key"), pl.col(day).alias("_day"))
            .with_row_index("_i")
            .filter(needs)
            .sort("_day")
        )
        right = table.select(
            pl.col("pos").cast(subset.schema["_key"]).alias("_key"),
            pl.col("start").alias("_start"),
            pl.col("end").alias("_end"),
            *[pl.col(c).alias(n) for c, n in values.items()],
        ).sort("_start")
        joined = subset.join_asof(
            right, left_on="_day", right_on="_start", by="_key", strategy="backward", check_sortedness=False
        )
        covered = pl.col("_day") < pl.col("_end")
        joined = joined.select(
            "_i", *[pl.when(covered).then(pl.col(n)).otherwise(None).alias(n) for n in values.values()]
        )
        del index
        for n in values.values():
            gathered[n] = gathered[n].scatter(joined.get_column("_i"), joined.get_column(n))
    return left.with_columns(list(gathered.values()))
