"""Commissions for sales staff, their managers and finance: a participant's dashboard and statement,
calculation runs, finalization, the payroll export and transaction uploads (CSV).

A participant sees their own dashboard and statement (the token's subject is their party id); a
manager (role manager) sees those of the participants below their position during the period; finance
and admins see anyone's. Runs, finalization, the payroll export and uploads are for
finance and admins."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from crm.commissions.v1 import commissions_pb2 as pb
from gateway.auth import Principal, authenticate, require
from gateway.models.commissions import Dashboard, Finalized, IngestResult, RejectedRow, Run, RunIn, Statement
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
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

Finance = Annotated[Principal, Depends(require(PAYROLL_ROLES))]
ParticipantId = Annotated[str, Path(max_length=128, description="The participant's id (their party id).")]


def period_param(period: Annotated[str, Path(description='The period, a month as "YYYY-MM".')]) -> str:
    if not _PERIOD.fullmatch(period):
        raise validation_problem([("path.period", f"{period!r} is not a period: use YYYY-MM, e.g. 2026-03")])
    return period


PeriodParam = Annotated[str, Depends(period_param)]
_PARTICIPANT_FIELDS = {"participant_id": "path.participant_id", "period": "path.period"}


async def participant_viewer(
    participant_id: ParticipantId,
    period: PeriodParam,
    principal: Annotated[Principal, Depends(authenticate)],
    commissions: Commissions,
) -> Principal:
    """The participant themselves, finance, an admin, or a manager of the participant during the
    period (someone holding role manager whose position is above theirs); 403 for anyone else."""
    if principal.subject == participant_id or principal.roles & ALL_FIGURES_ROLES:
        return principal
    if MANAGER_ROLE in principal.roles:
        check = pb.CheckManagerRequest(manager_id=principal.subject, participant_id=participant_id, period=period)
        answer = await call(commissions.CheckManager, check, fields=_PARTICIPANT_FIELDS, service=COMMISSIONS)
        if answer.manages:
            return principal
        detail = f"you do not manage participant {participant_id} in {period}"
    else:
        detail = "you may see only your own figures; others' need role finance or admin, or managing them"
    raise Problem(403, "forbidden", "Forbidden", detail)


Viewer = Annotated[Principal, Depends(participant_viewer)]


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
    """Calculates the period: a new run version each time (409 once the period is finalized)."""
    request = pb.RunPeriodRequest(
        request_id=idempotency_key or "", period=period, currency=(body.currency or "") if body else ""
    )
    result = await call(
        commissions.RunPeriod,
        request,
        fields={"period": "path.period", "currency": "body.currency"},
        service=COMMISSIONS,
    )
    return Run.of(result)


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
