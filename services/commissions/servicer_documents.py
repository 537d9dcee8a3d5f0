"""The gRPC edge of plan documents, disputes and notifications: messages to the application layer's
calls and its rows back to messages. Mixed into `servicer.CommissionsServicer`."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc

from crm.commissions.v1 import commissions_pb2 as pb
from crm.common.v1 import common_pb2
from services.commissions.app import CommissionsApp
from services.commissions.domain.inputs import OverpaymentClass
from services.commissions.store.documents import DisputeRow, DocumentRow, EventRow, NotificationRow

DOCUMENT_STATUS = {
    "DRAFT": pb.PLAN_DOCUMENT_STATUS_DRAFT,
    "IN_APPROVAL": pb.PLAN_DOCUMENT_STATUS_IN_APPROVAL,
    "DISTRIBUTED": pb.PLAN_DOCUMENT_STATUS_DISTRIBUTED,
    "ACCEPTED": pb.PLAN_DOCUMENT_STATUS_ACCEPTED,
    "RETURNED": pb.PLAN_DOCUMENT_STATUS_RETURNED,
    "WITHDRAWN": pb.PLAN_DOCUMENT_STATUS_WITHDRAWN,
    "SUPERSEDED": pb.PLAN_DOCUMENT_STATUS_SUPERSEDED,
}
STATUS_NAME = {v: k for k, v in DOCUMENT_STATUS.items()}
REASONS = {
    pb.DISPUTE_REASON_MISSING_CREDIT: "MISSING_CREDIT",
    pb.DISPUTE_REASON_WRONG_AMOUNT: "WRONG_AMOUNT",
    pb.DISPUTE_REASON_WRONG_RATE: "WRONG_RATE",
    pb.DISPUTE_REASON_SPLIT: "SPLIT",
    pb.DISPUTE_REASON_REVERSAL: "REVERSAL",
    pb.DISPUTE_REASON_OTHER: "OTHER",
}
REASON_CODE = {v: k for k, v in REASONS.items()}
CLASSES = {
    pb.OVERPAYMENT_CLASS_CALCULATION_ERROR: OverpaymentClass.CALCULATION_ERROR,
    pb.OVERPAYMENT_CLASS_EMPLOYEE_FAULT: OverpaymentClass.EMPLOYEE_FAULT,
    pb.OVERPAYMENT_CLASS_OTHER: OverpaymentClass.OTHER,
}


def rfc3339(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def document_pb(row: DocumentRow) -> pb.PlanDocument:
    return pb.PlanDocument(
        document_id=row.document_id,
        participant_id=row.participant_id,
        period=row.period,
        version=row.version,
        status=DOCUMENT_STATUS[row.status],
        plan_id=row.plan_id,
        plan_version=row.plan_version,
        content_hash=row.content_hash,
        pdf_hash=row.pdf_hash,
        target_incentive=None
        if row.target_incentive_minor is None
        else common_pb2.Money(currency_code=row.currency, minor_units=row.target_incentive_minor),
        chain=[
            pb.ApprovalStep(
                step=c["step"], assignee=c["assignee"], escalation_assignee=c.get("escalation_assignee", "")
            )
            for c in row.chain
        ],
        current_step=row.current_step,
        author=row.author,
        workflow_id=row.workflow_id,
        terms_json=_json(row.terms),
        comment=row.comment,
    )


def _json(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_pb(e: EventRow) -> pb.PlanDocumentEvent:
    return pb.PlanDocumentEvent(
        version=e.version, step=e.step, action=e.action, actor=e.actor, comment=e.comment, at=rfc3339(e.at)
    )


def dispute_pb(row: DisputeRow, history: tuple[EventRow, ...] = ()) -> pb.Dispute:
    return pb.Dispute(
        dispute_id=row.dispute_id,
        participant_id=row.participant_id,
        period=row.period,
        reason=REASON_CODE.get(row.reason, pb.DISPUTE_REASON_UNSPECIFIED),
        text=row.text,
        position_id=row.position_id,
        incentive_id=row.incentive_id,
        transaction_id=row.transaction_id,
        references=row.refs,
        status=row.status,
        assignee=row.assignee,
        manager_id=row.manager_id,
        adjustment=None
        if row.adjustment_minor is None
        else common_pb2.Money(currency_code=row.currency, minor_units=row.adjustment_minor),
        adjustment_id=row.adjustment_id,
        adjustment_period=row.adjustment_period,
        opened_at=rfc3339(row.opened_at),
        closed_at=rfc3339(row.closed_at),
        workflow_id=row.workflow_id,
        history=[event_pb(e) for e in history],
        currency=row.currency,
    )


def notification_pb(n: NotificationRow) -> pb.Notification:
    return pb.Notification(
        notification_id=n.notification_id,
        recipient=n.recipient,
        kind=n.kind,
        subject=n.subject,
        ref=n.ref,
        at=rfc3339(n.at),
    )


def _progress(
    workflow_id: str,
    progress: dict[str, object],
    kind: type[pb.DistributePlanDocumentsResponse] | type[pb.GetDistributionResponse] = (
        pb.DistributePlanDocumentsResponse
    ),
) -> pb.DistributePlanDocumentsResponse | pb.GetDistributionResponse:
    return kind(
        workflow_id=workflow_id,
        total=int(progress.get("total", 0)),  # type: ignore[call-overload]
        submitted=int(progress.get("submitted", 0)),  # type: ignore[call-overload]
        failed=int(progress.get("failed", 0)),  # type: ignore[call-overload]
        status=str(progress.get("status", "")),
        failures=[str(f) for f in progress.get("failures", [])],  # type: ignore[attr-defined]
    )


class DocumentsServicer:
    app: CommissionsApp

    async def DraftPlanDocument(
        self, request: pb.DraftPlanDocumentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DraftPlanDocumentResponse:
        return await self.app.documents.draft(
            request.request_id,
            request.participant_id,
            request.period,
            request.author,
            request.language,
            lambda row: pb.DraftPlanDocumentResponse(document=document_pb(row)),
            pb.DraftPlanDocumentResponse,
        )

    async def SubmitPlanDocument(
        self, request: pb.SubmitPlanDocumentRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitPlanDocumentResponse:
        row = await self.app.documents.submit(request.participant_id, request.period, request.version, request.author)
        return pb.SubmitPlanDocumentResponse(document=document_pb(row))

    async def DecidePlanDocument(
        self, request: pb.DecidePlanDocumentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DecidePlanDocumentResponse:
        row = await self.app.documents.decide(
            request.participant_id,
            request.period,
            request.version,
            request.action,
            request.actor,
            list(request.actor_roles),
            request.comment,
        )
        return pb.DecidePlanDocumentResponse(document=document_pb(row))

    async def GetPlanDocument(
        self, request: pb.GetPlanDocumentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPlanDocumentResponse:
        view = await self.app.documents.get(
            request.participant_id, request.period, request.version, request.include_pdf
        )
        return pb.GetPlanDocumentResponse(
            document=document_pb(view.row), history=[event_pb(e) for e in view.history], pdf=view.pdf
        )

    async def ListPlanDocuments(
        self, request: pb.ListPlanDocumentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPlanDocumentsResponse:
        status = None if request.status == pb.PLAN_DOCUMENT_STATUS_UNSPECIFIED else STATUS_NAME.get(request.status)
        rows, token, counts = await self.app.documents.list(
            request.period, status, request.assignee, request.page_size, request.page_token
        )
        return pb.ListPlanDocumentsResponse(
            documents=[document_pb(r) for r in rows], next_page_token=token, by_status=counts
        )

    async def RecordPlanDocumentStep(
        self, request: pb.RecordPlanDocumentStepRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordPlanDocumentStepResponse:
        row = await self.app.documents.record_step(
            request.request_id,
            request.participant_id,
            request.period,
            request.version,
            request.step,
            request.action,
            request.actor,
            request.comment,
            request.current_step,
            STATUS_NAME.get(request.status, ""),
            list(request.notify),
        )
        return pb.RecordPlanDocumentStepResponse(document=document_pb(row))

    async def DistributePlanDocuments(
        self, request: pb.DistributePlanDocumentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.DistributePlanDocumentsResponse:
        wid, progress = await self.app.documents.distribute(
            request.period, request.plan_id, request.author, list(request.participant_ids)
        )
        return _progress(wid, progress)

    async def GetDistribution(
        self, request: pb.GetDistributionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDistributionResponse:
        wid, progress = await self.app.documents.distribution(request.period, request.plan_id)
        return _progress(wid, progress, pb.GetDistributionResponse)

    async def ListNotifications(
        self, request: pb.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListNotificationsResponse:
        rows = await self.app.documents.notifications(request.recipient, request.limit)
        return pb.ListNotificationsResponse(notifications=[notification_pb(n) for n in rows])

    # -- disputes -------------------------------------------------------------------------------------

    async def OpenDispute(
        self, request: pb.OpenDisputeRequest, context: grpc.aio.ServicerContext
    ) -> pb.OpenDisputeResponse:
        return await self.app.disputes.open(
            request.request_id,
            request.participant_id,
            request.period,
            REASONS.get(request.reason),
            request.text,
            request.position_id,
            request.incentive_id,
            request.transaction_id,
            list(request.references),
            lambda row: pb.OpenDisputeResponse(dispute=dispute_pb(row)),
            pb.OpenDisputeResponse,
        )

    async def DecideDispute(
        self, request: pb.DecideDisputeRequest, context: grpc.aio.ServicerContext
    ) -> pb.DecideDisputeResponse:
        row = await self.app.disputes.decide(
            request.dispute_id,
            request.action,
            request.actor,
            list(request.actor_roles),
            request.comment,
            request.adjustment.minor_units,
            CLASSES.get(request.overpayment_class),
            request.adjustment.currency_code,
        )
        return pb.DecideDisputeResponse(dispute=dispute_pb(row))

    async def GetDispute(
        self, request: pb.GetDisputeRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDisputeResponse:
        view = await self.app.disputes.get(request.dispute_id)
        return pb.GetDisputeResponse(dispute=dispute_pb(view.row, view.history))

    async def ListDisputes(
        self, request: pb.ListDisputesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDisputesResponse:
        rows = await self.app.disputes.list(request.period, request.participant_id, request.status, request.assignee)
        return pb.ListDisputesResponse(disputes=[dispute_pb(r) for r in rows])

    async def RecordDisputeStep(
        self, request: pb.RecordDisputeStepRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordDisputeStepResponse:
        row = await self.app.disputes.record_step(
            request.request_id,
            request.dispute_id,
            request.action,
            request.actor,
            request.comment,
            request.status,
            request.assignee,
            list(request.notify),
            request.adjustment.minor_units,
            CLASSES.get(request.overpayment_class),
        )
        return pb.RecordDisputeStepResponse(dispute=dispute_pb(row))

    async def GetDisputeReport(
        self, request: pb.GetDisputeReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDisputeReportResponse:
        by_age, stats, open_count = await self.app.disputes.report(request.period)
        return pb.GetDisputeReportResponse(
            open_by_age=[pb.DisputeAgeBucket(reason=r, age=a, count=n) for (r, a), n in by_age.items()],
            resolution=[
                pb.DisputeResolutionTime(
                    reason=s.reason,
                    closed=s.closed,
                    mean_hours=s.mean_hours,
                    p50_hours=s.p50_hours,
                    p90_hours=s.p90_hours,
                )
                for s in stats
            ],
            open=open_count,
        )
