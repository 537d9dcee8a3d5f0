"""Disputes: a participant questions a statement line or a transaction; their manager, then the
compensation team, decide in the dispute's workflow (`workflows/dispute.py`); a resolution becomes an
adjustment in the open period. This module opens disputes, forwards decisions, records what the
workflow did (idempotently by its request ids), and reports on open disputes and resolution times.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl
from google.protobuf.message import Message

from crm_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Violations
from services.commissions.app.documents import MAX_COMMENT, MAX_TEXT, _name, _period
from services.commissions.app.workflow_client import WorkflowClient
from services.commissions.domain.approvals import dispute_handlers
from services.commissions.domain.inputs import Adjustment, OverpaymentClass
from services.commissions.domain.periods import Period
from services.commissions.store import Repository
from services.commissions.store.documents import DisputeRow, DocumentStore, EventRow

if TYPE_CHECKING:
    from services.commissions.app.service import CommissionsApp

M = TypeVar("M", bound=Message)

DISPUTE_WORKFLOW = "DisputeWorkflow"
REASONS = ("MISSING_CREDIT", "WRONG_AMOUNT", "WRONG_RATE", "SPLIT", "REVERSAL", "OTHER")
ACTIONS = ("approve", "reject", "request_info", "provide_info", "resolve", "withdraw")
STATUSES = ("open", "info_requested", "approved", "resolved", "rejected", "withdrawn")
CLOSED = ("resolved", "rejected", "withdrawn")
MAX_TEXT_LENGTH = 2000
MAX_REFERENCES = 10
AGE_BUCKETS = ((2, "0-2d"), (7, "3-7d"), (30, "8-30d"))
#: Steps the workflow records that leave the dispute where it is (OpenDispute sets the opened status
#: itself). Their status is not written: recorded late (a reminder's activity racing a decision's), it
#: would undo the decision's, even reopen a closed dispute.
SAME_STATUS = ("opened", "reminded", "escalated")


def dispute_workflow_id(period: str, participant_id: str, dispute_id: str) -> str:
    return f"dispute/{period}/{participant_id}/{dispute_id}"


def age_bucket(days: float) -> str:
    for limit, name in AGE_BUCKETS:
        if days <= limit:
            return name
    return ">30d"


@dataclass(frozen=True)
class DisputeView:
    row: DisputeRow
    history: tuple[EventRow, ...]


@dataclass(frozen=True)
class ResolutionStats:
    reason: str
    closed: int
    mean_hours: float
    p50_hours: float
    p90_hours: float


class Disputes:
    def __init__(self, core: CommissionsApp, workflows: WorkflowClient, settings: Any) -> None:
        self.core = core
        self.workflows = workflows
        self.settings = settings

    async def open(
        self,
        request_id: str,
        participant_id: str,
        period_text: str,
        reason: str | None,
        text: str,
        position_id: str,
        incentive_id: str,
        transaction_id: str,
        references: Sequence[str],
        response: Callable[[DisputeRow], M],
        response_type: type[M],
    ) -> M:
        problems = Violations()
        pid = _name(participant_id, "participant_id", problems)
        period = _period(period_text, problems)
        if reason not in REASONS:
            problems.add("reason", f"one of {', '.join(REASONS)}")
        text = text.strip()
        if not text:
            problems.add("text", "required: say what is wrong")
        elif len(text) > MAX_TEXT_LENGTH:
            problems.add("text", f"at most {MAX_TEXT_LENGTH:,} characters")
        position_id = _name(position_id, "position_id", problems, required=False)
        incentive_id = _name(incentive_id, "incentive_id", problems, required=False)
        transaction_id = _name(transaction_id, "transaction_id", problems, required=False)
        line = bool(position_id or incentive_id)
        if line and not (position_id and incentive_id):
            problems.add("incentive_id" if position_id else "position_id", "a statement line needs both ids")
        if line == bool(transaction_id):
            problems.add(
                "transaction_id", "dispute either a statement line (position_id, incentive_id) or a transaction"
            )
        refs = [r.strip() for r in references if r.strip()]
        if len(refs) > MAX_REFERENCES:
            problems.add("references", f"at most {MAX_REFERENCES}")
        for i, r in enumerate(refs):
            if len(r) > MAX_TEXT:
                problems.add(f"references[{i}]", f"at most {MAX_TEXT} characters")
        problems.raise_if_any()
        assert period is not None and reason is not None

        async def work(repo: Repository) -> M:
            org = await repo.organisation()
            if pid not in {p.participant_id for p in org.participants}:
                raise NotFound(f"no participant {pid!r}")
            currency = "RUB"
            if line:
                ledger = await repo.ledger(period)
                if not ledger.runs:
                    raise FailedPrecondition(f"period {period} has not been run: there is no statement to dispute")
                version = ledger.finalized_version or ledger.runs[-1].run_version
                payouts = (await repo.frames(period, version, names=("payouts",)))["payouts"]
                hit = payouts.filter(
                    (pl.col("participant_id") == pid)
                    & (pl.col("position_id") == position_id)
                    & (pl.col("incentive_id") == incentive_id)
                )
                if hit.height == 0:
                    raise InvalidArgument(
                        [
                            FieldViolation(
                                "incentive_id", f"{pid}'s {period} statement has no line {position_id}/{incentive_id}"
                            )
                        ]
                    )
                row = await repo.run(period, version)
                currency = row.currency if row else currency
            else:
                found = await repo.transactions_by_id({transaction_id})
                if transaction_id not in found:
                    raise InvalidArgument([FieldViolation("transaction_id", f"unknown transaction {transaction_id!r}")])
                currency = found[transaction_id].currency
            manager, escalation = dispute_handlers(org, pid, period.last_day)
            dispute_id = str(uuid.uuid4())
            # Held until this transaction commits: the workflow started below records its first step
            # (RecordDisputeStep takes the same lock) only once the dispute's row is visible.
            await repo.lock(f"dispute:{dispute_id}")
            wid = dispute_workflow_id(str(period), pid, dispute_id)
            store = DocumentStore(repo.conn)
            row_ = DisputeRow(
                dispute_id=dispute_id,
                participant_id=pid,
                period=str(period),
                reason=reason,
                text=text,
                position_id=position_id,
                incentive_id=incentive_id,
                transaction_id=transaction_id,
                refs=refs,
                status="open",
                assignee=manager,
                manager_id=manager,
                manager_escalation=escalation,
                adjustment_minor=None,
                currency=currency,
                adjustment_id="",
                adjustment_period="",
                workflow_id=wid,
                opened_at=await store.now(),
                closed_at=None,
            )
            await store.add_dispute(row_)
            s = self.settings
            await self.workflows.start(
                DISPUTE_WORKFLOW,
                {
                    "dispute_id": dispute_id,
                    "participant_id": pid,
                    "period": str(period),
                    "manager": manager,
                    "manager_escalation": escalation,
                    "reminder_seconds": s.dispute_reminder_hours * 3600,
                    "escalation_seconds": s.dispute_escalation_hours * 3600,
                },
                wid,
                {
                    "CrmKind": "dispute",
                    "CrmParticipantId": pid,
                    "CrmPeriod": str(period),
                    "CrmStep": manager,
                    "CrmStatus": "open",
                },
                reuse_running=False,
            )
            stored = await store.dispute(dispute_id)
            assert stored is not None
            return response(stored)

        return await self.core._command("OpenDispute", request_id, response_type, work)

    async def decide(
        self,
        dispute_id: str,
        action: str,
        actor: str,
        roles: Sequence[str],
        comment: str,
        amount_minor: int,
        overpayment_class: OverpaymentClass | None,
        currency: str = "",
    ) -> DisputeRow:
        problems = Violations()
        dispute_id = _name(dispute_id, "dispute_id", problems)
        actor = _name(actor, "actor", problems)
        action = action.strip().lower()
        if action not in ACTIONS:
            problems.add("action", f"one of {', '.join(ACTIONS)}")
        if len(comment) > MAX_COMMENT:
            problems.add("comment", f"at most {MAX_COMMENT:,} characters")
        if action == "resolve":
            if amount_minor == 0:
                problems.add("adjustment", "a resolution names its adjustment: a non-zero amount")
            elif amount_minor < 0 and overpayment_class is None:
                problems.add("overpayment_class", "a negative adjustment is an overpayment: classify it")
        elif amount_minor:
            problems.add("adjustment", "only a resolution carries an adjustment")
        problems.raise_if_any()
        async with self.core.engine.connect() as conn:
            row = await DocumentStore(conn).dispute(dispute_id)
        if row is None:
            raise NotFound(f"no dispute {dispute_id}")
        if row.status in CLOSED:
            raise FailedPrecondition(f"the dispute is closed ({row.status})")
        if currency.strip() and currency.strip().upper() != row.currency:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "adjustment.currency_code", f"the dispute is in {row.currency}, not {currency.strip()}"
                    )
                ]
            )
        await self.workflows.update(
            row.workflow_id,
            "decide",
            {
                "action": action,
                "actor": actor,
                "roles": sorted({r.strip() for r in roles if r.strip()}),
                "comment": comment.strip(),
                "amount_minor": amount_minor,
                "overpayment_class": "" if overpayment_class is None else overpayment_class.value,
            },
        )
        async with self.core.engine.connect() as conn:
            done = await DocumentStore(conn).dispute(dispute_id)
        assert done is not None
        return done

    async def record_step(
        self,
        request_id: str,
        dispute_id: str,
        action: str,
        actor: str,
        comment: str,
        status: str,
        assignee: str,
        notify: Sequence[str],
        amount_minor: int,
        overpayment_class: OverpaymentClass | None,
    ) -> DisputeRow:
        problems = Violations()
        if not request_id.strip():
            problems.add("request_id", "required: the workflow retries this call")
        dispute_id = _name(dispute_id, "dispute_id", problems)
        _name(action, "action", problems)
        if status not in STATUSES:
            problems.add("status", f"one of {', '.join(STATUSES)}")
        if action == "resolved" and amount_minor == 0:
            problems.add("adjustment", "a resolution records its adjustment")
        problems.raise_if_any()
        async with self.core.engine.begin() as conn:
            repo = Repository(conn)
            store = DocumentStore(conn)
            # Waits for the OpenDispute that started the workflow to commit (see `open`): before that the
            # row is invisible here and the workflow's first step would fail with NOT_FOUND.
            await repo.lock(f"dispute:{dispute_id}")
            row = await store.dispute(dispute_id, lock=True)
            if row is None:
                raise NotFound(f"no dispute {dispute_id}")
            if not await store.add_dispute_event(dispute_id, action, actor, comment[:MAX_COMMENT], request_id):
                return row
            adjustment = None
            if action == "resolved":
                period = await self._paying_period(repo, Period.parse(row.period))
                await repo.lock(f"period:{period}")
                adj = Adjustment(
                    adjustment_id=f"DSP:{dispute_id}",
                    participant_id=row.participant_id,
                    amount_minor=amount_minor,
                    reason=f"dispute {dispute_id} ({row.reason.lower()}, {row.period}): {comment}"[:500],
                    overpayment_class=overpayment_class if amount_minor < 0 else None,
                )
                await repo.add_adjustment(adj, period, row.currency)
                adjustment = (amount_minor, adj.adjustment_id, str(period))
            if action not in SAME_STATUS:
                await store.update_dispute(dispute_id, status=status, assignee=assignee, adjustment=adjustment)
            subject = f"Dispute {dispute_id} ({row.period}): {action}" + (f" by {actor}" if actor else "")
            if comment:
                subject += f": {comment[:300]}"
            await store.notify(notify, f"dispute_{action}", subject, row.workflow_id)
            updated = await store.dispute(dispute_id)
            assert updated is not None
            return updated

    @staticmethod
    async def _paying_period(repo: Repository, disputed: Period) -> Period:
        """The open period: right after the latest finalized one, and never before the disputed period."""
        finalized = await repo.finalized_periods()
        open_period = max(finalized).next() if finalized else disputed
        return max(open_period, disputed) if disputed not in finalized else open_period

    async def get(self, dispute_id: str) -> DisputeView:
        problems = Violations()
        dispute_id = _name(dispute_id, "dispute_id", problems)
        problems.raise_if_any()
        async with self.core.engine.connect() as conn:
            store = DocumentStore(conn)
            row = await store.dispute(dispute_id)
            if row is None:
                raise NotFound(f"no dispute {dispute_id}")
            return DisputeView(row, tuple(await store.dispute_events(dispute_id)))

    async def list(self, period_text: str, participant_id: str, status: str, assignee: str) -> list[DisputeRow]:
        problems = Violations()
        period = _period(period_text, problems) if period_text.strip() else None
        if status and status not in STATUSES:
            problems.add("status", f"one of {', '.join(STATUSES)}")
        _name(participant_id, "participant_id", problems, required=False)
        _name(assignee, "assignee", problems, required=False)
        problems.raise_if_any()
        async with self.core.engine.connect() as conn:
            return await DocumentStore(conn).list_disputes(
                None if period is None else str(period),
                participant_id.strip() or None,
                status or None,
                assignee.strip() or None,
            )

    async def report(self, period_text: str) -> tuple[dict[tuple[str, str], int], list[ResolutionStats], int]:
        problems = Violations()
        period = _period(period_text, problems) if period_text.strip() else None
        problems.raise_if_any()
        async with self.core.engine.connect() as conn:
            store = DocumentStore(conn)
            rows = await store.disputes_for_report(None if period is None else str(period))
            now = await store.now()
        return dispute_report(rows, now)


def dispute_report(
    rows: Sequence[DisputeRow], now: datetime
) -> tuple[dict[tuple[str, str], int], list[ResolutionStats], int]:
    """Open disputes by (reason, age bucket); resolution times of closed ones by reason (hours)."""
    by_age: dict[tuple[str, str], int] = {}
    hours: dict[str, list[float]] = {}
    open_count = 0
    for r in rows:
        if r.status in ("resolved", "rejected") and r.closed_at is not None:
            hours.setdefault(r.reason, []).append((r.closed_at - r.opened_at).total_seconds() / 3600)
        elif r.status not in CLOSED:
            open_count += 1
            key = (r.reason, age_bucket((now - r.opened_at).total_seconds() / 86400))
            by_age[key] = by_age.get(key, 0) + 1
    stats = []
    for reason, values in sorted(hours.items()):
        ordered = sorted(values)
        stats.append(
            ResolutionStats(
                reason,
                len(ordered),
                statistics.fmean(ordered),
                statistics.median(ordered),
                ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            )
        )
    return dict(sorted(by_age.items())), stats, open_count
