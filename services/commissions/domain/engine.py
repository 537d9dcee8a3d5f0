"""The vectorized calculation engine (polars): a full run of one period, and incremental runs that
recompute only what some participants' changed sales can affect.

The semantics are those of `reference` (read its docstring); this module only arranges the steps:

    classify -> credit -> roll up -> aggregate        (engine_credits)
    payees -> variables -> measure -> incentives       (engine_incentives)
    deposits -> pay -> payroll                         (engine_payments)

Public API for the service layer:

* ``prepare_context(inputs) -> EngineContext``: codes and effective-dated tables of the organisation
  and plans; cache it while they do not change.
* ``calculate_period(inputs, context=None) -> RunResult``: the full run; refuses a finalized period.
* ``calculate_incremental(inputs, previous, participant_ids, context=None) -> RunResult``: the
  participants' sales changed (transactions whose selling position they held), nothing else did since
  ``previous`` (same period, organisation and plans). Credits depend only on their own transaction, so
  the run re-credits only those sellers' transactions, swaps their contributions in the aggregate kept
  from ``previous`` (by payee, month, credit type and seller), and re-evaluates only the payees and
  participants those contributions reach. The result equals a full run on the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import polars as pl

from services.commissions.domain.engine_context import EngineContext, prepare_context
from services.commissions.domain.engine_credits import Credits, build_credits, credit_lines, plan_aggregation
from services.commissions.domain.engine_incentives import PlanOutputs, evaluate_plans, payee_frame
from services.commissions.domain.engine_payments import adjustments_frame, deposits, pay
from services.commissions.domain.inputs import RunInputs
from services.commissions.domain.periods import Window, day_number
from services.commissions.domain.results import (
    CREDIT_SCHEMA,
    MEASUREMENT_SCHEMA,
    PAYEE_SCHEMA,
    PAYOUT_SCHEMA,
    RunResult,
)
from services.commissions.domain.run_checks import check_run_inputs, refuse_finalized

CreditSource = Callable[[Collection[str] | None], pl.DataFrame]

__all__ = [
    "EngineContext",
    "EngineState",
    "calculate_incremental",
    "calculate_period",
    "holders_of",
    "positions_held",
    "prepare_context",
    "recompute",
]


def calculate_period(inputs: RunInputs, context: EngineContext | None = None) -> RunResult:
    """A full run of ``inputs.period``: every payee, every participant."""
    refuse_finalized(inputs)
    check_run_inputs(inputs)
    ctx = context or prepare_context(inputs)
    return _Run(inputs, ctx, "FULL").result()


def recompute(inputs: RunInputs, context: EngineContext | None = None) -> RunResult:
    """A finalized period recomputed with today's data, only to derive prior-period adjustments
    (`adjustments.prior_period_adjustments`); the result is never stored as a run of that period."""
    check_run_inputs(inputs)
    ctx = context or prepare_context(inputs)
    return _Run(inputs, ctx, "RECOMPUTE").result()


@dataclass(frozen=True)
class EngineState:
    """What an incremental run reuses from a previous result: the credit aggregate (by payee, month,
    credit type and selling position) and the fingerprint of the organisation and plans behind it."""

    aggregate: pl.DataFrame
    fingerprint: int


def calculate_incremental(
    inputs: RunInputs,
    previous: RunResult,
    participant_ids: Iterable[str],
    context: EngineContext | None = None,
) -> RunResult:
    """Recompute what the given participants' changed sales can affect and merge it into ``previous``."""
    refuse_finalized(inputs)
    if previous.period != inputs.period:
        raise ValueError(f"previous run is of {previous.period}, not {inputs.period}")
    ctx = context or prepare_context(inputs)
    state = previous.engine_state
    if not isinstance(state, EngineState) or state.fingerprint != ctx.fingerprint:
        raise ValueError(
            "the organisation or the plans changed since the previous run (or it kept no state): run in full"
        )
    participant_ids = sorted(set(participant_ids))
    sellers = positions_held(ctx, participant_ids)
    read = inputs.transactions.filter(pl.col("seller_position_id").is_in(sellers))
    check_run_inputs(inputs, read, ctx.positions)
    return _Run(inputs, ctx, "INCREMENTAL", previous, participant_ids, sellers).result()


def _window_holders(ctx: EngineContext) -> pl.DataFrame:
    first, end = day_number(ctx.period.window_start(Window.YTD).start), day_number(ctx.period.end)
    return ctx.holders.filter(pl.col("start") < end, pl.col("end") > first)


def positions_held(ctx: EngineContext, participant_ids: Iterable[str]) -> list[str]:
    """The positions the participants held from the start of the period's year to its end: the sellers
    whose transactions an incremental run for them reads."""
    codes = [ctx.participant_code[p] for p in participant_ids if p in ctx.participant_code]
    held = _window_holders(ctx).filter(pl.col("part").is_in(codes))
    return sorted(ctx.positions.gather(held.get_column("pos").unique()).to_list())


def holders_of(ctx: EngineContext, position_ids: Iterable[str]) -> tuple[set[str], set[str]]:
    """Who held the positions from the start of the period's year to its end, and which of the
    positions nobody held (an incremental run cannot start from a vacant seller: run in full)."""
    wanted = set(position_ids)
    codes = [ctx.position_code[p] for p in wanted if p in ctx.position_code]
    held = _window_holders(ctx).filter(pl.col("pos").is_in(codes))
    participants = set(ctx.participants.gather(held.get_column("part").unique()).to_list())
    occupied = set(ctx.positions.gather(held.get_column("pos").unique()).to_list())
    return participants, wanted - occupied


class _Run:
    def __init__(
        self,
        inputs: RunInputs,
        ctx: EngineContext,
        kind: str,
        previous: RunResult | None = None,
        changed: list[str] | None = None,
        sellers: list[str] | None = None,
    ) -> None:
        self.inputs = inputs
        self.ctx = ctx
        self.kind = kind
        self.previous = previous
        self.changed = changed or []
        self.sellers = sellers

    def result(self) -> RunResult:
        ctx, inputs = self.ctx, self.inputs
        agg = plan_aggregation(ctx)
        credits = build_credits(ctx, inputs.transactions, agg, sellers=self.sellers)
        touched: pl.DataFrame | None = None
        if self.previous is None:
            aggregate = state_aggregate = credits.aggregate
            payees = payee_frame(ctx, aggregate)
        else:
            state = self.previous.engine_state
            assert isinstance(state, EngineState) and self.sellers is not None
            codes = [ctx.position_code[p] for p in self.sellers]
            mine = pl.col("seller").is_in(codes)
            old, new = state.aggregate.lazy(), credits.aggregate.lazy()
            keys_plan = pl.concat([old.filter(mine).select("key"), new.select("key")]).unique()
            merged_plan = pl.concat([old.filter(~mine), new])
            state_aggregate, keys = pl.collect_all([merged_plan, keys_plan])
            # Only the payees the changed sellers' credits reach are evaluated again.
            aggregate = state_aggregate.filter(pl.col("key").is_in(keys.get_column("key").implode()))
            payees = payee_frame(ctx, aggregate, only=keys.get_column("key"))
            touched = keys.select(
                ctx.decode_expr((pl.col("key") // (1 << 32)).cast(pl.UInt32), ctx.participants).alias("participant_id"),
                ctx.decode_expr((pl.col("key") % (1 << 32)).cast(pl.UInt32), ctx.positions).alias("position_id"),
            )
        outputs = evaluate_plans(ctx, payees, aggregate, agg)
        payee_rows = self.payees(payees, outputs)
        measurements = self.decode_lines([m for o in outputs for m in o.measurements], MEASUREMENT_SCHEMA)
        payouts = self.decode_lines([p for o in outputs for p in o.payouts], PAYOUT_SCHEMA)
        conditions = self.conditions(payees, outputs)

        pair = ["participant_id", "position_id"]
        open_in = inputs.open_deposits
        if touched is not None:
            open_in = open_in.join(touched, on=pair, how="semi")
        dep = deposits(ctx, open_in, payouts, conditions)
        adjustments = adjustments_frame(inputs)
        prior, adjustments_in = inputs.prior_balances, adjustments
        pay_payees, pay_payouts, held, released = payee_rows, payouts, dep.held, dep.released
        who: list[str] = []
        if touched is not None:
            prev = self.previous
            assert prev is not None
            # Everyone whose payees are recomputed (before or after the change) and the changed ones.
            who = sorted(
                set(touched.get_column("participant_id").to_list())
                | set(self.changed)
                | set(open_in.get_column("participant_id").to_list())
            )

            def keep(frame: pl.DataFrame) -> pl.DataFrame:
                return frame.filter(pl.col("participant_id").is_in(who)).join(touched, on=pair, how="anti")

            pay_payees = pl.concat([payee_rows, keep(prev.payees)])
            pay_payouts = pl.concat([payouts, keep(prev.payouts)])
            held = pl.concat([held, keep(prev.deposits_held)])
            released = pl.concat([released, keep(prev.deposits_released)])
            adjustments_in = adjustments.filter(pl.col("participant_id").is_in(who))
            prior = prior.filter(pl.col("participant_id").is_in(who))
        pay_input = pay_payees.select(
            "participant_id",
            "position_id",
            pl.col("ref_date").cast(pl.Int32).alias("ref"),
            pl.col("draw_minor").alias("draw"),
            pl.col("draw_recoverable").alias("recoverable"),
        )
        paid = pay(ctx, inputs, pay_input, pay_payouts, held, released, adjustments_in, prior)
        frames = {
            "payees": payee_rows,
            "measurements": measurements,
            "payouts": payouts,
            "deposits_held": dep.held,
            "deposits_released": dep.released,
            "open_deposits": pl.concat([dep.still_open, dep.held]),
            "payments": paid.payments,
            "balances": paid.balances,
            "payroll": paid.payroll,
        }
        source = self.credit_source(credits)
        if touched is not None:
            frames, source = self.merge(frames, touched, who, source)
        return RunResult(
            period=inputs.period,
            currency=inputs.currency,
            run_version=inputs.run_version,
            kind=self.kind,
            adjustments=adjustments,
            credit_source=source,
            engine_state=EngineState(state_aggregate, ctx.fingerprint),
            **frames,
        )

    def credit_source(self, credits: Credits) -> CreditSource:
        ctx = self.ctx
        return lambda who: credit_lines(ctx, credits, who)

    def merge(
        self, frames: dict[str, pl.DataFrame], touched: pl.DataFrame, who: list[str], source: CreditSource
    ) -> tuple[dict[str, pl.DataFrame], CreditSource]:
        """Previous rows outside what was recomputed, plus the recomputed rows."""
        prev = self.previous
        assert prev is not None and self.sellers is not None
        out = {}
        for name, frame in frames.items():
            old = getattr(prev, name)
            if name in ("payments", "balances", "payroll"):
                kept = old.filter(~pl.col("participant_id").is_in(who))
            else:
                kept = old.join(touched, on=["participant_id", "position_id"], how="anti")
            out[name] = pl.concat([kept, frame.select(old.columns).cast(old.schema)])
        previous_lines, sellers = prev.credit_source, self.sellers

        def lines(participants: Collection[str] | None) -> pl.DataFrame:
            kept = previous_lines(participants).filter(~pl.col("seller_position_id").is_in(sellers))
            return pl.concat([kept, source(participants)]).cast(CREDIT_SCHEMA)  # type: ignore[arg-type]

        return out, lines

    def payees(self, payees: pl.DataFrame, outputs: list[PlanOutputs]) -> pl.DataFrame:
        ctx = self.ctx
        draws = [o.draws for o in outputs if o.draws is not None]
        frame = payees
        if draws:
            frame = frame.join(pl.concat(draws), on="key", how="left")
        else:
            frame = frame.with_columns(draw=pl.lit(None, pl.Int64))
        plan_ids = pl.Series([p for p in ctx.plan_ids], dtype=pl.String)
        versions = pl.Series([c.plan.version for c in ctx.compiled], dtype=pl.Int32)
        recoverable = pl.Series(
            [None if c.plan.draw is None else c.plan.draw.recoverable for c in ctx.compiled], dtype=pl.Boolean
        )
        return frame.select(
            ctx.decode("part", ctx.participants).alias("participant_id"),
            ctx.decode("pos", ctx.positions).alias("position_id"),
            ctx.decode("title", ctx.titles).alias("title_id"),
            pl.lit(plan_ids).gather(pl.col("plan")).alias("plan_id"),
            pl.lit(versions).gather(pl.col("plan")).alias("plan_version"),
            pl.col("ref").cast(pl.Date).alias("ref_date"),
            pl.col("draw").alias("draw_minor"),
            pl.lit(recoverable).gather(pl.col("plan")).alias("draw_recoverable"),
        ).cast(PAYEE_SCHEMA)  # type: ignore[arg-type]

    def decode_lines(self, frames: list[pl.DataFrame], schema: dict[str, pl.DataType]) -> pl.DataFrame:
        if not frames:
            return pl.DataFrame(schema=schema)
        ctx = self.ctx
        return (
            pl.concat(frames, how="vertical_relaxed")
            .with_columns(
                ctx.decode("part", ctx.participants).alias("participant_id"),
                ctx.decode("pos", ctx.positions).alias("position_id"),
            )
            .select(list(schema))
            .cast(schema)  # type: ignore[arg-type]
        )

    def conditions(self, payees: pl.DataFrame, outputs: list[PlanOutputs]) -> pl.DataFrame:
        frames = [c for o in outputs for c in o.conditions]
        schema = {"participant_id": pl.String, "position_id": pl.String, "deposit_id": pl.String, "met": pl.Boolean}
        if not frames:
            return pl.DataFrame(schema=schema)
        ctx = self.ctx
        return (
            pl.concat(frames)
            .join(payees.select("key", "part", "pos"), on="key")
            .select(
                ctx.decode("part", ctx.participants).alias("participant_id"),
                ctx.decode("pos", ctx.positions).alias("position_id"),
                "deposit_id",
                "met",
            )
        )
