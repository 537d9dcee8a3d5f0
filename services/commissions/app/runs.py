"""A period's calculation run as the service performs it: what it reads, whether it can be incremental,
and the prior-period adjustments it pays for late changes to finalized periods.

Everything here works inside the caller's transaction (a `Repository`), holding the period's lock.

*What is new to a run.* Before reading, a run takes a PostgreSQL snapshot (`inputs_snapshot`); a
transaction or adjustment whose writer is not visible in it is new to that run, however its commit
interleaved with the read (such a row may be read and still count as new: recomputed twice, never
missed). An incremental run recomputes exactly the participants the new rows touch.

*Incremental runs* start from the period's latest run: its stored frames and its credit aggregate
(`run_state`). They are refused (the run is full, and says why) when the organisation or plans
changed (the engine's fingerprint differs), the balances carried from the previous period come from
another run, the currency differs, or a changed transaction belongs to a position nobody held.

*Prior-period adjustments.* A finalized period F is never rewritten. The open period (the one right
after the latest finalized period) pays its late changes; a run of a later period does not, so a
difference is never carried by two periods. It is *stale* when something it
reads was recorded after it was settled: after its finalization, or after the last finalized later run
that already compared it. Each run of the open period recomputes every stale F with today's data and
pays the difference against what F paid plus the prior-period adjustments later finalized runs already
made for F. Automatic overpayments are classified ``OTHER``: a late reversal or a plan corrected after
the fact is not a counting error, so Labour Code art. 137 does not let the engine recover it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import polars as pl

from services.commissions.domain.adjustments import prior_period_adjustments
from services.commissions.domain.engine import (
    EngineContext,
    EngineState,
    calculate_incremental,
    calculate_period,
    holders_of,
    positions_held,
    prepare_context,
    recompute,
)
from services.commissions.domain.inputs import Adjustment, OverpaymentClass, RunInputs
from services.commissions.domain.periods import Period, Window
from services.commissions.domain.results import KEYS, RunResult
from services.commissions.domain.transactions import transactions_frame
from services.commissions.store import Repository
from services.commissions.store.repository import CREDITS, RunRow

MAX_NAMED_PARTICIPANTS = 10_000


@dataclass(frozen=True)
class RunOutcome:
    result: RunResult
    prior_period_adjustments: tuple[Adjustment, ...]
    recomputed_participants: int = 0
    note: str = ""


def rebuild_result(row: RunRow, frames: dict[str, pl.DataFrame], state: EngineState | None = None) -> RunResult:
    """A stored run as the domain's `RunResult` (credits read lazily from the stored credit lines)."""
    credits = frames.pop(CREDITS, None)

    def credit_source(ids: object) -> pl.DataFrame:
        if credits is None:
            raise LookupError("the run's credits were not loaded")
        return credits if ids is None else credits.filter(pl.col("participant_id").is_in(list(ids)))  # type: ignore[call-overload]

    return RunResult(
        period=row.period,
        currency=row.currency,
        run_version=row.run_version,
        kind=row.kind,
        credit_source=credit_source,
        engine_state=state,
        **{name: frames[name] for name in KEYS},
    )


def _window(period: Period) -> tuple[date, date]:
    return period.window_start(Window.YTD).start, period.last_day


class PeriodRunner:
    """One run of one open period inside the caller's transaction."""

    def __init__(self, repo: Repository, period: Period, currency: str, version: int) -> None:
        self.repo = repo
        self.period = period
        self.currency = currency
        self.version = version

    async def _read(self, sellers: Sequence[str] | None) -> tuple[datetime, str, pl.DataFrame]:
        """Take the snapshot, then read the window's transactions (all, or the sellers')."""
        first, last = _window(self.period)
        as_of, snapshot = await self.repo.snapshot()
        return as_of, snapshot, await self.repo.transactions_frame(first, last, sellers)

    async def _base_inputs(self, period: Period, carried: tuple[Period, int] | None) -> RunInputs:
        repo = self.repo
        inputs = RunInputs(
            period=period,
            org=await repo.organisation(),
            plans=await repo.plan_book(period),
            transactions=transactions_frame(()),
            currency=self.currency,
            finalized_periods=await repo.finalized_periods(),
            run_version=self.version,
            adjustments=await repo.adjustments(period, self.currency),
        )
        if carried is not None:
            frames = await repo.frames(*carried, names=("balances", "open_deposits"))
            inputs = replace(inputs, prior_balances=frames["balances"], open_deposits=frames["open_deposits"])
        return inputs

    async def run(self, incremental: bool, named: Sequence[str]) -> tuple[RunOutcome, RunRow, EngineState]:
        repo, period = self.repo, self.period
        carried = await repo.latest_run_before(period)
        inputs = await self._base_inputs(period, carried)
        ctx = await asyncio.to_thread(prepare_context, inputs)
        ledger = await repo.ledger(period)
        previous_row = await repo.run(period, ledger.runs[-1].run_version) if ledger.runs else None
        previous_ppas = await self._previous_ppas(previous_row)

        note = ""
        start: tuple[RunResult, str] | None = None
        if incremental:
            start, note = await self._incremental_start(previous_row, carried, ctx.fingerprint)
        since = None if previous_row is None else previous_row.inputs_as_of
        ppas = await self._prior_period_adjustments(since, previous_ppas)
        inputs = replace(inputs, adjustments=inputs.adjustments + ppas)

        changed: list[str] | None = None
        if start is not None:
            previous, previous_snapshot = start
            changed, vacant = await self._changed_participants(ctx, previous_snapshot, previous_ppas, ppas, named)
            if vacant:
                changed = None
                note = (
                    "ran in full: transactions of positions nobody held are new since run "
                    f"{previous.run_version} ({', '.join(sorted(vacant)[:5])})"
                )
        if changed is None:
            as_of, snapshot, txns = await self._read(None)
            inputs = replace(inputs, transactions=txns)
            result = await asyncio.to_thread(calculate_period, inputs, ctx)
            outcome = RunOutcome(result, ppas, 0, note)
        else:
            as_of, snapshot, txns = await self._read(positions_held(ctx, changed))
            inputs = replace(inputs, transactions=txns)
            result = await asyncio.to_thread(calculate_incremental, inputs, previous, changed, ctx)
            outcome = RunOutcome(result, ppas, len(changed), "")
        state = result.engine_state
        assert isinstance(state, EngineState)
        row = RunRow(
            period, self.version, result.kind, self.currency, inputs.plans, datetime.now(UTC), as_of, carried, snapshot
        )
        return outcome, row, state

    async def _previous_ppas(self, row: RunRow | None) -> tuple[Adjustment, ...]:
        if row is None:
            return ()
        frame = (await self.repo.frames(row.period, row.run_version, names=("adjustments",)))["adjustments"]
        return adjustments_of(frame.filter(pl.col("origin_period").is_not_null()))

    async def _incremental_start(
        self, row: RunRow | None, carried: tuple[Period, int] | None, fingerprint: int
    ) -> tuple[tuple[RunResult, str] | None, str]:
        """The previous run to start from, or why there is none (the note of a full run)."""
        if row is None:
            return None, "ran in full: the period has no earlier run"
        if row.currency != self.currency:
            return None, f"ran in full: run {row.run_version} was in {row.currency}"
        if row.inputs_snapshot is None:
            return None, f"ran in full: run {row.run_version} kept no snapshot of its inputs"
        if row.carried_from != carried:
            return None, "ran in full: the balances carried from the previous period come from another run"
        state = await self.repo.run_state(row.period, row.run_version)
        if state is None:
            return None, f"ran in full: run {row.run_version} kept no state"
        if state.fingerprint != fingerprint:
            return None, f"ran in full: the organisation or the plans changed since run {row.run_version}"
        frames = await self.repo.frames(row.period, row.run_version)
        previous = rebuild_result(row, frames, EngineState(state.aggregate, state.fingerprint))
        return (previous, row.inputs_snapshot), ""

    async def _changed_participants(
        self,
        ctx: EngineContext,
        since: str,
        previous_ppas: tuple[Adjustment, ...],
        ppas: tuple[Adjustment, ...],
        named: Sequence[str],
    ) -> tuple[list[str], set[str]]:
        first, last = _window(self.period)
        sellers = await self.repo.sellers_new_since(since, first, last)
        holders, vacant = holders_of(ctx, sellers)
        adjusted = await self.repo.participants_adjusted_since(self.period, since)
        before = {(a.adjustment_id, a.participant_id, a.amount_minor) for a in previous_ppas}
        after = {(a.adjustment_id, a.participant_id, a.amount_minor) for a in ppas}
        ppa_changed = {pid for _, pid, _ in before ^ after}
        return sorted(holders | adjusted | ppa_changed | set(named)), vacant

    async def _prior_period_adjustments(
        self, since: datetime | None, previous_ppas: tuple[Adjustment, ...]
    ) -> tuple[Adjustment, ...]:
        repo, period = self.repo, self.period
        finalized = await repo.finalized_ledgers(before=period)
        if not finalized or finalized[-1][0].next() != period:
            # Only the open period (the one right after the latest finalized) pays them: two open
            # periods carrying the same difference would pay it twice.
            return ()
        out: list[Adjustment] = []
        for origin, version, finalized_at in finalized:
            later = await repo.finalized_runs_between(origin, period)
            settled = max([finalized_at, *(t for _, _, t in later)])
            first, last = _window(origin)
            if not await repo.inputs_changed_after(settled, first, last, origin):
                continue
            origin_row = await repo.run(origin, version)
            if origin_row is None or origin_row.currency != self.currency:
                continue
            later_finalized_at = [at for p, _, at in finalized if origin < p]
            if (
                since is not None
                and all(at <= since for at in later_finalized_at)
                and not await repo.inputs_changed_after(since, first, last, origin)
            ):
                out += [a for a in previous_ppas if a.origin_period == str(origin)]
                continue
            out += await self._compare(origin, origin_row, later)
        return tuple(out)

    async def _compare(
        self, origin: Period, origin_row: RunRow, later: list[tuple[Period, int, datetime]]
    ) -> tuple[Adjustment, ...]:
        """Recompute a finalized period with today's data and return what is still owed either way."""
        repo = self.repo
        frames = await repo.frames(origin, origin_row.run_version, names=tuple(KEYS))
        finalized = rebuild_result(origin_row, frames)
        inputs = await self._base_inputs(origin, origin_row.carried_from)
        first, last = _window(origin)
        inputs = replace(
            inputs,
            transactions=await repo.transactions_frame(first, last),
            run_version=origin_row.run_version,
        )
        recomputed = await asyncio.to_thread(recompute, inputs)
        issued: list[Adjustment] = []
        for p, v, _ in later:
            frame = (await repo.frames(p, v, names=("adjustments",)))["adjustments"]
            issued += adjustments_of(frame.filter(pl.col("origin_period") == str(origin)))
        return prior_period_adjustments(
            finalized,
            recomputed,
            open_period=self.period,
            reason=f"late change to the finalized period {origin}",
            overpayment_class=OverpaymentClass.OTHER,
            already_adjusted=issued,
        )


def adjustments_of(frame: pl.DataFrame) -> tuple[Adjustment, ...]:
    """Adjustments back from a run's adjustments frame (`ADJUSTMENT_SCHEMA`)."""
    return tuple(
        Adjustment(
            adjustment_id=r["adjustment_id"],
            participant_id=r["participant_id"],
            amount_minor=int(r["amount_minor"]),
            reason=r["reason"],
            overpayment_class=None if r["overpayment_class"] is None else OverpaymentClass(r["overpayment_class"]),
            origin_period=r["origin_period"],
            incentive_id=r["incentive_id"],
            position_id=r["position_id"],
        )
        for r in frame.iter_rows(named=True)
    )
