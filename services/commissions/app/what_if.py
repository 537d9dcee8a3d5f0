"""What-if modelling and the deal estimator over stored data, never writing anything.

A what-if reads the period exactly as a run would (organisation, plans in effect, the year's
transactions, balances carried from the previous period, the period's adjustments) and computes the
unchanged and the changed book side by side (`domain.what_if`). A deal estimate starts from the
period's latest stored run and its engine state, with the plan book that run used, and recomputes only
the participant incrementally: "current" is that run's figures.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from crm_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Violations
from services.commissions.app.runs import adjustments_of, rebuild_result
from services.commissions.domain.engine import EngineState, positions_held, prepare_context
from services.commissions.domain.errors import DomainValidationError, Violation
from services.commissions.domain.inputs import RunInputs
from services.commissions.domain.money import to_minor
from services.commissions.domain.periods import Period, Window
from services.commissions.domain.plans import Plan, VariableOverride, parse_plan
from services.commissions.domain.results import KEYS
from services.commissions.domain.transactions import transactions_frame
from services.commissions.domain.what_if import (
    DealEstimate,
    HypotheticalDeal,
    Scenario,
    WhatIfComparison,
    estimate_deal,
    what_if,
)
from services.commissions.store import Repository

if TYPE_CHECKING:
    from services.commissions.app.service import CommissionsApp

MAX_PLANS = 50
MAX_OVERRIDES = 10_000
MAX_LIMIT = 10_000
_SCENARIO_PATH = re.compile(r"scenario\.(plans|overrides)\[(\d+)\](.*)", re.DOTALL)


def _request_path(field: str) -> str:
    """A scenario violation's path in the request: plans[i] -> plan_json[i], overrides[i] -> overrides[i]."""
    m = _SCENARIO_PATH.fullmatch(field)
    if m is None:
        return "plan_json" if field.startswith("book.") else field
    name = "plan_json" if m.group(1) == "plans" else "overrides"
    return f"{name}[{m.group(2)}]{m.group(3)}"


class WhatIf:
    def __init__(self, core: CommissionsApp) -> None:
        self.core = core

    async def _inputs(self, repo: Repository, period: Period, currency: str) -> RunInputs:
        first, last = period.window_start(Window.YTD).start, period.last_day
        inputs = RunInputs(
            period=period,
            org=await repo.organisation(),
            plans=await repo.plan_book(period),
            transactions=await repo.transactions_frame(first, last),
            currency=currency,
            finalized_periods=await repo.finalized_periods(),
            adjustments=await repo.adjustments(period, currency),
        )
        carried = await repo.latest_run_before(period)
        if carried is not None:
            frames = await repo.frames(*carried, names=("balances", "open_deposits"))
            inputs = replace(inputs, prior_balances=frames["balances"], open_deposits=frames["open_deposits"])
        return inputs

    async def run(
        self, period_text: str, plan_jsons: Sequence[str], overrides: Sequence[VariableOverride], limit: int
    ) -> tuple[WhatIfComparison, float]:
        problems = Violations()
        period = None
        try:
            period = Period.parse(period_text.strip())
        except (ValueError, AttributeError):
            problems.add("period", f"{period_text[:20]!r} is not a period (YYYY-MM)")
        if not plan_jsons and not overrides:
            problems.add("plan_json", "a scenario changes at least one plan or override")
        if len(plan_jsons) > MAX_PLANS:
            problems.add("plan_json", f"at most {MAX_PLANS} plans")
        if len(overrides) > MAX_OVERRIDES:
            problems.add("overrides", f"at most {MAX_OVERRIDES:,} overrides")
        if limit < 0 or limit > MAX_LIMIT:
            problems.add("limit", f"between 0 and {MAX_LIMIT:,}")
        plans: list[Plan] = []
        for i, text in enumerate(plan_jsons[:MAX_PLANS]):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.add(f"plan_json[{i}]", f"not JSON: {exc}")
                continue
            if not isinstance(data, dict):
                problems.add(f"plan_json[{i}]", "must be a JSON object")
                continue
            data.pop("version", None)
            try:
                plans.append(parse_plan(data))
            except DomainValidationError as exc:
                for v in exc.violations:
                    problems.add(f"plan_json[{i}].{v.field}" if v.field else f"plan_json[{i}]", v.reason)
        problems.raise_if_any()
        assert period is not None
        async with self.core.engine.connect() as conn:
            repo = Repository(conn)
            ledger = await repo.ledger(period)
            currency = "RUB"
            if ledger.runs:
                row = await repo.run(period, ledger.finalized_version or ledger.runs[-1].run_version)
                currency = row.currency if row else currency
            inputs = await self._inputs(repo, period, currency)
        versions = {p.plan_id: p.version for p in inputs.plans.plans}
        plans = [p.model_copy(update={"version": versions.get(p.plan_id, 0) + 1}) for p in plans]
        scenario = Scenario(name="what-if", plans=tuple(plans), overrides=tuple(overrides))
        started = time.perf_counter()
        try:
            comparison = await asyncio.to_thread(what_if, inputs, scenario)
        except DomainValidationError as exc:
            raise InvalidArgument([FieldViolation(_request_path(v.field), v.reason) for v in exc.violations]) from None
        return comparison, time.perf_counter() - started

    async def estimate(
        self,
        participant_id: str,
        period_text: str,
        amount_text: str,
        day_text: str,
        classifiers: dict[str, str],
    ) -> DealEstimate:
        problems = Violations()
        pid = participant_id.strip()
        if not pid:
            problems.add("participant_id", "required")
        period = None
        try:
            period = Period.parse(period_text.strip())
        except (ValueError, AttributeError):
            problems.add("period", f"{period_text[:20]!r} is not a period (YYYY-MM)")
        amount = Decimal(0)
        try:
            amount = Decimal(amount_text.strip())
            if not amount.is_finite() or amount <= 0:
                problems.add("amount", "a deal is a positive amount")
        except InvalidOperation:
            problems.add("amount", f"{amount_text[:40]!r} is not a decimal number")
        day = None
        if day_text.strip():
            try:
                day = date.fromisoformat(day_text.strip())
            except ValueError:
                problems.add("date", f"{day_text[:20]!r} is not a date (YYYY-MM-DD)")
        for name, value in classifiers.items():
            if len(value) > 100:
                problems.add(name, "at most 100 characters")
        problems.raise_if_any()
        assert period is not None
        async with self.core.engine.connect() as conn:
            repo = Repository(conn)
            ledger = await repo.ledger(period)
            if not ledger.runs:
                raise FailedPrecondition(f"period {period} has not been run: run it before estimating deals")
            if ledger.finalized:
                raise FailedPrecondition(f"period {period} is finalized: estimates are for the open period")
            row = await repo.run(period, ledger.runs[-1].run_version)
            state = await repo.run_state(period, ledger.runs[-1].run_version)
            if row is None or state is None:
                raise FailedPrecondition(f"the latest run of {period} kept no state: run the period again")
            org = await repo.organisation()
            if pid not in {p.participant_id for p in org.participants}:
                raise NotFound(f"no participant {pid!r}")
            frames = await repo.frames(period, row.run_version, names=tuple(KEYS))
            previous = rebuild_result(row, frames, EngineState(state.aggregate, state.fingerprint))
            ppas = adjustments_of(previous.adjustments.filter(previous.adjustments["origin_period"].is_not_null()))
            inputs = RunInputs(
                period=period,
                org=org,
                plans=row.plan_book,
                transactions=transactions_frame(()),
                currency=row.currency,
                finalized_periods=await repo.finalized_periods(),
                run_version=row.run_version,
                adjustments=await repo.adjustments(period, row.currency) + ppas,
            )
            if row.carried_from is not None:
                carried = await repo.frames(*row.carried_from, names=("balances", "open_deposits"))
                inputs = replace(inputs, prior_balances=carried["balances"], open_deposits=carried["open_deposits"])
            ctx = await asyncio.to_thread(prepare_context, inputs)
            if ctx.fingerprint != state.fingerprint:
                raise FailedPrecondition(
                    f"the organisation changed since run {row.run_version} of {period}: run the period again"
                )
            first, last = period.window_start(Window.YTD).start, period.last_day
            sellers = positions_held(ctx, [pid])
            inputs = replace(inputs, transactions=await repo.transactions_frame(first, last, sellers))
        try:
            minor = to_minor(amount, row.currency)
        except (ValueError, ArithmeticError):
            raise InvalidArgument([FieldViolation("amount", f"more decimals than {row.currency} has")]) from None
        deal = HypotheticalDeal(
            amount_minor=minor,
            day=day or period.last_day,
            currency=row.currency,
            deal_id=f"estimate-{pid}"[:60],
            **classifiers,
        )
        try:
            return await asyncio.to_thread(estimate_deal, inputs, previous, pid, deal, context=ctx)
        except DomainValidationError as exc:
            raise InvalidArgument([FieldViolation(_deal_path(v), v.reason) for v in exc.violations]) from None


def _deal_path(v: Violation) -> str:
    return {"deal.amount_minor": "amount", "deal.day": "date", "deal.currency": "amount"}.get(
        v.field, v.field.removeprefix("deal.")
    )
