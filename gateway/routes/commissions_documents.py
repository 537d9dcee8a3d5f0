"""Individual plan documents and their approval, commission disputes, and the notifications people
read: the REST side of the approval and dispute workflows.

The compensation team (role compensation) and admins draft a participant's plan document for a
period, submit it for approval and distribute the documents of a whole plan population. Everyone
decides through the same decision routes: the gateway only authenticates and passes the token's
subject and roles on, and the workflow decides whether it is this person's turn (the manager, finance,
a director, then the participant who signs); a decision that is not theirs to take is a 409 with the
workflow's reason. A document is read by the participant, their managers, the people of its approval
chain, and the compensation team, finance and admins.

A participant disputes a line of their statement or a transaction; their manager, then the compensation
team decide in the dispute's workflow, and a resolution becomes an adjustment paid in the open period.
Notifications are the caller's own plus those of the team inboxes of their roles ("role:finance")."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from crm.commissions.v1 import commissions_pb2 as pb
from crm.common.v1 import common_pb2
from gateway.auth import Principal, authenticate, require
from gateway.models.commissions import MAX_ID, PERIOD, contract_value, to_minor
from gateway.models.commissions_documents import (
    Dispute,
    DisputeDecisionIn,
    DisputeIn,
    DisputeReport,
    Disputes,
    DisputeStatus,
    Distribution,
    DistributionIn,
    Notifications,
    PlanDocument,
    PlanDocumentDecisionIn,
    PlanDocumentDetail,
    PlanDocumentDraftIn,
    PlanDocuments,
    PlanDocumentStatus,
    document_event,
    notification,
)
from gateway.problems import Problem, documented, validation_problem
from gateway.routes.base import API_PREFIX, COMMON_PROBLEMS
from gateway.routes.commissions import (
    IdempotencyKey,
    ParticipantId,
    PeriodParam,
    PlanId,
    check_participant_access,
    manages,
)
from gateway.upstream import COMMISSIONS, Commissions, call

BASE = API_PREFIX + "/commissions"
router = APIRouter(prefix=BASE, tags=["commissions"], responses=COMMON_PROBLEMS)

#: Who drafts, submits and distributes plan documents.
AUTHOR_ROLES = ("compensation", "admin")
#: Who reads anyone's documents and disputes, lists them and reads the dispute report.
TEAM_ROLES = ("compensation", "finance", "admin")
#: Roles whose holders see the documents and disputes of the participants below their position.
MANAGING_ROLES = frozenset({"manager", "director"})
ROLE_PREFIX = "role:"
#: A page of notifications: per inbox asked of the service, and merged.
DEFAULT_NOTIFICATIONS = 50
MAX_NOTIFICATIONS = 1000
MAX_PAGE_TOKEN = 200
ME = "me"
CURRENCY = re.compile(r"[A-Za-z]{3}")

Author = Annotated[Principal, Depends(require(AUTHOR_ROLES))]
Team = Annotated[Principal, Depends(require(TEAM_ROLES))]
Anyone = Annotated[Principal, Depends(authenticate)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="The document version, from 1.")]
DisputeId = Annotated[str, Path(max_length=MAX_ID, description="The dispute's id (a UUID).")]

DOCUMENT = "/periods/{period}/participants/{participant_id}/plan-document"
_DOCUMENT_FIELDS = {
    "participant_id": "path.participant_id",
    "period": "path.period",
    "version": "path.version",
    "author": "header.authorization",
    "actor": "header.authorization",
}
_DISPUTE_FIELDS = {"dispute_id": "path.dispute_id", "actor": "header.authorization"}


def _pdf_url(d: pb.PlanDocument) -> str:
    return f"{BASE}/periods/{d.period}/participants/{d.participant_id}/plan-document/versions/{d.version}.pdf"


def _document(d: pb.PlanDocument) -> PlanDocument:
    return PlanDocument.of(d, _pdf_url(d))


def _roles(principal: Principal) -> list[str]:
    return sorted(principal.roles)


def _is_me(principal: Principal, who: str) -> bool:
    """Whether an assignee ("anna", "role:finance") is the caller: their subject, or one of their roles."""
    if who.startswith(ROLE_PREFIX):
        return who.removeprefix(ROLE_PREFIX) in principal.roles
    return bool(who) and who == principal.subject


async def document_reader(
    participant_id: ParticipantId,
    period: PeriodParam,
    principal: Anyone,
    commissions: Commissions,
) -> Principal:
    """The participant, the compensation team, finance, admins, the participant's managers during the
    period (role manager or director), and whoever the document's approval chain names (a person, or a
    team through one of the caller's roles); 403 for anyone else."""
    try:
        await check_participant_access(
            principal, participant_id, period, commissions, frozenset(TEAM_ROLES), MANAGING_ROLES
        )
        return principal
    except Problem as refused:
        if refused.status != 403:
            raise
        try:
            found = await call(
                commissions.GetPlanDocument,
                pb.GetPlanDocumentRequest(participant_id=participant_id, period=period),
                fields=_DOCUMENT_FIELDS,
                service=COMMISSIONS,
            )
        except Problem as missing:
            if missing.status == 404:
                raise refused from None  # no document: say nothing more than to anyone else
            raise
        if any(_is_me(principal, s.assignee) or _is_me(principal, s.escalation_assignee) for s in found.document.chain):
            return principal
        raise


DocumentReader = Annotated[Principal, Depends(document_reader)]


# -- plan documents --------------------------------------------------------------------------------


@router.post(DOCUMENT, status_code=201, responses=documented(404, 409))
async def draft_plan_document(
    period: PeriodParam,
    participant_id: ParticipantId,
    principal: Author,
    commissions: Commissions,
    response: Response,
    body: PlanDocumentDraftIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> PlanDocument:
    """Drafts the participant's individual plan document for the period from the plans, positions and
    overrides in effect (personal quota, rates, tiers, terms), with its PDF and their hashes; you are its
    author. Unchanged terms return the latest version; changed terms make a new version (an older
    draft is superseded; an accepted version is never changed). 409 while a version is in approval, or
    when the participant has no plan in the period; 404 for an unknown participant."""
    request = pb.DraftPlanDocumentRequest(
        request_id=idempotency_key or "",
        participant_id=participant_id,
        period=period,
        author=principal.subject,
        language=(body.language if body else None) or "",
    )
    result = await call(commissions.DraftPlanDocument, request, fields=_DOCUMENT_FIELDS, service=COMMISSIONS)
    response.headers["Location"] = f"{BASE}/periods/{period}/participants/{participant_id}/plan-document"
    return _document(result.document)


@router.post(DOCUMENT + "/versions/{version}/submit", responses=documented(404, 409))
async def submit_plan_document(
    period: PeriodParam, participant_id: ParticipantId, version: Version, principal: Author, commissions: Commissions
) -> PlanDocument:
    """Starts the approval of a drafted version: the participant's manager, finance, a director when
    the target incentive is above the threshold, then the participant, who signs. You are the author
    who may withdraw it or resubmit after a return. Submitting again answers the same; 409 for a version
    that is not a draft."""
    request = pb.SubmitPlanDocumentRequest(
        participant_id=participant_id, period=period, version=version, author=principal.subject
    )
    result = await call(commissions.SubmitPlanDocument, request, fields=_DOCUMENT_FIELDS, service=COMMISSIONS)
    return _document(result.document)


@router.post(DOCUMENT + "/versions/{version}/decisions", responses=documented(404, 409))
async def decide_plan_document(
    period: PeriodParam,
    participant_id: ParticipantId,
    version: Version,
    body: PlanDocumentDecisionIn,
    principal: Anyone,
    commissions: Commissions,
) -> PlanDocument:
    """A decision on the version's current step, taken as you (the token's subject, with its roles):
    approve, return or reject (the step's approver: the manager, finance, a director); accept or reject
    (the participant signs or refuses); withdraw or resubmit (the author; resubmit a newly drafted
    version after a return). The approval workflow checks that it is your turn: a decision that is not
    yours to take now, or about a stale version, is a 409 saying why."""
    request = pb.DecidePlanDocumentRequest(
        participant_id=participant_id,
        period=period,
        version=version,
        action=body.action,
        actor=principal.subject,
        actor_roles=_roles(principal),
        comment=body.comment,
    )
    result = await call(commissions.DecidePlanDocument, request, fields=_DOCUMENT_FIELDS, service=COMMISSIONS)
    return _document(result.document)


@router.get(DOCUMENT, responses=documented(404))
async def get_plan_document(
    period: PeriodParam,
    participant_id: ParticipantId,
    principal: DocumentReader,
    commissions: Commissions,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="The version to read; default: the latest.")
    ] = None,
) -> PlanDocumentDetail:
    """A version of the participant's plan document (default: the latest) with its terms, approval chain,
    current step and status, and the audit trail of every version."""
    result = await call(
        commissions.GetPlanDocument,
        pb.GetPlanDocumentRequest(participant_id=participant_id, period=period, version=version or 0),
        fields={**_DOCUMENT_FIELDS, "version": "query.version"},
        service=COMMISSIONS,
    )
    document = _document(result.document)
    return PlanDocumentDetail(**document.model_dump(), history=[document_event(e) for e in result.history])


@router.get(
    DOCUMENT + "/versions/{version}.pdf",
    response_class=Response,
    responses={
        **documented(404),
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The PDF; its ETag and X-Content-SHA256 are the document's pdf_hash.",
        },
        304: {"description": "If-None-Match named this PDF's ETag: you have it already."},
    },
)
async def download_plan_document(
    period: PeriodParam,
    participant_id: ParticipantId,
    version: Version,
    principal: DocumentReader,
    commissions: Commissions,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """The PDF of a version, byte for byte the file that was approved and signed: its SHA-256 is the
    document's pdf_hash, sent as the ETag and as X-Content-SHA256."""
    result = await call(
        commissions.GetPlanDocument,
        pb.GetPlanDocumentRequest(participant_id=participant_id, period=period, version=version, include_pdf=True),
        fields=_DOCUMENT_FIELDS,
        service=COMMISSIONS,
    )
    digest = result.document.pdf_hash
    headers = {"ETag": f'"{digest}"', "X-Content-SHA256": digest, "Cache-Control": "private"}
    if if_none_match and digest in {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    filename = f"plan-{period}-{participant_id}-v{result.document.version}.pdf"
    return Response(
        result.pdf,
        media_type="application/pdf",
        headers={**headers, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/periods/{period}/plan-documents")
async def list_plan_documents(
    period: PeriodParam,
    principal: Team,
    commissions: Commissions,
    status: Annotated[PlanDocumentStatus | None, Query(description="Only documents in this status.")] = None,  # type: ignore[valid-type]
    assignee: Annotated[
        str,
        Query(
            max_length=MAX_ID,
            description="Only documents whose current step waits for this assignee: a participant id, a team such "
            'as "role:finance", or "me" for yourself.',
        ),
    ] = "",
    page_size: Annotated[int | None, Query(ge=1, le=1000, description="Default 100.")] = None,
    page_token: Annotated[str, Query(max_length=MAX_PAGE_TOKEN, description="From the previous page.")] = "",
) -> PlanDocuments:
    """The latest version of each participant's document for the period, by participant, with counts by
    status: the compensation team's view of where the approvals stand."""
    request = pb.ListPlanDocumentsRequest(
        period=period,
        status=contract_value(pb.PlanDocumentStatus, status) if status else 0,
        assignee=principal.subject if assignee == ME else assignee,
        page_size=page_size or 0,
        page_token=page_token,
    )
    result = await call(
        commissions.ListPlanDocuments,
        request,
        fields={
            "period": "path.period",
            "status": "query.status",
            "assignee": "query.assignee",
            "page_size": "query.page_size",
            "page_token": "query.page_token",
        },
        service=COMMISSIONS,
    )
    return PlanDocuments(
        documents=[_document(d) for d in result.documents],
        next_page_token=result.next_page_token or None,
        by_status=dict(result.by_status),
    )


@router.post("/periods/{period}/plans/{plan_id}/distribution", status_code=202, responses=documented(404))
async def distribute_plan_documents(
    period: PeriodParam,
    plan_id: PlanId,
    principal: Author,
    commissions: Commissions,
    response: Response,
    body: DistributionIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Distribution:
    """Drafts and submits the documents of everyone the plan applies to in the period (or the
    participants named) through one distribution workflow, in batches; you are their author. It runs on
    after the answer: follow it with GET. Asking again while it runs answers its progress."""
    request = pb.DistributePlanDocumentsRequest(
        request_id=idempotency_key or "",
        period=period,
        plan_id=plan_id,
        author=principal.subject,
        participant_ids=body.participant_ids if body else [],
    )
    result = await call(
        commissions.DistributePlanDocuments,
        request,
        fields={"period": "path.period", "plan_id": "path.plan_id", "author": "header.authorization"},
        service=COMMISSIONS,
    )
    response.headers["Location"] = f"{BASE}/periods/{period}/plans/{plan_id}/distribution"
    return Distribution.of(result)


@router.get("/periods/{period}/plans/{plan_id}/distribution", responses=documented(404))
async def get_distribution(
    period: PeriodParam, plan_id: PlanId, principal: Author, commissions: Commissions
) -> Distribution:
    """The distribution's progress: documents submitted and failed (with why) of the total."""
    result = await call(
        commissions.GetDistribution,
        pb.GetDistributionRequest(period=period, plan_id=plan_id),
        fields={"period": "path.period", "plan_id": "path.plan_id"},
        service=COMMISSIONS,
    )
    return Distribution.of(result)


# -- disputes --------------------------------------------------------------------------------------


@router.post(
    "/periods/{period}/participants/{participant_id}/disputes", status_code=201, responses=documented(404, 409)
)
async def open_dispute(
    period: PeriodParam,
    participant_id: ParticipantId,
    body: DisputeIn,
    principal: Anyone,
    commissions: Commissions,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Dispute:
    """Disputes a line of your statement for the period (position_id and incentive_id) or a transaction
    (transaction_id), and starts the dispute's workflow: your manager decides first, then the
    compensation team. Only the participant themselves (or an admin) opens a dispute. 409 when the
    period has not been run."""
    if principal.subject != participant_id and "admin" not in principal.roles:
        raise Problem(403, "forbidden", "Forbidden", "you may dispute only your own statement")
    request = pb.OpenDisputeRequest(
        request_id=idempotency_key or "",
        participant_id=participant_id,
        period=period,
        reason=contract_value(pb.DisputeReason, body.reason),
        text=body.text,
        position_id=body.position_id,
        incentive_id=body.incentive_id,
        transaction_id=body.transaction_id,
        references=body.references,
    )
    result = await call(
        commissions.OpenDispute,
        request,
        fields={"participant_id": "path.participant_id", "period": "path.period"},
        service=COMMISSIONS,
    )
    response.headers["Location"] = f"{BASE}/disputes/{result.dispute.dispute_id}"
    return Dispute.of(result.dispute)


@router.get("/disputes", responses=documented(422))
async def list_disputes(
    principal: Anyone,
    commissions: Commissions,
    period: Annotated[str, Query(max_length=7, description='Only this period\'s ("YYYY-MM").')] = "",
    status: Annotated[DisputeStatus | None, Query(description="Only disputes in this status.")] = None,
    assignee: Annotated[
        str,
        Query(
            max_length=MAX_ID,
            description='Only disputes waiting for this assignee: a participant id, "role:compensation", or "me".',
        ),
    ] = "",
    participant_id: Annotated[
        str, Query(max_length=MAX_ID, description='Only this participant\'s disputes ("me": yours).')
    ] = "",
) -> Disputes:
    """Disputes, oldest first. The compensation team, finance and admins list any; a manager lists those
    waiting for them (assignee=me), and a participant their own (participant_id=me)."""
    if period and not PERIOD.fullmatch(period):
        raise validation_problem([("query.period", f"{period!r} is not a period: use YYYY-MM, e.g. 2026-03")])
    assignee = principal.subject if assignee == ME else assignee
    participant_id = principal.subject if participant_id == ME else participant_id
    if not principal.roles & set(TEAM_ROLES):
        own = participant_id == principal.subject and assignee in ("", principal.subject)
        waiting = assignee == principal.subject and "manager" in principal.roles
        if not (own or waiting):
            raise Problem(
                403,
                "forbidden",
                "Forbidden",
                "list the disputes waiting for you (assignee=me, with role manager) or your own "
                "(participant_id=me); others' need one of the roles " + ", ".join(TEAM_ROLES),
            )
    result = await call(
        commissions.ListDisputes,
        pb.ListDisputesRequest(period=period, participant_id=participant_id, status=status or "", assignee=assignee),
        fields={
            "period": "query.period",
            "participant_id": "query.participant_id",
            "status": "query.status",
            "assignee": "query.assignee",
        },
        service=COMMISSIONS,
    )
    return Disputes(disputes=[Dispute.of(d) for d in result.disputes])


@router.get("/disputes/report")
async def dispute_report(
    principal: Team,
    commissions: Commissions,
    period: Annotated[str, Query(max_length=7, description='Only this period\'s disputes ("YYYY-MM").')] = "",
) -> DisputeReport:
    """Open disputes by reason and age, and how long resolved or rejected ones took, by reason."""
    if period and not PERIOD.fullmatch(period):
        raise validation_problem([("query.period", f"{period!r} is not a period: use YYYY-MM, e.g. 2026-03")])
    result = await call(
        commissions.GetDisputeReport,
        pb.GetDisputeReportRequest(period=period),
        fields={"period": "query.period"},
        service=COMMISSIONS,
    )
    return DisputeReport.of(result, period or None)


@router.get("/disputes/{dispute_id}", responses=documented(404))
async def get_dispute(dispute_id: DisputeId, principal: Anyone, commissions: Commissions) -> Dispute:
    """A dispute with its audit trail. For the participant, the dispute's assignee and manager, the
    participant's managers, the compensation team, finance and admins."""
    result = await call(
        commissions.GetDispute, pb.GetDisputeRequest(dispute_id=dispute_id), fields=_DISPUTE_FIELDS, service=COMMISSIONS
    )
    found = result.dispute
    involved = principal.subject in (found.participant_id, found.manager_id) or _is_me(principal, found.assignee)
    if not (
        involved
        or principal.roles & set(TEAM_ROLES)
        or await manages(principal, found.participant_id, found.period, commissions, MANAGING_ROLES)
    ):
        raise Problem(403, "forbidden", "Forbidden", "the dispute is neither yours nor waiting for you")
    return Dispute.of(found)


@router.post("/disputes/{dispute_id}/decisions", responses=documented(404, 409))
async def decide_dispute(
    dispute_id: DisputeId, body: DisputeDecisionIn, principal: Anyone, commissions: Commissions
) -> Dispute:
    """A decision on the dispute's current step, taken as you (the token's subject, with its roles): the
    manager approves, rejects or asks for information (request_info); the participant provides it
    (provide_info) or withdraws; the compensation team resolves with an adjustment, paid in the open
    period and followed by a recalculation of the participant, or rejects. The dispute workflow checks
    that it is your turn: a decision that is not yours to take now is a 409 saying why."""
    request = pb.DecideDisputeRequest(
        dispute_id=dispute_id,
        action=body.action,
        actor=principal.subject,
        actor_roles=_roles(principal),
        comment=body.comment,
        overpayment_class=contract_value(pb.OverpaymentClass, body.overpayment_class) if body.overpayment_class else 0,
    )
    if body.adjustment is not None:
        if not CURRENCY.fullmatch(body.currency.strip()):
            raise validation_problem([("body.currency", f"{body.currency!r} is not an ISO 4217 code such as RUB")])
        try:
            minor = to_minor(body.adjustment, body.currency)
        except ValueError as exc:
            raise validation_problem([("body.adjustment", str(exc))]) from None
        request.adjustment.CopyFrom(common_pb2.Money(currency_code=body.currency.strip().upper(), minor_units=minor))
    result = await call(
        commissions.DecideDispute,
        request,
        fields={
            **_DISPUTE_FIELDS,
            "adjustment": "body.adjustment",
            "overpayment_class": "body.overpayment_class",
            "action": "body.action",
            "comment": "body.comment",
        },
        service=COMMISSIONS,
    )
    return Dispute.of(result.dispute)


# -- notifications ---------------------------------------------------------------------------------


@router.get("/notifications")
async def list_notifications(
    principal: Anyone,
    commissions: Commissions,
    limit: Annotated[
        int, Query(ge=1, le=MAX_NOTIFICATIONS, description="At most this many, newest first (default 50).")
    ] = DEFAULT_NOTIFICATIONS,
) -> Notifications:
    """Your notifications (reminders, escalations, decisions, documents to sign, resolved disputes) and
    those of the team inboxes of your roles ("role:finance" for finance...), newest first."""
    recipients = [principal.subject, *(ROLE_PREFIX + r for r in sorted(principal.roles))]
    answers = await asyncio.gather(
        *(
            call(
                commissions.ListNotifications,
                pb.ListNotificationsRequest(recipient=r, limit=limit),
                fields={"recipient": "header.authorization", "limit": "query.limit"},
                service=COMMISSIONS,
            )
            for r in recipients
        )
    )
    merged = {n.notification_id: n for answer in answers for n in answer.notifications}
    newest = sorted(merged.values(), key=lambda n: n.notification_id, reverse=True)[:limit]
    return Notifications(recipients=recipients, notifications=[notification(n) for n in newest])
