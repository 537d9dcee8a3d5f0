"""The gRPC edge of the commissions service: translates messages to domain values and back; the
application layer (`app`) does the work. Errors are mapped by the shared interceptor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date
from decimal import Decimal, InvalidOperation

import grpc
import polars as pl

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2
from crm_runtime.errors import InvalidArgument, NotFound, Violations
from services.commissions.app import CommissionsApp, parse_period
from services.commissions.app.runs import RunOutcome, adjustments_of
from services.commissions.domain.dashboard import KpiFigure
from services.commissions.domain.inputs import Adjustment, OverpaymentClass, RunInputs
from services.commissions.domain.money import to_minor
from services.commissions.domain.org import (
    Assignment,
    Organisation,
    Participant,
    ParticipantRole,
    PositionVersion,
    Title,
)
from services.commissions.domain.payroll import payroll_csv
from services.commissions.domain.periods import Period
from services.commissions.domain.plans import PlanAssignment, VariableOverride
from services.commissions.domain.results import ADJUSTMENT_SCHEMA, RunResult
from services.commissions.domain.statements import credits_behind, participant_statement, run_totals
from services.commissions.domain.transactions import TransactionRow
from services.commissions.servicer_documents import DocumentsServicer
from services.commissions.servicer_what_if import WhatIfServicer

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["CommissionsService"].full_name
ROLES = {
    pb.PARTICIPANT_ROLE_UNSPECIFIED: ParticipantRole.EMPLOYEE,
    pb.PARTICIPANT_ROLE_EMPLOYEE: ParticipantRole.EMPLOYEE,
    pb.PARTICIPANT_ROLE_AGENT: ParticipantRole.AGENT,
    pb.PARTICIPANT_ROLE_PARTNER: ParticipantRole.PARTNER,
}
OVERPAYMENT_CLASSES = {
    pb.OVERPAYMENT_CLASS_CALCULATION_ERROR: OverpaymentClass.CALCULATION_ERROR,
    pb.OVERPAYMENT_CLASS_EMPLOYEE_FAULT: OverpaymentClass.EMPLOYEE_FAULT,
    pb.OVERPAYMENT_CLASS_OTHER: OverpaymentClass.OTHER,
}
MAX_INGEST_ROWS = 1_000_000
#: Credit traces per measurement on a statement (`MeasurementFigure.credits_total` says how many exist).
MAX_CREDIT_TRACES = 1_000


def money(amount: Decimal | int, currency: str) -> common_pb2.Money:
    minor = amount if isinstance(amount, int) else to_minor(amount, currency)
    return common_pb2.Money(currency_code=currency, minor_units=minor)


def text(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


class _Dates:
    """Reads crm.common.v1.Date fields, collecting violations instead of failing on the first."""

    def __init__(self, problems: Violations) -> None:
        self.problems = problems

    def required(self, value: common_pb2.Date, field: str) -> date:
        if value.year == 0 and value.month == 0 and value.day == 0:
            self.problems.add(field, "required")
            return date.min
        return self.optional(value, field) or date.min

    def optional(self, value: common_pb2.Date, field: str) -> date | None:
        if value.year == 0 and value.month == 0 and value.day == 0:
            return None
        try:
            return date(value.year, value.month, value.day)
        except ValueError as exc:
            self.problems.add(field, f"not a date: {exc}")
            return None


def _required_id(problems: Violations, value: str, field: str) -> str:
    value = value.strip()
    if not value:
        problems.add(field, "required")
    return value


class CommissionsServicer(DocumentsServicer, WhatIfServicer, commissions_pb2_grpc.CommissionsServiceServicer):
    def __init__(self, app: CommissionsApp) -> None:
        self.app = app

    async def SaveOrganisation(
        self, request: pb.SaveOrganisationRequest, context: grpc.aio.ServicerContext
    ) -> pb.SaveOrganisationResponse:
        problems = Violations()
        dates = _Dates(problems)
        titles = [
            Title(_required_id(problems, t.title_id, f"titles[{i}].title_id"), t.name)
            for i, t in enumerate(request.titles)
        ]
        positions = [
            PositionVersion(
                _required_id(problems, p.position_id, f"positions[{i}].position_id"),
                _required_id(problems, p.title_id, f"positions[{i}].title_id"),
                p.manager_position_id.strip() or None,
                dates.required(p.valid_from, f"positions[{i}].valid_from"),
                dates.optional(p.valid_to, f"positions[{i}].valid_to"),
            )
            for i, p in enumerate(request.positions)
        ]
        participants = [
            Participant(
                _required_id(problems, p.participant_id, f"participants[{i}].participant_id"), p.name, ROLES[p.role]
            )
            for i, p in enumerate(request.participants)
        ]
        assignments = [
            Assignment(
                _required_id(problems, a.participant_id, f"assignments[{i}].participant_id"),
                _required_id(problems, a.position_id, f"assignments[{i}].position_id"),
                dates.required(a.valid_from, f"assignments[{i}].valid_from"),
                dates.optional(a.valid_to, f"assignments[{i}].valid_to"),
            )
            for i, a in enumerate(request.assignments)
        ]
        problems.raise_if_any()
        return await self.app.save_organisation(
            request.request_id,
            titles,
            positions,
            participants,
            assignments,
            lambda: pb.SaveOrganisationResponse(
                titles=len(titles),
                positions=len(positions),
                participants=len(participants),
                assignments=len(assignments),
            ),
        )

    async def SavePlan(self, request: pb.SavePlanRequest, context: grpc.aio.ServicerContext) -> pb.SavePlanResponse:
        return await self.app.save_plan(
            request.request_id,
            request.plan_json,
            request.effective_period,
            lambda plan, effective: pb.SavePlanResponse(
                plan_id=plan.plan_id, version=plan.version, effective_period="" if effective is None else str(effective)
            ),
        )

    async def SetVariableOverride(
        self, request: pb.SetVariableOverrideRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetVariableOverrideResponse:
        problems = Violations()
        dates = _Dates(problems)
        value = Decimal(0)
        try:
            value = Decimal(request.value.strip())
            if not value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            problems.add("value", f"{request.value[:40]!r} is not a decimal number")
        override = VariableOverride(
            request.plan_id.strip(),
            request.variable.strip(),
            value,
            dates.required(request.valid_from, "valid_from"),
            dates.optional(request.valid_to, "valid_to"),
            title_id=request.title_id.strip() or None,
            position_id=request.position_id.strip() or None,
        )
        problems.raise_if_any()
        return await self.app.set_variable_override(
            request.request_id, override, lambda oid: pb.SetVariableOverrideResponse(override_id=oid)
        )

    async def ListPlans(self, request: pb.ListPlansRequest, context: grpc.aio.ServicerContext) -> pb.ListPlansResponse:
        versions, assignments, overrides = await self.app.plans(request.plan_id)
        return pb.ListPlansResponse(
            versions=[
                pb.PlanVersion(
                    plan_id=v.plan.plan_id,
                    version=v.plan.version,
                    effective_period="" if v.effective_period is None else str(v.effective_period),
                    plan_json=v.plan.model_dump_json(),
                    recorded_on=_date(v.recorded_at.date()),
                )
                for v in versions
            ],
            assignments=[
                pb.PlanAssignmentInfo(
                    assignment_id=a.assignment_id,
                    plan_id=a.assignment.plan_id,
                    title_id=a.assignment.title_id or "",
                    position_id=a.assignment.position_id or "",
                    valid_from=_date(a.assignment.valid_from),
                    valid_to=_date(a.assignment.valid_to),
                )
                for a in assignments
            ],
            overrides=[
                pb.VariableOverrideInfo(
                    override_id=o.override_id,
                    plan_id=o.override.plan_id,
                    variable=o.override.variable,
                    value=text(o.override.value),
                    title_id=o.override.title_id or "",
                    position_id=o.override.position_id or "",
                    valid_from=_date(o.override.valid_from),
                    valid_to=_date(o.override.valid_to),
                )
                for o in overrides
            ],
        )

    async def AssignPlan(
        self, request: pb.AssignPlanRequest, context: grpc.aio.ServicerContext
    ) -> pb.AssignPlanResponse:
        problems = Violations()
        dates = _Dates(problems)
        assignment = PlanAssignment(
            request.plan_id.strip(),
            dates.required(request.valid_from, "valid_from"),
            dates.optional(request.valid_to, "valid_to"),
            title_id=request.title_id.strip() or None,
            position_id=request.position_id.strip() or None,
        )
        problems.raise_if_any()
        return await self.app.assign_plan(
            request.request_id, assignment, lambda aid: pb.AssignPlanResponse(assignment_id=aid)
        )

    async def IngestTransactions(
        self, request_iterator: AsyncIterator[pb.IngestTransactionsRequest], context: grpc.aio.ServicerContext
    ) -> pb.IngestTransactionsResponse:
        rows: list[TransactionRow] = []
        currency = ""
        async for message in request_iterator:
            currency = currency or message.currency
            for r in message.rows:
                rows.append(
                    TransactionRow(
                        str(len(rows)),
                        r.transaction_id,
                        r.date,
                        r.amount,
                        r.currency,
                        r.position_id,
                        r.product,
                        r.territory,
                        r.channel,
                        r.segment,
                        r.original_id,
                    )
                )
            if len(rows) > MAX_INGEST_ROWS:
                problems = Violations()
                problems.add("rows", f"at most {MAX_INGEST_ROWS} rows per stream")
                problems.raise_if_any()
        result = await self.app.ingest_transactions(rows, currency)
        return pb.IngestTransactionsResponse(
            accepted=len(result.accepted),
            duplicates=len(result.duplicates),
            rejected=[
                pb.RejectedRow(
                    row_index=int(r.row_ref),
                    transaction_id=r.transaction_id,
                    field=f"rows[{r.row_ref}].{r.field}",
                    reason=r.reason,
                )
                for r in result.rejected
            ],
        )

    async def RunPeriod(self, request: pb.RunPeriodRequest, context: grpc.aio.ServicerContext) -> pb.RunPeriodResponse:
        period = parse_period(request.period)
        if request.mode not in (pb.RUN_MODE_UNSPECIFIED, pb.RUN_MODE_FULL, pb.RUN_MODE_INCREMENTAL):
            problems = Violations()
            problems.add("mode", f"unknown run mode {request.mode}")
            problems.raise_if_any()

        def response(outcome: RunOutcome) -> pb.RunPeriodResponse:
            result = outcome.result
            cur = result.currency
            payments = result.payments.sort("participant_id")
            return pb.RunPeriodResponse(
                period=str(result.period),
                run_version=result.run_version,
                payees=result.payees.height,
                total_payment=money(int(payments["payment_minor"].sum()), cur),
                payments=[
                    pb.PaymentLine(
                        participant_id=r["participant_id"],
                        earnings=money(r["earnings_minor"], cur),
                        payment=money(r["payment_minor"], cur),
                    )
                    for r in payments.iter_rows(named=True)
                ],
                kind=result.kind,
                recomputed_participants=outcome.recomputed_participants,
                prior_period_adjustments=[
                    _adjustment_line(a, cur, str(result.period), _treatment(result, a.adjustment_id))
                    for a in outcome.prior_period_adjustments
                ],
                note=outcome.note,
            )

        return await self.app.run_period(
            request.request_id,
            period,
            request.currency,
            request.mode == pb.RUN_MODE_INCREMENTAL,
            list(request.participant_ids),
            pb.RunPeriodResponse,
            response,
        )

    async def ListAdjustments(
        self, request: pb.ListAdjustmentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAdjustmentsResponse:
        period = parse_period(request.period)
        stored = await self.app.adjustments(period, request.participant_id)
        return pb.ListAdjustmentsResponse(
            adjustments=[_adjustment_line(a.adjustment, a.currency, str(a.period), "") for a in stored]
        )

    async def AddAdjustment(
        self, request: pb.AddAdjustmentRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddAdjustmentResponse:
        cls = OVERPAYMENT_CLASSES.get(request.overpayment_class)

        def response(adjustment_id: str, period: Period) -> pb.AddAdjustmentResponse:
            return pb.AddAdjustmentResponse(adjustment_id=adjustment_id, period=str(period))

        return await self.app.add_adjustment(
            request.request_id,
            request.participant_id,
            request.period,
            request.amount.minor_units,
            request.amount.currency_code,
            request.reason,
            cls,
            response,
        )

    async def FinalizePeriod(
        self, request: pb.FinalizePeriodRequest, context: grpc.aio.ServicerContext
    ) -> pb.FinalizePeriodResponse:
        period = parse_period(request.period)
        return await self.app.finalize_period(
            request.request_id,
            period,
            lambda version: pb.FinalizePeriodResponse(
                period=str(period), run_version=version, state=pb.PERIOD_STATE_FINALIZED
            ),
        )

    async def GetStatement(
        self, request: pb.GetStatementRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStatementResponse:
        period = parse_period(request.period)
        pid = _participant(request.participant_id)
        stored = await self.app.stored_run(period, credits=True)
        result, cur = stored.result, stored.result.currency
        if pid not in set(result.payees["participant_id"].drop_nulls().to_list()):
            raise NotFound(f"participant {pid!r} is not a payee of the {period} run")
        statement = participant_statement(result, pid)
        credited = result.credit_lines([pid])["transaction_id"].unique().to_list()
        inputs = RunInputs(
            period=period,
            org=Organisation(),
            plans=stored.row.plan_book,
            transactions=await self.app.transactions(credited),
            currency=cur,
        )
        figures = []
        for m in statement.measurements:
            figure = pb.MeasurementFigure(
                position_id=m.position_id, measurement_id=m.measurement_id, value=text(m.value)
            )
            traces, total = self._credits(inputs, result, pid, m.position_id, m.measurement_id)
            figure.credits.extend(traces)
            figure.credits_total = total
            figures.append(figure)
        payment = statement.payment
        return pb.GetStatementResponse(
            participant_id=pid,
            period=str(period),
            run_version=result.run_version,
            state=pb.PERIOD_STATE_FINALIZED if stored.finalized else pb.PERIOD_STATE_OPEN,
            measurements=figures,
            lines=[
                pb.StatementLine(
                    position_id=line.position_id,
                    plan_id=line.plan_id,
                    incentive_id=line.incentive_id,
                    kind=line.kind,
                    earning_code=line.earning_code,
                    base_measurement_id=line.base_measurement_id or "",
                    base_value=text(line.base_value),
                    quota=text(line.quota),
                    tier_value=text(line.tier_value),
                    tier_index=-1 if line.tier_index is None else line.tier_index,
                    rate=text(line.rate),
                    multiplier=text(line.multiplier),
                    floored=bool(line.floored),
                    capped=bool(line.capped),
                    amount=money(line.amount, cur),
                )
                for line in statement.lines
            ],
            earnings=money(payment.get("earnings", Decimal(0)), cur),
            payment=money(payment.get("payment", Decimal(0)), cur),
            payroll=[
                pb.EarningLine(earning_code=code, amount=money(amount, cur)) for code, amount in statement.payroll
            ],
            adjustments=[
                _adjustment_line(adjustment, cur, str(period), row["treatment"] or "")
                for adjustment, row in zip(
                    adjustments_of(pl.DataFrame(list(statement.adjustments), schema=ADJUSTMENT_SCHEMA, orient="row")),
                    statement.adjustments,
                    strict=True,
                )
            ],
        )

    @staticmethod
    def _credits(
        inputs: RunInputs, result: RunResult, pid: str, position_id: str, measurement_id: str
    ) -> tuple[list[pb.CreditTrace], int]:
        """The credits and transactions a SUM/COUNT measurement adds up (none for formula measurements):
        the first `MAX_CREDIT_TRACES` by credit date, and how many there are. A director's roll-up can
        be hundreds of thousands of credits: more than a response may carry, and more than anyone reads
        on a statement (the payroll export and the run totals have the sums)."""
        try:
            lines = credits_behind(result, inputs, pid, position_id, measurement_id)
        except KeyError:
            return [], 0
        cur = result.currency
        total = lines.height
        lines = lines.head(MAX_CREDIT_TRACES)
        traces = [
            pb.CreditTrace(
                transaction_id=r["transaction_id"],
                rule_id=r["rule_id"],
                level=r["level"],
                amount=money(int(r["amount_minor"]), cur),
                credit_date=common_pb2.Date(
                    year=r["credit_date"].year, month=r["credit_date"].month, day=r["credit_date"].day
                ),
            )
            for r in lines.iter_rows(named=True)
        ]
        return traces, total

    async def GetDashboard(
        self, request: pb.GetDashboardRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDashboardResponse:
        period = parse_period(request.period)
        pid = _participant(request.participant_id)
        stored = await self.app.stored_run(period)
        result, cur = stored.result, stored.result.currency
        if pid not in set(result.payees["participant_id"].drop_nulls().to_list()):
            raise NotFound(f"participant {pid!r} is not a payee of the {period} run")
        d = self.app.dashboard_index(stored).dashboard(pid)
        return pb.GetDashboardResponse(
            participant_id=pid,
            period=str(period),
            run_version=result.run_version,
            expected_payout=money(d.expected_payout, cur),
            earnings=money(d.earnings, cur),
            kpis=[_kpi(k) for k in d.kpis],
        )

    async def GetTeam(self, request: pb.GetTeamRequest, context: grpc.aio.ServicerContext) -> pb.GetTeamResponse:
        period = parse_period(request.period)
        manager = _participant(request.manager_id, "manager_id")
        stored, members, names = await self.app.team(manager, period)
        cur = stored.result.currency
        return pb.GetTeamResponse(
            manager_id=manager,
            period=str(period),
            run_version=stored.row.run_version,
            members=[
                pb.TeamMember(
                    participant_id=m.participant_id,
                    name=names.get(m.participant_id, ""),
                    position_id=m.position_id,
                    title_id=m.title_id or "",
                    expected_payout=money(m.expected_payout, cur),
                    headline=None if m.headline is None else _kpi(m.headline),
                )
                for m in members
            ],
            team_expected_payout=money(sum((m.expected_payout for m in members), Decimal(0)), cur),
        )

    async def ListRuns(self, request: pb.ListRunsRequest, context: grpc.aio.ServicerContext) -> pb.ListRunsResponse:
        period = parse_period(request.period)
        ledger, summaries = await self.app.runs(period)
        return pb.ListRunsResponse(
            period=str(period),
            state=pb.PERIOD_STATE_FINALIZED if ledger.finalized else pb.PERIOD_STATE_OPEN,
            runs=[
                pb.RunSummary(
                    run_version=r.run_version,
                    kind=r.kind,
                    recorded_at=r.recorded_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    payees=r.payees,
                    total_payment=money(r.total_payment_minor, r.currency),
                    finalized=ledger.finalized_version == r.run_version,
                )
                for r in summaries
            ],
        )

    async def GetRunTotals(
        self, request: pb.GetRunTotalsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRunTotalsResponse:
        period = parse_period(request.period)
        if request.run_version < 0:
            problems = Violations()
            problems.add("run_version", "must not be negative")
            problems.raise_if_any()
        stored, previous = await self.app.run_totals(period, request.run_version)
        result = stored.result
        cur = result.currency
        t = run_totals(result)
        adjustments = result.adjustments
        ppa = adjustments.filter(pl.col("origin_period").is_not_null())
        manual = adjustments.filter(pl.col("origin_period").is_null())
        change, changed = 0, 0
        if previous is not None:
            before = previous.payments.select("participant_id", pl.col("payment_minor").alias("before"))
            after = result.payments.select("participant_id", pl.col("payment_minor").alias("after"))
            diff = before.join(after, on="participant_id", how="full", coalesce=True).with_columns(
                d=pl.col("after").fill_null(0) - pl.col("before").fill_null(0)
            )
            change = int(diff["d"].sum())
            changed = diff.filter(pl.col("d") != 0).height
        return pb.GetRunTotalsResponse(
            period=str(period),
            run_version=result.run_version,
            kind=stored.row.kind,
            state=pb.PERIOD_STATE_FINALIZED if stored.finalized else pb.PERIOD_STATE_OPEN,
            payees=t.payees,
            participants_paid=t.participants_paid,
            earnings_by_code=[
                pb.EarningLine(earning_code=code, amount=money(amount, cur))
                for code, amount in t.earnings_by_code.items()
            ],
            total_payment=money(t.total_payment, cur),
            deposits_held=money(t.deposits_held, cur),
            deposits_released=money(t.deposits_released, cur),
            draws_advanced=money(t.draws_advanced, cur),
            draws_recovered=money(t.draws_recovered, cur),
            overpayments_recovered=money(t.overpayments_recovered, cur),
            negative_balances_carried=money(t.negative_balances_carried, cur),
            recoverable_overpayments_outstanding=money(t.recoverable_overpayments_outstanding, cur),
            recorded_overpayments_outstanding=money(t.recorded_overpayments_outstanding, cur),
            manual_adjustments=money(int(manual["amount_minor"].sum()), cur),
            prior_period_adjustments=money(int(ppa["amount_minor"].sum()), cur),
            previous_run_version=0 if previous is None else previous.run_version,
            change_in_total_payment=money(change, cur),
            participants_changed=changed,
        )

    async def ExportPayroll(
        self, request: pb.ExportPayrollRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportPayrollResponse:
        period = parse_period(request.period)
        stored = await self.app.stored_run(period)
        return pb.ExportPayrollResponse(
            period=str(period), run_version=stored.result.run_version, csv=payroll_csv(stored.result)
        )

    async def CheckManager(
        self, request: pb.CheckManagerRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckManagerResponse:
        period = parse_period(request.period)
        manager = _participant(request.manager_id, "manager_id")
        pid = _participant(request.participant_id)
        return pb.CheckManagerResponse(manages=await self.app.manages(manager, pid, period))


def _date(value: date | None) -> common_pb2.Date | None:
    return None if value is None else common_pb2.Date(year=value.year, month=value.month, day=value.day)


def _kpi(k: KpiFigure) -> pb.Kpi:
    return pb.Kpi(
        position_id=k.position_id,
        plan_id=k.plan_id,
        measurement_id=k.measurement_id,
        value=text(k.value),
        quota=text(k.quota),
        attainment=text(k.attainment),
        to_quota=text(k.to_quota),
        tier_index=-1 if k.tier_index is None else k.tier_index,
        tier_rate=text(k.tier_rate),
        next_tier_rate=text(k.next_tier_rate),
        to_next_tier=text(k.to_next_tier),
        rank=k.rank or 0,
        peers=k.peers,
    )


OVERPAYMENT_CODES = {v: k for k, v in OVERPAYMENT_CLASSES.items()}


def _adjustment_line(a: Adjustment, currency: str, period: str, treatment: str) -> pb.AdjustmentLine:
    return pb.AdjustmentLine(
        adjustment_id=a.adjustment_id,
        participant_id=a.participant_id,
        amount=money(a.amount_minor, currency),
        reason=a.reason,
        overpayment_class=OVERPAYMENT_CODES.get(a.overpayment_class, pb.OVERPAYMENT_CLASS_UNSPECIFIED)
        if a.overpayment_class
        else pb.OVERPAYMENT_CLASS_UNSPECIFIED,
        treatment=treatment,
        origin_period=a.origin_period or "",
        position_id=a.position_id or "",
        incentive_id=a.incentive_id or "",
        period=period,
    )


def _treatment(result: RunResult, adjustment_id: str) -> str:
    rows = result.adjustments.filter(pl.col("adjustment_id") == adjustment_id)
    return (rows["treatment"][0] or "") if rows.height else ""


def _participant(value: str, field: str = "participant_id") -> str:
    value = value.strip()
    if not value:
        problems = Violations()
        problems.add(field, "required")
        raise InvalidArgument(problems.items)
    return value


def register(server: grpc.aio.Server, app: CommissionsApp) -> list[str]:
    commissions_pb2_grpc.add_CommissionsServiceServicer_to_server(CommissionsServicer(app), server)
    return [SERVICE_NAME]
