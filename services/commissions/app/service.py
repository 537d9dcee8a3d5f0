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
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import polars as pl
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Violations,
)
from crm_runtime.settings import Settings
from crm_runtime.temporal import TemporalConnector
from services.commissions import metrics
from services.commissions.app.disputes import Disputes
from services.commissions.app.documents import PlanDocuments
from services.commissions.app.runs import MAX_NAMED_PARTICIPANTS, PeriodRunner, RunOutcome, rebuild_result
from services.commissions.app.what_if import WhatIf
from services.commissions.app.workflow_client import WorkflowClient
from services.commissions.domain.dashboard import DashboardIndex, TeamMember
from services.commissions.domain.errors import (
    CalculationError,
    DomainValidationError,
    PeriodFinalizedError,
    Violation,
)
from services.commissions.domain.inputs import Adjustment, OverpaymentClass
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
    VariableOverride,
    parse_plan,
    validate_plan,
    validate_plan_book,
)
from services.commissions.domain.results import KEYS, RunResult
from services.commissions.domain.runs import PeriodLedger
from services.commissions.domain.transactions import IngestResult, TransactionRow, ingest, transactions_frame
from services.commissions.store import Repository, RunRow
from services.commissions.store.repository import (
    CREDITS,
    RunSummaryRow,
    StoredAdjustment,
    StoredAssignment,
    StoredOverride,
    StoredPlanVersion,
    StoredState,
)

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


class CommissionsApp:
    def __init__(
        self,
        engine: AsyncEngine,
        cached_runs: int = 4,
        *,
        temporal: TemporalConnector | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or Settings()
        workflows = WorkflowClient(temporal, self.settings.temporal_task_queue)
        self.documents = PlanDocuments(self, workflows, self.settings)
        self.disputes = Disputes(self, workflows, self.settings)
        self.what_if = WhatIf(self)
        # Stored runs are immutable: keep the last few read (with their dashboard index) so that
        # dashboards and statements do not reload a whole run per call.
        self._runs: OrderedDict[tuple[Period, int, bool], StoredRun] = OrderedDict()
        self._indexes: dict[tuple[Period, int], DashboardIndex] = {}
        self._cached_runs = cached_runs

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

    async def save_plan(
        self, request_id: str, plan_json: str, effective_period: str, response: Callable[[Plan, Period | None], M]
    ) -> M:
        effective = parse_period(effective_period, "effective_period") if effective_period.strip() else None
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
            await repo.add_plan(stored, effective)
            return response(stored, effective)

        return await self._command("SavePlan", request_id, type(response(plan, None)), work, lock="plans")

    async def set_variable_override(
        self, request_id: str, override: VariableOverride, response: Callable[[int], M]
    ) -> M:
        """Adds a variable override; validated with every stored override of the same plan (no overlaps)."""
        problems = Violations()
        if not override.plan_id:
            problems.add("plan_id", "required")
        if not override.variable:
            problems.add("variable", "required")
        if bool(override.title_id) == bool(override.position_id):
            problems.add("title_id", "give exactly one of title_id and position_id")
        problems.raise_if_any()

        async def work(repo: Repository) -> M:
            # Only this plan and its overrides are read and checked: setting the quotas of ten thousand
            # positions one call at a time must not reread and revalidate everything each time.
            plan = next((p for p in await repo.latest_plans() if p.plan_id == override.plan_id), None)
            if plan is None:
                raise NotFound(f"no plan {override.plan_id!r}")
            titles, positions = await repo.title_and_position_ids()
            existing = [o.override for o in await repo.variable_overrides(override.plan_id)]
            book = PlanBook((plan,), (), (*existing, override))
            last = f"overrides[{len(existing)}]"
            found = [v for v in validate_plan_book(book, titles, positions) if v.field.startswith(last)]
            if found:
                raise InvalidArgument(
                    violations(found, rename=lambda p: p.removeprefix(last).removeprefix(".") or "valid_from")
                )
            return response(await repo.add_variable_override(override))

        return await self._command("SetVariableOverride", request_id, type(response(0)), work, lock="plans")

    async def plans(self, plan_id: str) -> tuple[list[StoredPlanVersion], list[StoredAssignment], list[StoredOverride]]:
        async def work(repo: Repository) -> Any:
            versions = await repo.plan_versions(plan_id.strip() or None)
            if plan_id.strip() and not versions:
                raise NotFound(f"no plan {plan_id.strip()!r}")
            wanted = {v.plan.plan_id for v in versions}
            assignments = [a for a in await repo.stored_plan_assignments() if a.assignment.plan_id in wanted]
            overrides = [o for o in await repo.variable_overrides() if o.override.plan_id in wanted]
            return versions, assignments, overrides

        return await self._read(work)

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
        metrics.ingested(result)
        return result

    # -- runs --------------------------------------------------------------------------------------

    async def run_period(
        self,
        request_id: str,
        period: Period,
        currency: str,
        incremental: bool,
        participant_ids: Sequence[str],
        response_type: type[M],
        response: Callable[[RunOutcome], M],
    ) -> M:
        """A new run of an open period (full, or incremental when it can be), with the prior-period
        adjustments of finalized periods whose inputs changed since (see `runs`)."""
        currency = check_currency(currency)
        named = sorted({p.strip() for p in participant_ids if p.strip()})
        if len(named) > MAX_NAMED_PARTICIPANTS:
            raise InvalidArgument([FieldViolation("participant_ids", f"at most {MAX_NAMED_PARTICIPANTS:,}")])
        if named and not incremental:
            raise InvalidArgument([FieldViolation("participant_ids", "only an incremental run takes participants")])

        stored: list[RunOutcome] = []  # stays empty when the call replays a stored answer

        async def work(repo: Repository) -> M:
            ledger = await repo.ledger(period)
            try:
                version = ledger.next_version()
            except PeriodFinalizedError as exc:
                raise FailedPrecondition(str(exc)) from None
            if named:
                known = {p.participant_id for p in (await repo.organisation()).participants}
                unknown = [p for p in named if p not in known]
                if unknown:
                    raise InvalidArgument(
                        [FieldViolation("participant_ids", f"unknown participants: {', '.join(unknown[:5])}")]
                    )
            try:
                outcome, row, state = await PeriodRunner(repo, period, currency, version).run(incremental, named)
                credits = await asyncio.to_thread(outcome.result.credit_lines)
            except PeriodFinalizedError as exc:
                raise FailedPrecondition(str(exc)) from None
            except DomainValidationError as exc:
                raise FailedPrecondition(
                    "the period cannot be run with the stored data: " + "; ".join(str(v) for v in exc.violations[:10])
                ) from None
            except CalculationError as exc:
                raise FailedPrecondition(f"the run cannot produce exact figures: {exc}") from None
            result = outcome.result
            frames = {name: result.frame(name) for name in KEYS} | {CREDITS: credits}
            payments = [
                (r["participant_id"], r["earnings_minor"], r["payment_minor"])
                for r in result.payments.select("participant_id", "earnings_minor", "payment_minor").iter_rows(
                    named=True
                )
            ]
            await repo.add_run(row, frames, payments, StoredState(state.fingerprint, state.aggregate))
            stored.append(outcome)
            return response(outcome)

        started = time.perf_counter()
        try:
            answer = await self._command("RunPeriod", request_id, response_type, work, lock=f"period:{period}")
        except FailedPrecondition:
            metrics.run_failed(metrics.run_kind(incremental), "failed_precondition")
            raise
        except (InvalidArgument, NotFound, AlreadyExists):
            raise  # the caller's mistake: no run started
        except Exception:
            metrics.run_failed(metrics.run_kind(incremental), "error")
            raise
        if stored:
            metrics.run_stored(stored[0], time.perf_counter() - started)
        return answer

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

        recorded: list[Adjustment] = []  # stays empty when the call replays a stored answer

        async def work(repo: Repository) -> M:
            org = await repo.organisation()
            if participant_id not in {p.participant_id for p in org.participants}:
                raise InvalidArgument([FieldViolation("participant_id", f"unknown participant {participant_id!r}")])
            ledger = await repo.ledger(period)
            if ledger.finalized:
                raise FailedPrecondition(f"period {period} is finalized: add the adjustment to an open period instead")
            await repo.add_adjustment(adjustment, period, code)
            recorded.append(adjustment)
            return response(adjustment.adjustment_id, period)

        answer = await self._command(
            "AddAdjustment", request_id, type(response("", period)), work, lock=f"period:{period}"
        )
        for a in recorded:
            metrics.manual_adjustment(a.amount_minor, a.overpayment_class)
        return answer

    async def finalize_period(self, request_id: str, period: Period, response: Callable[[int], M]) -> M:
        finalized: list[pl.DataFrame] = []  # the frozen run's adjustments; empty for a replayed answer

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
            frozen = await repo.frames(period, done.finalized_version, names=("adjustments",))
            finalized.append(frozen["adjustments"])
            return response(done.finalized_version)

        answer = await self._command("FinalizePeriod", request_id, type(response(0)), work, lock=f"period:{period}")
        for frame in finalized:
            metrics.finalized(frame)
        return answer

    async def manages(self, manager_id: str, participant_id: str, period: Period) -> bool:
        async def work(repo: Repository) -> bool:
            org = await repo.organisation()
            return org.manages(manager_id, participant_id, period.start, period.end)

        return bool(await self._read(work))

    async def stored_run(self, period: Period, *, credits: bool = False, run_version: int = 0) -> StoredRun:
        """A run of the period: ``run_version``, else the finalized one, else the latest; NOT_FOUND when
        the period (or that version) was never run."""

        async def work(repo: Repository) -> StoredRun:
            ledger = await repo.ledger(period)
            if not ledger.runs:
                raise NotFound(f"period {period} has not been run")
            version = run_version or ledger.finalized_version or ledger.runs[-1].run_version
            if version not in {r.run_version for r in ledger.runs}:
                raise NotFound(f"period {period} has no run {version}")
            finalized = ledger.finalized_version == version
            for key in ((period, version, True), (period, version, credits)):
                hit = self._runs.get(key)
                if hit is not None:
                    self._runs.move_to_end(key)
                    return replace(hit, finalized=finalized)
            row = await repo.run(period, version)
            assert row is not None
            names = None if credits else tuple(KEYS)
            frames = await repo.frames(period, version, names)
            stored = StoredRun(row, rebuild_result(row, frames), finalized)
            self._remember((period, version, credits), stored)
            return stored

        return await self._read(work)

    def _remember(self, key: tuple[Period, int, bool], stored: StoredRun) -> None:
        self._runs[key] = stored
        while len(self._runs) > self._cached_runs:
            (period, version, _), _ = self._runs.popitem(last=False)
            if not any(k[:2] == (period, version) for k in self._runs):
                self._indexes.pop((period, version), None)

    def dashboard_index(self, stored: StoredRun) -> DashboardIndex:
        key = (stored.row.period, stored.row.run_version)
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = DashboardIndex(stored.result, stored.row.plan_book)
        return index

    async def team(self, manager_id: str, period: Period) -> tuple[StoredRun, list[TeamMember], dict[str, str]]:
        stored = await self.stored_run(period)
        index = self.dashboard_index(stored)

        async def work(repo: Repository) -> tuple[list[TeamMember], dict[str, str]]:
            org = await repo.organisation()
            if manager_id not in {p.participant_id for p in org.participants}:
                raise NotFound(f"no participant {manager_id!r}")
            members = index.team(org, manager_id)
            return members, await repo.participant_names({m.participant_id for m in members})

        members, names = await self._read(work)
        return stored, members, names

    async def runs(self, period: Period) -> tuple[PeriodLedger, list[RunSummaryRow]]:
        async def work(repo: Repository) -> tuple[PeriodLedger, list[RunSummaryRow]]:
            ledger = await repo.ledger(period)
            if not ledger.runs:
                raise NotFound(f"period {period} has not been run")
            return ledger, await repo.run_summaries(period)

        return await self._read(work)

    async def run_totals(self, period: Period, run_version: int) -> tuple[StoredRun, RunResult | None]:
        """A run and the run before it in the same period (None for the first)."""
        stored = await self.stored_run(period, run_version=run_version)
        before = stored.row.run_version - 1
        previous = (await self.stored_run(period, run_version=before)).result if before >= 1 else None
        return stored, previous

    async def adjustments(self, period: Period, participant_id: str) -> list[StoredAdjustment]:
        async def work(repo: Repository) -> list[StoredAdjustment]:
            return await repo.stored_adjustments(period, participant_id.strip() or None)

        return await self._read(work)

    async def transactions(self, ids: Iterable[str]) -> pl.DataFrame:
        async def work(repo: Repository) -> pl.DataFrame:
            return transactions_frame((await repo.transactions_by_id(set(ids))).values())

        return await self._read(work)
