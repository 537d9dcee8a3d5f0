"""The gRPC edge of the commissions service: translates messages to domain values and back; the
application layer (`app`) does the work. Errors are mapped by the shared interceptor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import grpc

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2
from crm_runtime.errors import InvalidArgument, NotFound, Violations
from services.commissions.app import CommissionsApp, parse_period
from services.commissions.domain.dashboard import DashboardIndex
from services.commissions.domain.inputs import OverpaymentClass, RunInputs
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
from services.commissions.domain.plans import PlanAssignment
from services.commissions.domain.results import RunResult
from services.commissions.domain.statements import credits_behind, participant_statement
from services.commissions.domain.transactions import TransactionRow

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


class CommissionsServicer(commissions_pb2_grpc.CommissionsServiceServicer):
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
            lambda plan: pb.SavePlanResponse(plan_id=plan.plan_id, version=plan.version),
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

        def response(result: RunResult) -> pb.RunPeriodResponse:
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
            )

        return await self.app.run_period(request.request_id, period, request.currency, pb.RunPeriodResponse, response)

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
            figure.credits.extend(self._credits(inputs, result, pid, m.position_id, m.measurement_id))
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
        )

    @staticmethod
    def _credits(
        inputs: RunInputs, result: RunResult, pid: str, position_id: str, measurement_id: str
    ) -> list[pb.CreditTrace]:
        """The credits and transactions a SUM/COUNT measurement adds up (none for formula measurements)."""
        try:
            lines = credits_behind(result, inputs, pid, position_id, measurement_id)
        except KeyError:
            return []
        cur = result.currency
        return [
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

    async def GetDashboard(
        self, request: pb.GetDashboardRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDashboardResponse:
        period = parse_period(request.period)
        pid = _participant(request.participant_id)
        stored = await self.app.stored_run(period)
        result, cur = stored.result, stored.result.currency
        if pid not in set(result.payees["participant_id"].drop_nulls().to_list()):
            raise NotFound(f"participant {pid!r} is not a payee of the {period} run")
        d = DashboardIndex(result, stored.row.plan_book).dashboard(pid)
        return pb.GetDashboardResponse(
            participant_id=pid,
            period=str(period),
            run_version=result.run_version,
            expected_payout=money(d.expected_payout, cur),
            earnings=money(d.earnings, cur),
            kpis=[
                pb.Kpi(
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
                for k in d.kpis
            ],
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
