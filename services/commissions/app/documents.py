"""Individual plan documents: drafting (terms, content hash, PDF), submission to the approval workflow,
decisions forwarded to it, the steps it records, listings, distribution to a plan population and the
notifications people read.

A version's content never changes once drafted: the same terms drafted again return the latest
version; changed terms make a new version (an older draft or returned version is superseded; an
accepted one stays accepted, and the database refuses to change it). The approval itself runs in
Temporal (`workflows/plan_approval.py`): this service only records what the workflow did, idempotently
by the workflow's request ids, and answers the people who ask.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf.message import Message

from crm_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Violations
from services.commissions.app.workflow_client import WorkflowClient
from services.commissions.domain.approvals import approval_chain
from services.commissions.domain.money import to_minor
from services.commissions.domain.periods import Period
from services.commissions.domain.plan_documents import (
    PlanDocumentError,
    canonical_json,
    content_hash,
    pdf_hash,
    plan_document_terms,
    render_pdf,
)
from services.commissions.domain.reference import plan_for
from services.commissions.store import Repository
from services.commissions.store.documents import DocumentRow, DocumentStore, EventRow, NotificationRow

if TYPE_CHECKING:
    from services.commissions.app.service import CommissionsApp

M = TypeVar("M", bound=Message)

APPROVAL_WORKFLOW = "PlanApprovalWorkflow"
DISTRIBUTION_WORKFLOW = "PlanDistributionWorkflow"
ACTIONS = ("approve", "return", "reject", "accept", "withdraw", "resubmit")
LANGUAGES = ("ru", "en")
MAX_TEXT = 200
MAX_COMMENT = 2000
MAX_DISTRIBUTION = 100_000
#: Workflow status -> document status.
STATUS = {
    "in_approval": "IN_APPROVAL",
    "distributed": "DISTRIBUTED",
    "accepted": "ACCEPTED",
    "returned": "RETURNED",
    "withdrawn": "WITHDRAWN",
}
OPEN_STATUSES = ("IN_APPROVAL", "DISTRIBUTED")
#: Steps the workflow records that leave the document where it is (SubmitPlanDocument sets the submitted
#: status itself). Their status is not written: recorded late (a reminder's activity racing a decision's),
#: it would undo the decision's.
SAME_STATUS = ("submitted", "reminded", "escalated")
#: A version whose approval has ended: decisions about it are refused.
CLOSED_STATUSES = ("ACCEPTED", "WITHDRAWN")


def approval_workflow_id(period: str, participant_id: str) -> str:
    return f"plan-approval/{period}/{participant_id}"


def distribution_workflow_id(period: str, plan_id: str) -> str:
    return f"plan-distribution/{period}/{plan_id}"


def _name(value: str, field: str, problems: Violations, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        problems.add(field, "required")
    elif len(value) > MAX_TEXT:
        problems.add(field, f"at most {MAX_TEXT} characters")
    elif any(ord(c) < 32 for c in value):
        problems.add(field, "must not contain control characters")
    return value


def _period(text: str, problems: Violations, field: str = "period") -> Period | None:
    try:
        return Period.parse(text.strip())
    except (ValueError, AttributeError):
        problems.add(field, f"{text[:20]!r} is not a period (YYYY-MM)")
        return None


@dataclass(frozen=True)
class DocumentView:
    row: DocumentRow
    history: tuple[EventRow, ...] = ()
    pdf: bytes = b""


class PlanDocuments:
    def __init__(self, core: CommissionsApp, workflows: WorkflowClient, settings: Any) -> None:
        self.core = core
        self.workflows = workflows
        self.settings = settings

    # -- drafting ------------------------------------------------------------------------------------

    async def draft(
        self,
        request_id: str,
        participant_id: str,
        period_text: str,
        author: str,
        language: str,
        response: Callable[[DocumentRow], M],
        response_type: type[M],
    ) -> M:
        problems = Violations()
        pid = _name(participant_id, "participant_id", problems)
        period = _period(period_text, problems)
        author = _name(author, "author", problems)
        language = (language or "ru").strip().lower()
        if language not in LANGUAGES:
            problems.add("language", f"one of {', '.join(LANGUAGES)}")
        problems.raise_if_any()
        assert period is not None

        async def work(repo: Repository) -> M:
            await repo.lock(f"document:{period}:{pid}")
            org = await repo.organisation()
            if pid not in {p.participant_id for p in org.participants}:
                raise NotFound(f"no participant {pid!r}")
            book = await repo.plan_book(period)
            try:
                terms = plan_document_terms(org, book, pid, period)
            except PlanDocumentError as exc:
                raise FailedPrecondition(str(exc)) from None
            store = DocumentStore(repo.conn)
            digest = content_hash(terms)
            versions = await store.documents(pid, str(period))
            latest = versions[-1] if versions else None
            if latest is not None and latest.status not in ("WITHDRAWN", "SUPERSEDED"):
                # A returned version is redrafted even with the same terms: the author answers the comment
                # with a new version to resubmit.
                same = latest.content_hash == digest and latest.language == language
                if same and latest.status != "RETURNED":
                    return response(latest)
                if latest.status in OPEN_STATUSES:
                    raise FailedPrecondition(
                        f"version {latest.version} is in approval ({latest.status}): it must be returned or "
                        "withdrawn before a new version is drafted"
                    )
            version = (latest.version if latest else 0) + 1
            document_id = f"plan-doc/{period}/{pid}"
            pdf = await asyncio.to_thread(
                render_pdf,
                terms,
                document_id=document_id,
                version=version,
                issued_on=datetime.now(UTC).date(),
                language=language,  # type: ignore[arg-type]
            )
            target = terms.target_incentive
            row = DocumentRow(
                participant_id=pid,
                period=str(period),
                version=version,
                status="DRAFT",
                plan_id=terms.position.plan_id,
                plan_version=terms.position.plan_version,
                content_hash=digest,
                pdf_hash=pdf_hash(pdf),
                terms=json.loads(canonical_json(terms)),
                language=language,
                target_incentive_minor=None if target is None else to_minor(target, terms.currency),
                currency=terms.currency,
                chain=[],
                current_step="",
                author=author,
                workflow_id="",
                comment="",
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
            await store.add_document(row, pdf)
            await store.supersede_open_versions(pid, str(period), version)
            await store.add_event(pid, str(period), version, "", "drafted", author, "")
            stored = await store.document(pid, str(period), version)
            assert stored is not None
            return response(stored)

        return await self.core._command("DraftPlanDocument", request_id, response_type, work)

    # -- submission and decisions ----------------------------------------------------------------------

    async def submit(self, participant_id: str, period_text: str, version: int, author: str) -> DocumentRow:
        problems = Violations()
        pid = _name(participant_id, "participant_id", problems)
        period = _period(period_text, problems)
        author = _name(author, "author", problems)
        if version <= 0:
            problems.add("version", "required (the drafted version to submit)")
        problems.raise_if_any()
        assert period is not None
        s = self.settings
        async with self.core.engine.begin() as conn:
            repo = Repository(conn)
            await repo.lock(f"document:{period}:{pid}")
            store = DocumentStore(conn)
            doc = await store.document(pid, str(period), version)
            if doc is None:
                raise NotFound(f"no version {version} of the plan document of {pid} for {period}")
            if doc.status in (*OPEN_STATUSES, "ACCEPTED") and doc.workflow_id:
                return doc  # already submitted: a retried submission answers the same
            if doc.status != "DRAFT":
                raise FailedPrecondition(f"version {version} is {doc.status}: only a draft can be submitted")
            org = await repo.organisation()
            book = await repo.plan_book(period)
            terms = plan_document_terms(org, book, pid, period)
            chain = [c.as_dict() for c in approval_chain(org, terms, Decimal(str(s.plan_approval_director_threshold)))]
            wid = approval_workflow_id(str(period), pid)
            await store.update_document(
                pid,
                str(period),
                version,
                status="IN_APPROVAL",
                current_step=chain[0]["step"],
                chain=chain,
                workflow_id=wid,
            )
            started = await self.workflows.start(
                APPROVAL_WORKFLOW,
                {
                    "participant_id": pid,
                    "period": str(period),
                    "version": version,
                    "author": author,
                    "chain": chain,
                    "reminder_seconds": s.plan_approval_reminder_hours * 3600,
                    "escalation_seconds": s.plan_approval_escalation_hours * 3600,
                },
                wid,
                {
                    "CrmKind": "plan-approval",
                    "CrmParticipantId": pid,
                    "CrmPeriod": str(period),
                    "CrmStep": chain[0]["step"],
                    "CrmStatus": "in_approval",
                },
                reuse_running=True,
            )
            if not started:
                raise FailedPrecondition(
                    f"the approval {wid} is already running with another version: resubmit version {version} "
                    "through it instead"
                )
            updated = await store.document(pid, str(period), version)
            assert updated is not None
            return updated

    async def decide(
        self,
        participant_id: str,
        period_text: str,
        version: int,
        action: str,
        actor: str,
        roles: Sequence[str],
        comment: str,
    ) -> DocumentRow:
        problems = Violations()
        pid = _name(participant_id, "participant_id", problems)
        period = _period(period_text, problems)
        actor = _name(actor, "actor", problems)
        action = action.strip().lower()
        if action not in ACTIONS:
            problems.add("action", f"one of {', '.join(ACTIONS)}")
        if len(comment) > MAX_COMMENT:
            problems.add("comment", f"at most {MAX_COMMENT} characters")
        if version <= 0:
            problems.add("version", "required (the version the decision is about)")
        problems.raise_if_any()
        assert period is not None
        async with self.core.engine.connect() as conn:
            store = DocumentStore(conn)
            versions = await store.documents(pid, str(period))
        if not versions:
            raise NotFound(f"no plan document of {pid} for {period}")
        target = next((d for d in versions if d.version == version), None)
        if target is None:
            raise NotFound(f"no version {version} of the plan document of {pid} for {period}")
        if target.status in CLOSED_STATUSES:
            # Its workflow has ended: Temporal would answer "not found", but the document is there.
            raise FailedPrecondition(f"the approval is closed ({target.status.lower()})")
        wid = next((d.workflow_id for d in reversed(versions) if d.workflow_id), "")
        if not wid:
            raise FailedPrecondition("the document has not been submitted for approval")
        payload: dict[str, Any] = {
            "action": action,
            "actor": actor,
            "version": version,
            "roles": sorted({r.strip() for r in roles if r.strip()}),
            "comment": comment.strip(),
        }
        if action == "resubmit":
            if target.status != "DRAFT":
                raise FailedPrecondition(f"version {version} is {target.status}: resubmit a newly drafted version")
            payload["new_version"] = version
        await self.workflows.update(wid, "decide", payload)
        async with self.core.engine.connect() as conn:
            doc = await DocumentStore(conn).document(pid, str(period), version)
        assert doc is not None
        return doc

    async def record_step(
        self,
        request_id: str,
        participant_id: str,
        period_text: str,
        version: int,
        step: str,
        action: str,
        actor: str,
        comment: str,
        current_step: str,
        status: str,
        notify: Sequence[str],
    ) -> DocumentRow:
        problems = Violations()
        if not request_id.strip():
            problems.add("request_id", "required: the workflow retries this call")
        pid = _name(participant_id, "participant_id", problems)
        period = _period(period_text, problems)
        _name(action, "action", problems)
        _name(actor, "actor", problems)
        if status not in STATUS.values():
            problems.add("status", f"one of {', '.join(STATUS.values())}")
        problems.raise_if_any()
        assert period is not None
        async with self.core.engine.begin() as conn:
            repo = Repository(conn)
            await repo.lock(f"document:{period}:{pid}")
            store = DocumentStore(conn)
            doc = await store.document(pid, str(period), version)
            if doc is None:
                raise NotFound(f"no version {version} of the plan document of {pid} for {period}")
            if not await store.add_event(
                pid, str(period), version, step, action, actor, comment[:MAX_COMMENT], request_id
            ):
                return doc  # recorded before: a retried activity
            if doc.status == "ACCEPTED":
                return doc  # accepted documents are immutable; the event is kept for the trail
            if action == "resubmitted":
                previous = next((d for d in reversed(await store.documents(pid, str(period))) if d.chain), None)
                if previous is not None:
                    await store.update_document(
                        pid, str(period), version, chain=previous.chain, workflow_id=previous.workflow_id
                    )
            if action not in SAME_STATUS:
                await store.update_document(
                    pid,
                    str(period),
                    version,
                    status=status,
                    current_step=current_step,
                    comment=comment[:MAX_COMMENT] if action in ("returned", "rejected") else None,
                )
            subject = f"Plan document {period} v{version} of {pid}: {action}" + (f" by {actor}" if actor else "")
            if comment:
                subject += f": {comment[:300]}"
            await store.notify(notify, action, subject, approval_workflow_id(str(period), pid))
            updated = await store.document(pid, str(period), version)
            assert updated is not None
            return updated

    # -- reading -------------------------------------------------------------------------------------

    async def get(self, participant_id: str, period_text: str, version: int, include_pdf: bool) -> DocumentView:
        problems = Violations()
        pid = _name(participant_id, "participant_id", problems)
        period = _period(period_text, problems)
        if version < 0:
            problems.add("version", "must not be negative")
        problems.raise_if_any()
        async with self.core.engine.connect() as conn:
            store = DocumentStore(conn)
            doc = await store.document(pid, str(period), version)
            if doc is None:
                raise NotFound(f"no plan document of {pid} for {period}" + (f" version {version}" if version else ""))
            history = await store.events(pid, str(period))
            pdf = await store.pdf(pid, str(period), doc.version) if include_pdf else b""
        return DocumentView(doc, tuple(history), pdf)

    async def list(
        self, period_text: str, status: str | None, assignee: str, page_size: int, page_token: str
    ) -> tuple[list[DocumentRow], str, dict[str, int]]:
        problems = Violations()
        period = _period(period_text, problems)
        if page_size < 0 or page_size > 1000:
            problems.add("page_size", "between 0 and 1,000")
        if len(page_token) > MAX_TEXT:
            problems.add("page_token", "not a token this service issued")
        problems.raise_if_any()
        size = page_size or 100
        async with self.core.engine.connect() as conn:
            store = DocumentStore(conn)
            rows = await store.list_documents(
                str(period), status, assignee.strip() or None, (page_token, 0) if page_token else None, size + 1
            )
            counts = await store.count_by_status(str(period))
        token = rows[size - 1].participant_id if len(rows) > size else ""
        return rows[:size], token, counts

    async def notifications(self, recipient: str, limit: int) -> list[NotificationRow]:
        problems = Violations()
        recipient = _name(recipient, "recipient", problems)
        if limit < 0 or limit > 1000:
            problems.add("limit", "between 0 and 1,000")
        problems.raise_if_any()
        async with self.core.engine.connect() as conn:
            return await DocumentStore(conn).notifications([recipient], limit or 50)

    # -- distribution --------------------------------------------------------------------------------

    async def distribute(
        self, period_text: str, plan_id: str, author: str, participant_ids: Sequence[str]
    ) -> tuple[str, dict[str, Any]]:
        problems = Violations()
        period = _period(period_text, problems)
        plan_id = _name(plan_id, "plan_id", problems)
        author = _name(author, "author", problems)
        named = sorted({p.strip() for p in participant_ids if p.strip()})
        if len(named) > MAX_DISTRIBUTION:
            problems.add("participant_ids", f"at most {MAX_DISTRIBUTION:,}")
        problems.raise_if_any()
        assert period is not None
        async with self.core.engine.connect() as conn:
            repo = Repository(conn)
            org = await repo.organisation()
            book = await repo.plan_book(period)
        if plan_id not in book.by_id:
            raise NotFound(f"no plan {plan_id!r} in effect in {period}")
        day = period.start
        population = sorted(
            {
                a.participant_id
                for a in org.assignments
                if org.holder_as_of(a.position_id, day) == a.participant_id
                and plan_for(org, book, a.position_id, day) == plan_id
            }
        )
        if named:
            outside = [p for p in named if p not in set(population)]
            if outside:
                raise InvalidArgument(
                    [FieldViolation("participant_ids", f"not on plan {plan_id} in {period}: {', '.join(outside[:5])}")]
                )
            population = named
        wid = distribution_workflow_id(str(period), plan_id)
        s = self.settings
        await self.workflows.start(
            DISTRIBUTION_WORKFLOW,
            {
                "period": str(period),
                "plan_id": plan_id,
                "author": author,
                "participant_ids": population,
                "batch_size": s.distribution_batch_size,
                "concurrency": s.distribution_concurrency,
            },
            wid,
            {"CrmKind": "plan-distribution", "CrmPeriod": str(period), "CrmStatus": "running"},
            reuse_running=True,
        )
        return await self.distribution(str(period), plan_id)

    async def distribution(self, period_text: str, plan_id: str) -> tuple[str, dict[str, Any]]:
        problems = Violations()
        period = _period(period_text, problems)
        plan_id = _name(plan_id, "plan_id", problems)
        problems.raise_if_any()
        wid = distribution_workflow_id(str(period), plan_id)
        progress, status = await self.workflows.query(wid, "progress")
        if status == "FAILED" or status == "TERMINATED":
            progress = {**progress, "status": "failed"}
        return wid, progress
