"""The commissions service's commands and queries, between the servicer (messages) and the store (SQL).

Each command runs in one transaction and either writes everything or nothing; creating commands take a
client ``request_id`` whose first answer is stored and returned again on a retry. Validation is the
domain core's: its `Violation`s become `InvalidArgument` field violations named after the request's
fields. A run's calculation is CPU-bound polars work and runs in a thread, so the event loop keeps
serving other calls.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import polars as pl
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Violations
from services.commissions.domain.engine import calculate_period
from services.commissions.domain.errors import (
    CalculationError,
    DomainValidationError,
    PeriodFinalizedError,
    Violation,
)
from services.commissions.domain.inputs import Adjustment, OverpaymentClass, RunInputs
from services.commissions.domain.money import is_currency
from services.commissions.domain.org import (
    Assignment,
    Organisation,
    Participant,
    PositionVersion,
    Title,
    validate_organisation,
)
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import (
    Plan,
    PlanAssignment,
    PlanBook,
    parse_plan,
    validate_plan,
    validate_plan_book,
)
from services.commissions.domain.results import KEYS, RunResult
from services.commissions.domain.transactions import IngestResult, TransactionRow, ingest, transactions_frame
from services.commissions.store import Repository, RunRow
from services.commissions.store.repository import CREDITS

M = TypeVar("M", bound=Message)


def violations(
    items: Iterable[Violation], prefix: str = "", rename: Callable[[str], str] | None = None
) -> list[FieldViolation]:
    out = []
    for v in items:
        path = rename(v.field) if rename else v.field
        out.append(FieldViolation(f"{prefix}.{path}" if prefix and path else prefix or path, v.reason))
    return out


def parse_period(text: str, field: str = "period") -> Period:
    try:
        return Period.parse(text.strip())
    except (ValueError, AttributeError):
        raise InvalidArgument([FieldViolation(field, f"{text!r} is not a period (YYYY-MM)")]) from None


def check_currency(code: str, field: str = "currency") -> str:
    code = (code or "RUB").strip().upper()
    if not is_currency(code):
        raise InvalidArgument([FieldViolation(field, f"{code!r} is not an ISO 4217 currency code")])
    return code


@dataclass(frozen=True)
class StoredRun:
    """A stored run rebuilt as the domain's `RunResult`, with the plan book it ran with."""

    row: RunRow
    result: RunResult
    finalized: bool


def _rebuild(row: RunRow, frames: dict[str, pl.DataFrame]) -> RunResult:
    credits = frames.pop(CREDITS, None)

    def credit_source(ids: Any) -> pl.DataFrame:
        if credits is None:
            raise LookupError("the run's credits were not loaded")
        return credits if ids is None else credits.filter(pl.col("participant_id").is_in(list(ids)))

    return RunResult(
        period=row.period,
        currency=row.currency,
        run_version=row.run_version,
        kind=row.kind,
        credit_source=credit_source,
        **{name: frames[name] for name in KEYS},
    )


class CommissionsApp:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _command(
        self,
        operation: str,
        request_id: str,
        response_type: type[M],
        work: Callable[[Repository], Awaitable[M]],
        lock: str | None = None,
    ) -> M:
        async with self.engine.begin() as conn:
            repo = Repository(conn)
            if lock:
                await repo.lock(lock)
            if request_id:
                await repo.lock(f"request:{operation}:{request_id}")
                stored = await repo.stored_response(operation, request_id)
                if stored is not None:
                    return response_type.FromString(stored)
            response = await work(repo)
            if request_id:
                await repo.store_response(operation, request_id, response.SerializeToString())
            return response

    async def _read(self, work: Callable[[Repository], Awaitable[Any]]) -> Any:
        async with self.engine.connect() as conn:
            return await work(Repository(conn))

    # -- organisation ------------------------------------------------------------------------------

    async def save_organisation(
        self,
        request_id: str,
        titles: Sequence[Title],
        positions: Sequence[PositionVersion],
        participants: Sequence[Participant],
        assignments: Sequence[Assignment],
        response: Callable[[], M],
    ) -> M:
        async def work(repo: Repository) -> M:
            current = await repo.organisation()
            problems = Violations()
            known_versions = {(v.position_id, v.valid_from): v for v in current.positions}
            new_positions: list[tuple[int, PositionVersion]] = []
            for i, v in enumerate(positions):
                old = known_versions.get((v.position_id, v.valid_from))
                if old is None:
                    new_positions.append((i, v))
                elif old != v:
                    problems.add(
                        f"positions[{i}]",
                        f"position {v.position_id!r} already has a version from {v.valid_from}; "
                        "add a new version from a later date instead of changing it",
                    )
            known_assignments = {(a.participant_id, a.position_id, a.valid_from): a for a in current.assignments}
            new_assignments: list[tuple[int, Assignment]] = []
            for i, a in enumerate(assignments):
                old_a = known_assignments.get((a.participant_id, a.position_id, a.valid_from))
                if old_a is None:
                    new_assignments.append((i, a))
                elif old_a != a:
                    problems.add(f"assignments[{i}]", "this assignment already exists with another valid_to")
            title_ids = {t.title_id for t in titles}
            participant_ids = {p.participant_id for p in participants}
            merged = Organisation(
                titles=tuple(t for t in current.titles if t.title_id not in title_ids) + tuple(titles),
                positions=current.positions + tuple(v for _, v in new_positions),
                participants=tuple(p for p in current.participants if p.participant_id not in participant_ids)
                + tuple(participants),
                assignments=current.assignments + tuple(a for _, a in new_assignments),
            )
            n_pos, n_asg = len(current.positions), len(current.assignments)

            def rename(path: str) -> str:
                # Paths into the merged organisation -> paths into the request.
                for name, offset, rows in (
                    ("positions", n_pos, new_positions),
                    ("assignments", n_asg, new_assignments),
                ):
                    head = f"{name}["
                    if path.startswith(head):
                        index, _, rest = path[len(head) :].partition("]")
                        k = int(index) - offset
                        if k < 0:
                            return name
                        return f"{name}[{rows[k][0]}]{rest}"
                return path

            problems.extend(violations(validate_organisation(merged), rename=rename))
            problems.raise_if_any()
            await repo.add_organisation(
                titles, [v for _, v in new_positions], participants, [a for _, a in new_assignments]
            )
            return response()

        return await self._command("SaveOrganisation", request_id, type(response()), work, lock="organisation")

    # -- plans -------------------------------------------------------------------------------------

    async def save_plan(self, request_id: str, plan_json: str, response: Callable[[Plan], M]) -> M:
        try:
            data = json.loads(plan_json)
        except json.JSONDecodeError as exc:
            raise InvalidArgument([FieldViolation("plan_json", f"not JSON: {exc}")]) from None
        if not isinstance(data, dict):
            raise InvalidArgument([FieldViolation("plan_json", "must be a JSON object")])
        data.pop("version", None)
        try:
            plan = parse_plan(data)
        except DomainValidationError as exc:
            raise InvalidArgument(violations(exc.violations, "plan_json")) from None

        async def work(repo: Repository) -> M:
            org = await repo.organisation()
            found = validate_plan(plan, org.position_ids)
            if found:
                raise InvalidArgument(violations(found, "plan_json"))
            stored = plan.model_copy(update={"version": await repo.next_plan_version(plan.plan_id)})
            await repo.add_plan(stored)
            return response(stored)

        return await self._command("SavePlan", request_id, type(response(plan)), work, lock="plans")

    async def assign_plan(self, request_id: str, assignment: PlanAssignment, response: Callable[[int], M]) -> M:
        problems = Violations()
        if not assignment.plan_id:
            problems.add("plan_id", "required")
        if bool(assignment.title_id) == bool(assignment.position_id):
            problems.add("title_id", "give exactly one of title_id and position_id")
        problems.raise_if_any()

        async def work(repo: Repository) -> M:
            plans = await repo.latest_plans()
            if assignment.plan_id not in {p.plan_id for p in plans}:
                raise NotFound(f"no plan {assignment.plan_id!r}")
            org = await repo.organisation()
            existing = await repo.plan_assignments()
            book = PlanBook(tuple(plans), (*existing, assignment))
            titles = {t.title_id for t in org.titles}
            last = f"assignments[{len(existing)}]"
            found = [
                v
                for v in validate_plan_book(book, titles, org.position_ids)
                if v.field.startswith(last) or (v.field == "assignments" and assignment.plan_id in v.reason)
            ]
            if found:
                raise InvalidArgument(
                    violations(found, rename=lambda p: p.removeprefix(last).removeprefix(".") or "valid_from")
                )
            return response(await repo.add_plan_assignment(assignment))

        return await self._command("AssignPlan", request_id, type(response(0)), work, lock="plans")

    # -- transactions ------------------------------------------------------------------------------

    async def ingest_transactions(self, rows: Sequence[TransactionRow], currency: str) -> IngestResult:
        currency = check_currency(currency)
        ids = {r.transaction_id.strip() for r in rows} | {r.original_id.strip() for r in rows if r.original_id.strip()}
        async with self.engine.begin() as conn:
            repo = Repository(conn)
            await repo.lock("transactions")
            org = await repo.organisation()
            known = await repo.transactions_by_id(ids)
            originals = {r.original_id.strip() for r in rows if r.original_id.strip()}
            result = ingest(
                rows, org=org, currency=currency, known=known, reversed_minor=await repo.reversed_minor(originals)
            )
            await repo.add_transactions(result.accepted)
            return result

    # -- runs --------------------------------------------------------------------------------------

    async def run_period(
        self,
        request_id: str,
        period: Period,
        currency: str,
        response_type: type[M],
        response: Callable[[RunResult], M],
    ) -> M:
        currency = check_currency(currency)

        async def work(repo: Repository) -> M:
            ledger = await repo.ledger(period)
            try:
                version = ledger.next_version()
            except PeriodFinalizedError as exc:
                raise FailedPrecondition(str(exc)) from None
            org = await repo.organisation()
            book = PlanBook(tuple(await repo.latest_plans()), tuple(await repo.plan_assignments()))
            # What the run reads: every booking from the start of the period's year (YTD windows).
            txns = await repo.transactions_between(date(period.year, 1, 1), period.last_day)
            inputs = RunInputs(
                period=period,
                org=org,
                plans=book,
                transactions=transactions_frame(txns),
                currency=currency,
                finalized_periods=await repo.finalized_periods(),
                run_version=version,
                adjustments=await repo.adjustments(period, currency),
            )
            previous = await repo.latest_run_before(period)
            if previous is not None:
                carried = await repo.frames(*previous, names=("balances", "open_deposits"))
                inputs = replace(inputs, prior_balances=carried["balances"], open_deposits=carried["open_deposits"])
            try:
                result = await asyncio.to_thread(calculate_period, inputs)
                credits = await asyncio.to_thread(result.credit_lines)
            except PeriodFinalizedError as exc:
                raise FailedPrecondition(str(exc)) from None
            except DomainValidationError as exc:
                raise FailedPrecondition(
                    "the period cannot be run with the stored data: " + "; ".join(str(v) for v in exc.violations[:10])
                ) from None
            except CalculationError as exc:
                raise FailedPrecondition(f"the run cannot produce exact figures: {exc}") from None
            frames = {name: result.frame(name) for name in KEYS} | {CREDITS: credits}
            payments = [
                (r["participant_id"], r["earnings_minor"], r["payment_minor"])
                for r in result.payments.select("participant_id", "earnings_minor", "payment_minor").iter_rows(
                    named=True
                )
            ]
            row = RunRow(period, version, result.kind, currency, book, datetime.now(UTC))
            await repo.add_run(row, frames, payments)
            return response(result)

        return await self._command("RunPeriod", request_id, response_type, work, lock=f"period:{period}")

    async def add_adjustment(
        self,
        request_id: str,
        participant_id: str,
        period_text: str,
        amount_minor: int,
        currency: str,
        reason: str,
        overpayment_class: OverpaymentClass | None,
        response: Callable[[str, Period], M],
    ) -> M:
        """Records an adjustment for the period's next run; nothing is written when any field is wrong."""
        problems = Violations()
        participant_id = participant_id.strip()
        if not participant_id:
            problems.add("participant_id", "required")
        period: Period | None = None
        try:
            period = Period.parse(period_text.strip())
        except (ValueError, AttributeError):
            problems.add("period", f"{period_text!r} is not a period (YYYY-MM)")
        if amount_minor == 0:
            problems.add("amount.minor_units", "an adjustment must not be zero")
        code = (currency or "RUB").strip().upper()
        if not is_currency(code):
            problems.add("amount.currency_code", f"{code!r} is not an ISO 4217 currency code")
        reason = reason.strip()
        if not reason:
            problems.add("reason", "every adjustment needs a reason")
        elif len(reason) > 500:
            problems.add("reason", "at most 500 characters")
        if amount_minor < 0 and overpayment_class is None:
            problems.add("overpayment_class", "a negative adjustment is an overpayment: classify it")
        problems.raise_if_any()
        assert period is not None
        adjustment = Adjustment(
            adjustment_id=f"ADJ:{uuid.uuid4()}",
            participant_id=participant_id,
            amount_minor=amount_minor,
            reason=reason,
            overpayment_class=overpayment_class if amount_minor < 0 else None,
        )

        async def work(repo: Repository) -> M:
            org = await repo.organisation()
            if participant_id not in {p.participant_id for p in org.participants}:
                raise InvalidArgument([FieldViolation("participant_id", f"unknown participant {participant_id!r}")])
            ledger = await repo.ledger(period)
            if ledger.finalized:
                raise FailedPrecondition(f"period {period} is finalized: add the adjustment to an open period instead")
            await repo.add_adjustment(adjustment, period, code)
            return response(adjustment.adjustment_id, period)

        return await self._command(
            "AddAdjustment", request_id, type(response("", period)), work, lock=f"period:{period}"
        )

    async def finalize_period(self, request_id: str, period: Period, response: Callable[[int], M]) -> M:
        async def work(repo: Repository) -> M:
            ledger = await repo.ledger(period)
            if not ledger.runs:
                raise FailedPrecondition(f"period {period} has no run to finalize")
            try:
                done = ledger.finalize(datetime.now(UTC))
            except PeriodFinalizedError as exc:
                raise FailedPrecondition(str(exc)) from None
            await repo.finalize(done)
            assert done.finalized_version is not None
            return response(done.finalized_version)

        return await self._command("FinalizePeriod", request_id, type(response(0)), work, lock=f"period:{period}")

    async def manages(self, manager_id: str, participant_id: str, period: Period) -> bool:
        async def work(repo: Repository) -> bool:
            org = await repo.organisation()
            return org.manages(manager_id, participant_id, period.start, period.end)

        return bool(await self._read(work))

    async def stored_run(self, period: Period, *, credits: bool = False) -> StoredRun:
        """The period's finalized run, else its latest; NOT_FOUND when it was never run."""

        async def work(repo: Repository) -> StoredRun:
            ledger = await repo.ledger(period)
            if not ledger.runs:
                raise NotFound(f"period {period} has not been run")
            version = ledger.finalized_version or ledger.runs[-1].run_version
            row = await repo.run(period, version)
            assert row is not None
            names = None if credits else tuple(KEYS)
            frames = await repo.frames(period, version, names)
            return StoredRun(row, _rebuild(row, frames), ledger.finalized)

        return await self._read(work)

    async def transactions(self, ids: Iterable[str]) -> pl.DataFrame:
        async def work(repo: Repository) -> pl.DataFrame:
            return transactions_frame((await repo.transactions_by_id(set(ids))).values())

        return await self._read(work)
