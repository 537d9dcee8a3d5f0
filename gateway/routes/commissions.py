"""Commissions for sales staff, their managers and finance: the organisation, plans (versions,
assignments, variable overrides), adjustments, a participant's dashboard and statement, a manager's
team, calculation runs (full or incremental) with their totals, finalization, the payroll export and
transaction uploads (CSV).

A participant sees their own dashboard and statement (the token's subject is their party id); a
manager (role manager) sees those of the participants below their position during the period, and
their own team; finance and admins see anyone's. Setting up the organisation and the plans,
adjustments, runs, their totals, finalization, the payroll export and uploads are for finance and
admins."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from crm.commissions.v1 import commissions_pb2 as pb
from crm.common.v1 import common_pb2
from gateway.auth import Principal, authenticate, require
from gateway.models.commissions import (
    MAX_ID,
    PERIOD,
    AdjustmentAdded,
    AdjustmentIn,
    Adjustments,
    AssignmentCreated,
    Dashboard,
    Finalized,
    IngestResult,
    OrganisationIn,
    OrganisationSaved,
    OverrideCreated,
    PlanAssignmentIn,
    PlanIn,
    Plans,
    PlanSaved,
    RejectedRow,
    Run,
    RunIn,
    Runs,
    RunTotals,
    Statement,
    Team,
    VariableOverrideIn,
    adjustment_line,
    contract_value,
    to_minor,
)
from gateway.problems import Problem, documented, validation_problem
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS
from gateway.upstream import COMMISSIONS, Commissions, call

router = APIRouter(prefix=API_PREFIX + "/commissions", tags=["commissions"], responses=COMMON_PROBLEMS)

TRANSACTIONS_PATH = API_PREFIX + "/commissions/transactions"
#: A transactions upload may be up to 10 MB (other requests: the gateway's default cap).
MAX_CSV_BYTES = 10 * 1024 * 1024
BODY_LIMITS = {TRANSACTIONS_PATH: MAX_CSV_BYTES}
#: A 10 MB file is a few hundred thousand rows: more than the usual per-call deadline allows.
UPLOAD_DEADLINE_SECONDS = 300.0
#: Rows per streamed IngestTransactions message.
INGEST_BATCH = 1000
CSV_COLUMNS = (
    "transaction_id",
    "date",
    "amount",
    "currency",
    "position_id",
    "product",
    "territory",
    "channel",
    "segment",
    "original_id",
)
REQUIRED_COLUMNS = ("transaction_id", "date", "amount", "currency")
PAYROLL_ROLES = ("finance", "admin")
#: Besides the participant themselves and their managers, who may read anyone's dashboard and statement.
ALL_FIGURES_ROLES = frozenset({"finance", "admin"})
MANAGER_ROLE = "manager"

Finance = Annotated[Principal, Depends(require(PAYROLL_ROLES))]
ParticipantId = Annotated[str, Path(max_length=MAX_ID, description="The participant's id (their party id).")]
ManagerId = Annotated[str, Path(max_length=MAX_ID, description="The manager's participant id (their party id).")]
PlanId = Annotated[str, Path(max_length=MAX_ID, description='The plan\'s id, e.g. "rep".')]
IdempotencyKey = Annotated[
    str | None, Header(max_length=128, description="Your key for this request: a retry with it writes nothing again.")
]


def period_param(period: Annotated[str, Path(description='The period, a month as "YYYY-MM".')]) -> str:
    if not PERIOD.fullmatch(period):
        raise validation_problem([("path.period", f"{period!r} is not a period: use YYYY-MM, e.g. 2026-03")])
    return period


PeriodParam = Annotated[str, Depends(period_param)]


def _day(value: date | None) -> common_pb2.Date | None:
    return None if value is None else common_pb2.Date(year=value.year, month=value.month, day=value.day)


_PARTICIPANT_FIELDS = {"participant_id": "path.participant_id", "period": "path.period"}


async def manages(
    principal: Principal,
    participant_id: str,
    period: str,
    commissions: Commissions,
    managing_roles: frozenset[str] = frozenset({MANAGER_ROLE}),
) -> bool:
    """Whether the caller holds one of managing_roles and a position above the participant's during
    the period (asked of the service's CheckManager)."""
    if not principal.roles & managing_roles:
        return False
    check = pb.CheckManagerRequest(manager_id=principal.subject, participant_id=participant_id, period=period)
    answer = await call(commissions.CheckManager, check, fields=_PARTICIPANT_FIELDS, service=COMMISSIONS)
    return bool(answer.manages)


async def check_participant_access(
    principal: Principal,
    participant_id: str,
    period: str,
    commissions: Commissions,
    privileged: frozenset[str] = ALL_FIGURES_ROLES,
    managing_roles: frozenset[str] = frozenset({MANAGER_ROLE}),
) -> None:
    """Admits the participant themselves, holders of a privileged role and the participant's managers
    during the period; 403 for anyone else."""
    if principal.subject == participant_id or principal.roles & privileged:
        return
    if principal.roles & managing_roles:
        if await manages(principal, participant_id, period, commissions, managing_roles):
            return
        detail = f"you do not manage participant {participant_id} in {period}"
    else:
        detail = (
            "you may see only your own figures; others' need one of the roles "
            f"{', '.join(sorted(privileged))}, or managing them"
        )
    raise Problem(403, "forbidden", "Forbidden", detail)


async def participant_viewer(
    participant_id: ParticipantId,
    period: PeriodParam,
    principal: Annotated[Principal, Depends(authenticate)],
    commissions: Commissions,
) -> Principal:
    """The participant themselves, finance, an admin, or a manager of the participant during the
    period (someone holding role manager whose position is above theirs); 403 for anyone else."""
    await check_participant_access(principal, participant_id, period, commissions)
    return principal


Viewer = Annotated[Principal, Depends(participant_viewer)]


def team_viewer(manager_id: ManagerId, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """The manager themselves (token subject = manager_id, with role manager), finance or an admin."""
    if principal.roles & ALL_FIGURES_ROLES:
        return principal
    if principal.subject == manager_id and MANAGER_ROLE in principal.roles:
        return principal
    if principal.subject == manager_id:
        detail = "your team's figures need role manager"
    else:
        detail = "you may see only your own team; others' need role finance or admin"
    raise Problem(403, "forbidden", "Forbidden", detail)


TeamViewer = Annotated[Principal, Depends(team_viewer)]


# -- organisation and plans ------------------------------------------------------------------------


@router.post("/organisation")
async def save_organisation(
    body: OrganisationIn, principal: Finance, commissions: Commissions, idempotency_key: IdempotencyKey = None
) -> OrganisationSaved:
    """Adds titles, position versions (a position's title and manager from a date), participants and
    their assignments to positions. The whole resulting organisation is validated (one holder per
    position and day, no manager cycles, known titles...) and nothing is written when any of it is
    wrong; the problem names the offending item, e.g. body.assignments[2].position_id."""
    request = pb.SaveOrganisationRequest(
        request_id=idempotency_key or "",
        titles=[pb.Title(title_id=t.title_id, name=t.name) for t in body.titles],
        positions=[
            pb.PositionVersion(
                position_id=v.position_id,
                title_id=v.title_id,
                manager_position_id=v.manager_position_id,
                valid_from=_day(v.valid_from),
                valid_to=_day(v.valid_to),
            )
            for v in body.positions
        ],
        participants=[
            pb.Participant(
                participant_id=p.participant_id, name=p.name, role=contract_value(pb.ParticipantRole, p.role)
            )
            for p in body.participants
        ],
        assignments=[
            pb.Assignment(
                participant_id=a.participant_id,
                position_id=a.position_id,
                valid_from=_day(a.valid_from),
                valid_to=_day(a.valid_to),
            )
            for a in body.assignments
        ],
    )
    result = await call(commissions.SaveOrganisation, request, service=COMMISSIONS)
    return OrganisationSaved(
        titles=result.titles,
        positions=result.positions,
        participants=result.participants,
        assignments=result.assignments,
    )


@router.post("/plans", status_code=201)
async def save_plan(
    body: PlanIn,
    principal: Finance,
    commissions: Commissions,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PlanSaved:
    """Stores the next version of a plan (a new plan_id starts at version 1), validated as a whole and
    against the known positions; a problem names the part of the plan that is wrong."""
    request = pb.SavePlanRequest(
        request_id=idempotency_key or "",
        plan_json=json.dumps(body.plan, ensure_ascii=False),
        effective_period=body.effective_period or "",
    )
    result = await call(
        commissions.SavePlan,
        request,
        fields={"plan_json": "body.plan", "effective_period": "body.effective_period"},
        service=COMMISSIONS,
    )
    response.headers["Location"] = f"{API_PREFIX}/commissions/plans/{result.plan_id}"
    return PlanSaved(plan_id=result.plan_id, version=result.version, effective_period=result.effective_period or None)


@router.get("/plans")
async def list_plans(principal: Finance, commissions: Commissions) -> Plans:
    """Every plan's versions (with the period each takes effect from and the plan document), their
    assignments to titles and positions, and the variable overrides."""
    return Plans.of(await call(commissions.ListPlans, pb.ListPlansRequest(), service=COMMISSIONS))


@router.get("/plans/{plan_id}", responses=documented(404))
async def get_plan(plan_id: PlanId, principal: Finance, commissions: Commissions) -> Plans:
    """One plan's versions, assignments and variable overrides (404 for an unknown plan)."""
    result = await call(
        commissions.ListPlans,
        pb.ListPlansRequest(plan_id=plan_id),
        fields={"plan_id": "path.plan_id"},
        service=COMMISSIONS,
    )
    return Plans.of(result)


@router.post("/plans/{plan_id}/assignments", status_code=201, responses=documented(404))
async def assign_plan(
    plan_id: PlanId,
    body: PlanAssignmentIn,
    principal: Finance,
    commissions: Commissions,
    idempotency_key: IdempotencyKey = None,
) -> AssignmentCreated:
    """Applies the plan to every position of a title, or to one position (which wins), from a date."""
    request = pb.AssignPlanRequest(
        request_id=idempotency_key or "",
        plan_id=plan_id,
        title_id=body.title_id or "",
        position_id=body.position_id or "",
        valid_from=_day(body.valid_from),
        valid_to=_day(body.valid_to),
    )
    result = await call(commissions.AssignPlan, request, fields={"plan_id": "path.plan_id"}, service=COMMISSIONS)
    return AssignmentCreated(assignment_id=result.assignment_id)


@router.post("/plans/{plan_id}/overrides", status_code=201, responses=documented(404))
async def set_variable_override(
    plan_id: PlanId,
    body: VariableOverrideIn,
    principal: Finance,
    commissions: Commissions,
    idempotency_key: IdempotencyKey = None,
) -> OverrideCreated:
    """Sets a plan variable (e.g. the quota) for one title or one position (which wins) over a date
    range; overrides of the same variable and target must not overlap."""
    request = pb.SetVariableOverrideRequest(
        request_id=idempotency_key or "",
        plan_id=plan_id,
        variable=body.variable,
        value=body.value,
        title_id=body.title_id or "",
        position_id=body.position_id or "",
        valid_from=_day(body.valid_from),
        valid_to=_day(body.valid_to),
    )
    result = await call(
        commissions.SetVariableOverride, request, fields={"plan_id": "path.plan_id"}, service=COMMISSIONS
    )
    return OverrideCreated(override_id=result.override_id)


@router.get("/periods/{period}/participants/{participant_id}/dashboard", responses=documented(404))
async def get_dashboard(
    period: PeriodParam, participant_id: ParticipantId, principal: Viewer, commissions: Commissions
) -> Dashboard:
    """A participant's dashboard: every KPI's value and attainment, the rank among same-title peers,
    what is missing to the quota and to the next tier, and the payout expected so far."""
    result = await call(
        commissions.GetDashboard,
        pb.GetDashboardRequest(participant_id=participant_id, period=period),
        fields=_PARTICIPANT_FIELDS,
        service=COMMISSIONS,
    )
    return Dashboard.of(result)


@router.get("/periods/{period}/participants/{participant_id}/statement", responses=documented(404))
async def get_statement(
    period: PeriodParam, participant_id: ParticipantId, principal: Viewer, commissions: Commissions
) -> Statement:
    """A participant's statement: each line traced to its measurements, credits and transactions, with
    the rule, tier and rate that produced it; the payroll lines and the payment."""
    result = await call(
        commissions.GetStatement,
        pb.GetStatementRequest(participant_id=participant_id, period=period),
        fields=_PARTICIPANT_FIELDS,
        service=COMMISSIONS,
    )
    return Statement.of(result)


@router.get("/periods/{period}/participants/{manager_id}/team", responses=documented(404))
async def get_team(period: PeriodParam, manager_id: ManagerId, principal: TeamViewer, commissions: Commissions) -> Team:
    """A manager's team for the period: everyone below the manager's positions, with their position,
    title, expected payout and headline KPI. For the manager themselves (role manager), finance and
    admins."""
    result = await call(
        commissions.GetTeam,
        pb.GetTeamRequest(manager_id=manager_id, period=period),
        fields={"manager_id": "path.manager_id", "period": "path.period"},
        service=COMMISSIONS,
    )
    return Team.of(result)


@router.get(
    "/periods/{period}/payroll",
    response_class=Response,
    responses={
        **documented(404, 409),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The payroll CSV."},
    },
)
async def export_payroll(period: PeriodParam, principal: Finance, commissions: Commissions) -> Response:
    """The payroll export of the period's run (the finalized one, else the latest) as CSV."""
    result = await call(
        commissions.ExportPayroll,
        pb.ExportPayrollRequest(period=period),
        fields={"period": "path.period"},
        service=COMMISSIONS,
    )
    return Response(
        result.csv,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="payroll-{result.period}.csv"',
            "X-Run-Version": str(result.run_version),
        },
    )


@router.post("/periods/{period}/runs", status_code=201, responses=documented(409))
async def run_period(
    period: PeriodParam,
    principal: Finance,
    commissions: Commissions,
    body: RunIn | None = None,
    idempotency_key: Annotated[
        str | None, Header(max_length=128, description="Your key for this run: a retry with it starts no new run.")
    ] = None,
) -> Run:
    """Calculates the period: a new run version each time (409 once the period is finalized). A FULL
    run recomputes everyone; an INCREMENTAL one only those whose inputs changed since the period's
    latest run, and runs in full (saying why in `note`) when it cannot. Late changes to finalized
    periods come back as prior-period adjustments paid (or recorded) in this run."""
    body = body or RunIn()
    request = pb.RunPeriodRequest(
        request_id=idempotency_key or "",
        period=period,
        currency=body.currency or "",
        mode=contract_value(pb.RunMode, body.mode),
        participant_ids=body.participant_ids,
    )
    result = await call(
        commissions.RunPeriod,
        request,
        fields={"period": "path.period", "currency": "body.currency", "mode": "body.mode"},
        service=COMMISSIONS,
    )
    return Run.of(result)


@router.get("/periods/{period}/runs", responses=documented(404))
async def list_runs(period: PeriodParam, principal: Finance, commissions: Commissions) -> Runs:
    """The period's state and its runs: version, kind, when, payees and total (404 when never run)."""
    result = await call(
        commissions.ListRuns, pb.ListRunsRequest(period=period), fields={"period": "path.period"}, service=COMMISSIONS
    )
    return Runs.of(result)


@router.get("/periods/{period}/totals", responses=documented(404))
async def run_totals(
    period: PeriodParam,
    principal: Finance,
    commissions: Commissions,
    run_version: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="The run to total; default: the finalized run, else the latest."),
    ] = None,
) -> RunTotals:
    """What finance checks before finalizing: a run's totals by earning code, deposits, draws,
    recoveries, balances, manual and prior-period adjustments, and the change against the run before."""
    result = await call(
        commissions.GetRunTotals,
        pb.GetRunTotalsRequest(period=period, run_version=run_version or 0),
        fields={"period": "path.period", "run_version": "query.run_version"},
        service=COMMISSIONS,
    )
    return RunTotals.of(result)


@router.post("/periods/{period}/adjustments", status_code=201, responses=documented(409))
async def add_adjustment(
    period: PeriodParam,
    body: AdjustmentIn,
    principal: Finance,
    commissions: Commissions,
    idempotency_key: IdempotencyKey = None,
) -> AdjustmentAdded:
    """Records money added to (positive) or an overpayment taken back from (negative) a participant in
    an open period; the period's next run pays it (409 once the period is finalized). Only
    CALCULATION_ERROR overpayments are recovered from later payouts (Labour Code art. 137); the
    others are recorded only."""
    try:
        minor = to_minor(body.amount, body.currency)
    except ValueError as exc:
        raise validation_problem([("body.amount", str(exc))]) from None
    request = pb.AddAdjustmentRequest(
        request_id=idempotency_key or "",
        participant_id=body.participant_id,
        period=period,
        reason=body.reason,
        overpayment_class=(
            contract_value(pb.OverpaymentClass, body.overpayment_class) if body.overpayment_class else 0
        ),
    )
    request.amount.currency_code = body.currency
    request.amount.minor_units = minor
    result = await call(
        commissions.AddAdjustment,
        request,
        fields={"period": "path.period", "amount.minor_units": "body.amount", "amount.currency_code": "body.currency"},
        service=COMMISSIONS,
    )
    return AdjustmentAdded(adjustment_id=result.adjustment_id, period=result.period)


@router.get("/periods/{period}/adjustments")
async def list_adjustments(
    period: PeriodParam,
    principal: Finance,
    commissions: Commissions,
    participant_id: Annotated[str, Query(max_length=MAX_ID, description="Only this participant's.")] = "",
) -> Adjustments:
    """The adjustments entered for the period (manual ones; the prior-period adjustments a run derives
    are in its response, its totals and the statements)."""
    result = await call(
        commissions.ListAdjustments,
        pb.ListAdjustmentsRequest(period=period, participant_id=participant_id),
        fields={"period": "path.period", "participant_id": "query.participant_id"},
        service=COMMISSIONS,
    )
    return Adjustments(period=period, adjustments=[adjustment_line(a) for a in result.adjustments])


@router.post("/periods/{period}/finalize", responses=documented(409))
async def finalize_period(
    period: PeriodParam,
    principal: Finance,
    commissions: Commissions,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Finalized:
    """Freezes the period's latest run as its result; it can never be run again."""
    result = await call(
        commissions.FinalizePeriod,
        pb.FinalizePeriodRequest(request_id=idempotency_key or "", period=period),
        fields={"period": "path.period"},
        service=COMMISSIONS,
    )
    return Finalized(
        period=result.period,
        run_version=result.run_version,
        state=pb.PeriodState.Name(result.state).removeprefix("PERIOD_STATE_").lower(),
    )


@router.post(
    "/transactions",
    responses=documented(413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "transaction_id,date,amount,currency,position_id,product\n"
                    "t1,2026-03-05,100000.00,RUB,R1,loan\n",
                }
            },
        }
    },
)
async def upload_transactions(
    request: Request,
    principal: Finance,
    commissions: Commissions,
    currency: Annotated[
        str, Query(max_length=3, description="The calculation currency the rows must be in (default RUB).")
    ] = "",
) -> IngestResult:
    """Ingests sales transactions from a CSV file (UTF-8, at most 10 MB) with a header line naming the
    columns transaction_id, date (YYYY-MM-DD), amount (major units), currency, position_id and optionally
    product, territory, channel, segment and original_id (for a reversal). Each row stands on its own:
    good rows go in, bad rows are reported with their line, column and reason, a row already stored with
    the same content counts as a duplicate. Only a request that is bad as a whole gets a problem."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() not in ("text/csv", "application/csv"):
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send the transactions as CSV (Content-Type: text/csv), not {content_type or 'nothing'}",
        )
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise validation_problem([("body", f"the CSV is not UTF-8 text (byte {exc.start})")]) from None
    rows, lines = _parse(text)

    async def batches() -> AsyncIterator[pb.IngestTransactionsRequest]:
        for start in range(0, len(rows), INGEST_BATCH):
            yield pb.IngestTransactionsRequest(
                rows=rows[start : start + INGEST_BATCH], currency=currency if start == 0 else ""
            )

    result = await call(
        commissions.IngestTransactions,
        batches(),
        fields={"currency": "query.currency"},
        service=COMMISSIONS,
        deadline=UPLOAD_DEADLINE_SECONDS,
    )
    return IngestResult(
        rows=len(rows),
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[
            RejectedRow(
                line=lines[r.row_index] if 0 <= r.row_index < len(lines) else 0,
                transaction_id=r.transaction_id,
                field=r.field.split("].", 1)[-1],
                reason=r.reason,
            )
            for r in result.rejected
        ],
    )


def _parse(text: str) -> tuple[list[pb.TransactionRow], list[int]]:
    """The CSV's rows as contract messages and each row's line number; a problem when the file as a
    whole is unusable (no header, missing or unknown columns, no rows, broken quoting)."""
    if not text.strip():
        raise validation_problem([("body", "the CSV is empty: send a header line and at least one row")])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
        errors = [("body.header", f"unknown column {h!r}") for h in header if h not in CSV_COLUMNS]
        errors += [("body.header", f"column {c!r} is missing") for c in REQUIRED_COLUMNS if c not in header]
        errors += [
            ("body.header", f"column {h!r} appears twice") for h in sorted({h for h in header if header.count(h) > 1})
        ]
        if errors:
            raise validation_problem(errors, "the CSV header must name the columns " + ", ".join(CSV_COLUMNS))
        rows: list[pb.TransactionRow] = []
        lines: list[int] = []
        start = reader.line_num + 1
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) > len(header):
                    raise validation_problem(
                        [(f"body.line[{start}]", f"{len(record)} values for {len(header)} columns")]
                    )
                rows.append(pb.TransactionRow(**dict(zip(header, record, strict=False))))
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise validation_problem([(f"body.line[{reader.line_num}]", f"malformed CSV: {exc}")]) from None
    if not rows:
        raise validation_problem([("body", "the CSV has a header but no rows")])
    return rows, lines
