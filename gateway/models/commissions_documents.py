"""REST shapes of individual plan documents (drafts, approval decisions, the audit trail, the PDF and
distribution to a plan population), commission disputes and their report, and notifications.

As in the rest of the commissions API, money is exact (`Money`: decimal text plus minor units) and the
contract's vocabulary keeps its case: document statuses and dispute reasons are the contract's
upper-case names ("IN_APPROVAL", "WRONG_RATE"); decisions and dispute statuses are the lower-case words
of the workflows ("approve", "info_requested")."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from crm.commissions.v1 import commissions_pb2 as pb
from gateway.models.commissions import (
    MAX_ID,
    DecimalText,
    Id,
    Money,
    OverpaymentClass,
    contract_enum,
    contract_name,
    money,
)
from gateway.models.common import Input, Output, Str

#: What the approval and dispute workflows take (the contract's comments list them).
DOCUMENT_ACTIONS = ("approve", "return", "reject", "accept", "withdraw", "resubmit")
DISPUTE_ACTIONS = ("approve", "reject", "request_info", "provide_info", "resolve", "withdraw")
DISPUTE_STATUSES = ("open", "info_requested", "approved", "resolved", "rejected", "withdrawn")
#: Limits of the service: comments and dispute texts, references.
MAX_COMMENT = 2000
MAX_REFERENCE = 200
MAX_REFERENCES = 10
MAX_DISTRIBUTION = 100_000

PlanDocumentStatus = contract_enum(pb.PlanDocumentStatus)
DisputeReason = contract_enum(pb.DisputeReason)
DocumentAction = Literal["approve", "return", "reject", "accept", "withdraw", "resubmit"]
DisputeAction = Literal["approve", "reject", "request_info", "provide_info", "resolve", "withdraw"]
DisputeStatus = Literal["open", "info_requested", "approved", "resolved", "rejected", "withdrawn"]
Comment = Annotated[Str, StringConstraints(max_length=MAX_COMMENT)]
OptionalId = Annotated[Str, StringConstraints(max_length=MAX_ID)]


def _text(value: str) -> str | None:
    return value or None


def _at(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- plan documents --------------------------------------------------------------------------------


class PlanDocumentDraftIn(Input):
    language: Literal["ru", "en"] | None = Field(None, description='The PDF\'s language: "ru" (default) or "en".')


class PlanDocumentDecisionIn(Input):
    """A decision on the document's current step. Who may take which decision is the approval
    workflow's rule, not the gateway's: the manager, finance (role finance), a director above the
    target-incentive threshold approve, return or reject; the participant accepts (signs) or rejects;
    the author withdraws, or resubmits a newly drafted version after a return."""

    action: DocumentAction = Field(description="approve, return, reject, accept, withdraw or resubmit.")
    comment: Comment = Field("", description="Required for return and reject (at most 2,000 characters).")


class ApprovalStep(Output):
    step: str = Field(description="manager, finance, director or participant.")
    assignee: str = Field(description='Who decides: a participant id, or "role:finance" for the finance team.')
    escalation_assignee: str | None = Field(description="Who may decide too once the step is escalated.")


class DocumentEvent(Output):
    """One entry of the audit trail."""

    version: int | None = Field(description="The document version (plan documents); null for disputes.")
    step: str | None
    action: str = Field(description="drafted, submitted, approved, returned, accepted, reminded, escalated...")
    actor: str
    comment: str | None
    at: datetime | None


def document_event(e: pb.PlanDocumentEvent, *, with_version: bool = True) -> DocumentEvent:
    return DocumentEvent(
        version=e.version if with_version else None,
        step=_text(e.step),
        action=e.action,
        actor=e.actor,
        comment=_text(e.comment),
        at=_at(e.at),
    )


class PlanDocument(Output):
    document_id: str = Field(description="plan-doc/<period>/<participant>")
    participant_id: str
    period: str
    version: int
    status: PlanDocumentStatus | None = Field(  # type: ignore[valid-type]
        description="DRAFT, IN_APPROVAL, DISTRIBUTED (waiting for the participant's signature), ACCEPTED "
        "(signed: immutable), RETURNED, WITHDRAWN or SUPERSEDED."
    )
    plan_id: str
    plan_version: int
    content_hash: str = Field(description="SHA-256 (hex) of the canonical terms.")
    pdf_hash: str = Field(description="SHA-256 (hex) of the PDF file: the ETag of its download.")
    pdf_url: str = Field(description="Where the PDF of this version is downloaded.")
    target_incentive: Money | None
    chain: list[ApprovalStep] = Field(description="The approval chain, ending with the participant's signature.")
    current_step: str | None = Field(description="The step waiting for a decision; null when none.")
    author: str
    workflow_id: str | None = Field(description="The approval workflow; null before submission.")
    terms: dict[str, Any] = Field(description="The terms the document states (canonical form).")
    comment: str | None = Field(description="The latest comment of a return or rejection.")

    @classmethod
    def of(cls, d: pb.PlanDocument, pdf_url: str) -> PlanDocument:
        return cls(
            document_id=d.document_id,
            participant_id=d.participant_id,
            period=d.period,
            version=d.version,
            status=contract_name(pb.PlanDocumentStatus, d.status),
            plan_id=d.plan_id,
            plan_version=d.plan_version,
            content_hash=d.content_hash,
            pdf_hash=d.pdf_hash,
            pdf_url=pdf_url,
            target_incentive=money(d.target_incentive) if d.HasField("target_incentive") else None,
            chain=[
                ApprovalStep(step=c.step, assignee=c.assignee, escalation_assignee=_text(c.escalation_assignee))
                for c in d.chain
            ],
            current_step=_text(d.current_step),
            author=d.author,
            workflow_id=_text(d.workflow_id),
            terms=json.loads(d.terms_json) if d.terms_json else {},
            comment=_text(d.comment),
        )


class PlanDocumentDetail(PlanDocument):
    history: list[DocumentEvent] = Field(description="The audit trail of every version, oldest first.")


class PlanDocuments(Output):
    documents: list[PlanDocument] = Field(description="The latest version of each participant's document.")
    next_page_token: str | None = Field(description="Pass it as page_token for the next page; null on the last.")
    by_status: dict[str, int] = Field(description="Counts by status over the whole period (not only this page).")


class DistributionIn(Input):
    participant_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_DISTRIBUTION,
        description="Only these participants (each must be on the plan in the period); default: everyone the "
        "plan applies to.",
    )


class Distribution(Output):
    workflow_id: str = Field(description="plan-distribution/<period>/<plan>")
    total: int
    submitted: int
    failed: int
    status: str | None = Field(description="running, completed or failed.")
    failures: list[str] = Field(description='"participant: reason" for each document that could not be submitted.')

    @classmethod
    def of(cls, m: pb.DistributePlanDocumentsResponse | pb.GetDistributionResponse) -> Distribution:
        return cls(
            workflow_id=m.workflow_id,
            total=m.total,
            submitted=m.submitted,
            failed=m.failed,
            status=_text(m.status),
            failures=list(m.failures),
        )


# -- disputes --------------------------------------------------------------------------------------


class DisputeIn(Input):
    """Dispute either a statement line (position_id and incentive_id) or a transaction (transaction_id)."""

    reason: DisputeReason = Field(  # type: ignore[valid-type]
        description="MISSING_CREDIT, WRONG_AMOUNT, WRONG_RATE, SPLIT, REVERSAL or OTHER."
    )
    text: Annotated[Str, StringConstraints(max_length=MAX_COMMENT)] = Field(
        description="What is wrong; required, at most 2,000 characters."
    )
    position_id: OptionalId = ""
    incentive_id: OptionalId = ""
    transaction_id: OptionalId = ""
    references: list[Annotated[Str, StringConstraints(max_length=MAX_REFERENCE)]] = Field(
        default_factory=list,
        max_length=MAX_REFERENCES,
        description="Supporting references (contract numbers, ticket ids...): at most 10 of 200 characters.",
    )


class DisputeDecisionIn(Input):
    """A decision on the dispute's current step; the dispute workflow decides who may take it: the
    manager approves, rejects or asks for information; the participant provides it (or withdraws);
    the compensation team resolves with an adjustment or rejects."""

    action: DisputeAction = Field(description="approve, reject, request_info, provide_info, resolve or withdraw.")
    comment: Comment = Field("", description="Required for reject, request_info and provide_info.")
    adjustment: DecimalText | None = Field(
        None,
        description='resolve only: decimal text in major units, paid (positive, e.g. "500.00") or taken back '
        "(negative, with its overpayment_class).",
    )
    currency: Annotated[Str, StringConstraints(max_length=3)] = Field(
        "RUB", description="ISO 4217: the adjustment's currency, the disputed statement's (default RUB)."
    )
    overpayment_class: OverpaymentClass | None = Field(  # type: ignore[valid-type]
        None, description="For a negative adjustment: CALCULATION_ERROR, EMPLOYEE_FAULT or OTHER."
    )


class Dispute(Output):
    dispute_id: str
    participant_id: str
    period: str
    reason: str | None
    text: str
    position_id: str | None
    incentive_id: str | None
    transaction_id: str | None
    references: list[str]
    status: str = Field(
        description="open (with the manager), info_requested (with the participant), approved (with the "
        "compensation team), resolved, rejected or withdrawn."
    )
    assignee: str | None = Field(description='Who decides now: a participant id or "role:compensation".')
    manager_id: str | None
    adjustment: Money | None = Field(description="The resolution's adjustment.")
    adjustment_id: str | None
    adjustment_period: str | None = Field(description="The open period the adjustment is paid in.")
    opened_at: datetime | None
    closed_at: datetime | None
    workflow_id: str
    history: list[DocumentEvent] = Field(description="The audit trail, oldest first (empty in listings).")

    @classmethod
    def of(cls, d: pb.Dispute) -> Dispute:
        return cls(
            dispute_id=d.dispute_id,
            participant_id=d.participant_id,
            period=d.period,
            reason=contract_name(pb.DisputeReason, d.reason),
            text=d.text,
            position_id=_text(d.position_id),
            incentive_id=_text(d.incentive_id),
            transaction_id=_text(d.transaction_id),
            references=list(d.references),
            status=d.status,
            assignee=_text(d.assignee),
            manager_id=_text(d.manager_id),
            adjustment=money(d.adjustment) if d.HasField("adjustment") else None,
            adjustment_id=_text(d.adjustment_id),
            adjustment_period=_text(d.adjustment_period),
            opened_at=_at(d.opened_at),
            closed_at=_at(d.closed_at),
            workflow_id=d.workflow_id,
            history=[document_event(e, with_version=False) for e in d.history],
        )


class Disputes(Output):
    disputes: list[Dispute] = Field(description="Oldest first (at most 1,000).")


class DisputeAgeBucket(Output):
    reason: str
    age: str = Field(description='"0-2d", "3-7d", "8-30d" or ">30d".')
    count: int


class DisputeResolutionTime(Output):
    reason: str
    closed: int
    mean_hours: float
    p50_hours: float
    p90_hours: float


class DisputeReport(Output):
    period: str | None
    open: int = Field(description="Disputes not closed yet.")
    open_by_age: list[DisputeAgeBucket]
    resolution: list[DisputeResolutionTime] = Field(description="Resolved and rejected disputes, by reason.")

    @classmethod
    def of(cls, m: pb.GetDisputeReportResponse, period: str | None) -> DisputeReport:
        return cls(
            period=period,
            open=m.open,
            open_by_age=[DisputeAgeBucket(reason=b.reason, age=b.age, count=b.count) for b in m.open_by_age],
            resolution=[
                DisputeResolutionTime(
                    reason=r.reason,
                    closed=r.closed,
                    mean_hours=r.mean_hours,
                    p50_hours=r.p50_hours,
                    p90_hours=r.p90_hours,
                )
                for r in m.resolution
            ],
        )


# -- notifications ---------------------------------------------------------------------------------


class Notification(Output):
    notification_id: int
    recipient: str = Field(description='The person, or a team inbox such as "role:finance".')
    kind: str = Field(description="reminder, escalation, decision, distributed, accepted, returned, dispute_...")
    subject: str
    ref: str = Field(description='What it is about, e.g. "plan-approval/2026-03/<participant>".')
    at: datetime | None


def notification(n: pb.Notification) -> Notification:
    return Notification(
        notification_id=n.notification_id,
        recipient=n.recipient,
        kind=n.kind,
        subject=n.subject,
        ref=n.ref,
        at=_at(n.at),
    )


class Notifications(Output):
    recipients: list[str] = Field(description="The inboxes read: yours and your roles' team inboxes.")
    notifications: list[Notification] = Field(description="Newest first.")
