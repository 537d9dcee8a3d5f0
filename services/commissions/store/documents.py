"""Reads and writes of plan documents, disputes, their audit trails and notifications, on the caller's
connection (the caller owns the transaction). No business rule lives here: the status a row gets is
decided by the application layer and the workflows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

S = "commissions"


@dataclass(frozen=True)
class DocumentRow:
    participant_id: str
    period: str
    version: int
    status: str
    plan_id: str
    plan_version: int
    content_hash: str
    pdf_hash: str
    terms: dict[str, Any]
    language: str
    target_incentive_minor: int | None
    currency: str
    chain: list[dict[str, str]]
    current_step: str
    author: str
    workflow_id: str
    comment: str
    created_at: datetime
    updated_at: datetime

    @property
    def document_id(self) -> str:
        return f"plan-doc/{self.period}/{self.participant_id}"


@dataclass(frozen=True)
class EventRow:
    version: int
    step: str
    action: str
    actor: str
    comment: str
    at: datetime


@dataclass(frozen=True)
class DisputeRow:
    dispute_id: str
    participant_id: str
    period: str
    reason: str
    text: str
    position_id: str
    incentive_id: str
    transaction_id: str
    refs: list[str]
    status: str
    assignee: str
    manager_id: str
    manager_escalation: str
    adjustment_minor: int | None
    currency: str
    adjustment_id: str
    adjustment_period: str
    workflow_id: str
    opened_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class NotificationRow:
    notification_id: int
    recipient: str
    kind: str
    subject: str
    ref: str
    at: datetime


_DOC_COLUMNS = (
    "participant_id, period, version, status, plan_id, plan_version, content_hash, pdf_hash, terms, language, "
    "target_incentive_minor, currency, chain, current_step, author, workflow_id, comment, created_at, updated_at"
)


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _doc(r: Any) -> DocumentRow:
    return DocumentRow(**{**dict(r), "terms": _loads(r["terms"]), "chain": _loads(r["chain"])})


def _dispute(r: Any) -> DisputeRow:
    return DisputeRow(**{**dict(r), "refs": _loads(r["refs"])})


class DocumentStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _rows(self, sql: str, **params: Any) -> list[Any]:
        return list((await self.conn.execute(text(sql), params)).mappings())

    # -- plan documents ------------------------------------------------------------------------------

    async def documents(self, participant_id: str, period: str) -> list[DocumentRow]:
        rows = await self._rows(
            f"SELECT {_DOC_COLUMNS} FROM {S}.plan_documents WHERE participant_id = :p AND period = :per "
            "ORDER BY version",
            p=participant_id,
            per=period,
        )
        return [_doc(r) for r in rows]

    async def document(self, participant_id: str, period: str, version: int = 0) -> DocumentRow | None:
        rows = await self._rows(
            f"SELECT {_DOC_COLUMNS} FROM {S}.plan_documents WHERE participant_id = :p AND period = :per "
            "AND (:v = 0 OR version = :v) ORDER BY version DESC LIMIT 1",
            p=participant_id,
            per=period,
            v=version,
        )
        return _doc(rows[0]) if rows else None

    async def pdf(self, participant_id: str, period: str, version: int) -> bytes:
        rows = await self._rows(
            f"SELECT pdf FROM {S}.plan_documents WHERE participant_id = :p AND period = :per AND version = :v",
            p=participant_id,
            per=period,
            v=version,
        )
        return bytes(rows[0]["pdf"]) if rows else b""

    async def add_document(self, row: DocumentRow, pdf: bytes) -> None:
        await self.conn.execute(
            text(
                f"INSERT INTO {S}.plan_documents (participant_id, period, version, status, plan_id, plan_version, "
                "content_hash, pdf_hash, terms, pdf, language, target_incentive_minor, currency, author) VALUES "
                "(:p, :per, :v, :status, :plan, :pv, :ch, :ph, CAST(:terms AS jsonb), :pdf, :lang, :ti, :cur, :author)"
            ),
            {
                "p": row.participant_id,
                "per": row.period,
                "v": row.version,
                "status": row.status,
                "plan": row.plan_id,
                "pv": row.plan_version,
                "ch": row.content_hash,
                "ph": row.pdf_hash,
                "terms": json.dumps(row.terms),
                "pdf": pdf,
                "lang": row.language,
                "ti": row.target_incentive_minor,
                "cur": row.currency,
                "author": row.author,
            },
        )

    async def update_document(
        self,
        participant_id: str,
        period: str,
        version: int,
        *,
        status: str | None = None,
        current_step: str | None = None,
        chain: list[dict[str, str]] | None = None,
        workflow_id: str | None = None,
        comment: str | None = None,
    ) -> None:
        sets, params = ["updated_at = clock_timestamp()"], {"p": participant_id, "per": period, "v": version}
        for name, value in (
            ("status", status),
            ("current_step", current_step),
            ("workflow_id", workflow_id),
            ("comment", comment),
        ):
            if value is not None:
                sets.append(f"{name} = :{name}")
                params[name] = value
        if chain is not None:
            sets.append("chain = CAST(:chain AS jsonb)")
            params["chain"] = json.dumps(chain)
        await self.conn.execute(
            text(
                f"UPDATE {S}.plan_documents SET {', '.join(sets)} "
                "WHERE participant_id = :p AND period = :per AND version = :v"
            ),
            params,
        )

    async def supersede_open_versions(self, participant_id: str, period: str, below: int) -> None:
        await self.conn.execute(
            text(
                f"UPDATE {S}.plan_documents SET status = 'SUPERSEDED', current_step = '', "
                "updated_at = clock_timestamp() WHERE participant_id = :p AND period = :per AND version < :v "
                "AND status IN ('DRAFT', 'RETURNED')"
            ),
            {"p": participant_id, "per": period, "v": below},
        )

    async def add_event(
        self,
        participant_id: str,
        period: str,
        version: int,
        step: str,
        action: str,
        actor: str,
        comment: str,
        request_id: str | None = None,
    ) -> bool:
        """False when the request id was already recorded (a retried activity)."""
        rows = await self._rows(
            f"INSERT INTO {S}.plan_document_events (participant_id, period, version, step, action, actor, comment, "
            "request_id) VALUES (:p, :per, :v, :step, :action, :actor, :comment, :rid) "
            "ON CONFLICT (request_id) DO NOTHING RETURNING event_id",
            p=participant_id,
            per=period,
            v=version,
            step=step,
            action=action,
            actor=actor,
            comment=comment,
            rid=request_id,
        )
        return bool(rows)

    async def events(self, participant_id: str, period: str) -> list[EventRow]:
        rows = await self._rows(
            f"SELECT version, step, action, actor, comment, at FROM {S}.plan_document_events "
            "WHERE participant_id = :p AND period = :per ORDER BY event_id",
            p=participant_id,
            per=period,
        )
        return [EventRow(**dict(r)) for r in rows]

    async def list_documents(
        self, period: str, status: str | None, assignee: str | None, after: tuple[str, int] | None, limit: int
    ) -> list[DocumentRow]:
        """The latest version of each participant's document (keyset-paged by participant, version)."""
        rows = await self._rows(
            f"SELECT {_DOC_COLUMNS} FROM (SELECT DISTINCT ON (participant_id) * FROM {S}.plan_documents "
            "WHERE period = :per ORDER BY participant_id, version DESC) d "
            "WHERE (CAST(:status AS text) IS NULL OR status = :status) "
            "AND (CAST(:assignee AS text) IS NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements(d.chain) s "
            "WHERE s->>'step' = d.current_step AND (s->>'assignee' = :assignee "
            "OR s->>'escalation_assignee' = :assignee))) "
            "AND (CAST(:after AS text) IS NULL OR participant_id > :after) ORDER BY participant_id LIMIT :n",
            per=period,
            status=status,
            assignee=assignee,
            after=None if after is None else after[0],
            n=limit,
        )
        return [_doc(r) for r in rows]

    async def count_by_status(self, period: str) -> dict[str, int]:
        rows = await self._rows(
            f"SELECT status, count(*) AS n FROM (SELECT DISTINCT ON (participant_id) status FROM "
            f"{S}.plan_documents WHERE period = :per ORDER BY participant_id, version DESC) d GROUP BY status",
            per=period,
        )
        return {r["status"]: int(r["n"]) for r in rows}

    # -- disputes --------------------------------------------------------------------------------------

    async def add_dispute(self, row: DisputeRow) -> None:
        await self.conn.execute(
            text(
                f"INSERT INTO {S}.disputes (dispute_id, participant_id, period, reason, text, position_id, "
                "incentive_id, transaction_id, refs, status, assignee, manager_id, manager_escalation, currency, "
                "workflow_id) VALUES (:id, :p, :per, :reason, :text, :pos, :inc, :tx, CAST(:refs AS jsonb), "
                ":status, :assignee, :mgr, :esc, :cur, :wf)"
            ),
            {
                "id": row.dispute_id,
                "p": row.participant_id,
                "per": row.period,
                "reason": row.reason,
                "text": row.text,
                "pos": row.position_id,
                "inc": row.incentive_id,
                "tx": row.transaction_id,
                "refs": json.dumps(row.refs),
                "status": row.status,
                "assignee": row.assignee,
                "mgr": row.manager_id,
                "esc": row.manager_escalation,
                "cur": row.currency,
                "wf": row.workflow_id,
            },
        )

    async def dispute(self, dispute_id: str, *, lock: bool = False) -> DisputeRow | None:
        rows = await self._rows(
            f"SELECT * FROM {S}.disputes WHERE dispute_id = :id" + (" FOR UPDATE" if lock else ""), id=dispute_id
        )
        return _dispute(rows[0]) if rows else None

    async def update_dispute(
        self,
        dispute_id: str,
        *,
        status: str,
        assignee: str,
        adjustment: tuple[int, str, str] | None = None,
    ) -> None:
        closed = status in ("resolved", "rejected", "withdrawn")
        params: dict[str, Any] = {"id": dispute_id, "status": status, "assignee": assignee}
        extra = ""
        if adjustment is not None:
            extra = ", adjustment_minor = :amt, adjustment_id = :adj, adjustment_period = :per"
            params |= {"amt": adjustment[0], "adj": adjustment[1], "per": adjustment[2]}
        await self.conn.execute(
            text(
                f"UPDATE {S}.disputes SET status = :status, assignee = :assignee{extra}"
                + (", closed_at = clock_timestamp()" if closed else "")
                + " WHERE dispute_id = :id"
            ),
            params,
        )

    async def add_dispute_event(
        self, dispute_id: str, action: str, actor: str, comment: str, request_id: str | None
    ) -> bool:
        rows = await self._rows(
            f"INSERT INTO {S}.dispute_events (dispute_id, action, actor, comment, request_id) "
            "VALUES (:id, :action, :actor, :comment, :rid) ON CONFLICT (request_id) DO NOTHING RETURNING event_id",
            id=dispute_id,
            action=action,
            actor=actor,
            comment=comment,
            rid=request_id,
        )
        return bool(rows)

    async def dispute_events(self, dispute_id: str) -> list[EventRow]:
        rows = await self._rows(
            f"SELECT 0 AS version, '' AS step, action, actor, comment, at FROM {S}.dispute_events "
            "WHERE dispute_id = :id ORDER BY event_id",
            id=dispute_id,
        )
        return [EventRow(**dict(r)) for r in rows]

    async def list_disputes(
        self, period: str | None, participant_id: str | None, status: str | None, assignee: str | None
    ) -> list[DisputeRow]:
        rows = await self._rows(
            f"SELECT * FROM {S}.disputes WHERE (CAST(:per AS text) IS NULL OR period = :per) "
            "AND (CAST(:p AS text) IS NULL OR participant_id = :p) "
            "AND (CAST(:status AS text) IS NULL OR status = :status) "
            "AND (CAST(:assignee AS text) IS NULL OR assignee = :assignee) ORDER BY opened_at, dispute_id LIMIT 1000",
            per=period,
            p=participant_id,
            status=status,
            assignee=assignee,
        )
        return [_dispute(r) for r in rows]

    async def disputes_for_report(self, period: str | None) -> list[DisputeRow]:
        rows = await self._rows(
            f"SELECT * FROM {S}.disputes WHERE CAST(:per AS text) IS NULL OR period = :per", per=period
        )
        return [_dispute(r) for r in rows]

    async def now(self) -> datetime:
        return (await self._rows("SELECT clock_timestamp() AS t"))[0]["t"]

    # -- notifications -------------------------------------------------------------------------------

    async def notify(self, recipients: Iterable[str], kind: str, subject: str, ref: str) -> None:
        rows = [{"r": r, "k": kind, "s": subject[:500], "ref": ref} for r in sorted(set(recipients)) if r]
        if rows:
            await self.conn.execute(
                text(f"INSERT INTO {S}.notifications (recipient, kind, subject, ref) VALUES (:r, :k, :s, :ref)"),
                rows,
            )

    async def notifications(self, recipients: Sequence[str], limit: int) -> list[NotificationRow]:
        rows = await self._rows(
            f"SELECT notification_id, recipient, kind, subject, ref, at FROM {S}.notifications "
            "WHERE recipient = ANY(:r) ORDER BY notification_id DESC LIMIT :n",
            r=list(recipients),
            n=limit,
        )
        return [NotificationRow(**dict(r)) for r in rows]
