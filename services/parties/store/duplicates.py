"""The SQL of duplicate prevention: the match index (records and blocking keys), candidate lookup,
pairs known to be distinct, review cases and override audit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text

from services.parties.store.repository import PartiesRepository, _load


@dataclass
class CaseRow:
    case_id: UUID
    party_id: UUID
    other_party_id: UUID
    match: dict[str, Any]
    score: float
    status: str
    workflow_id: str
    opened_at: datetime
    reminded_at: datetime | None
    escalated_at: datetime | None
    decided_at: datetime | None
    decided_by: str
    decision_note: str
    merge_id: UUID | None


_CASE_COLS = (
    "case_id, party_id, other_party_id, match, score, status, workflow_id, opened_at, reminded_at, escalated_at, "
    "decided_at, decided_by, decision_note, merge_id"
)


def _case(row: Any) -> CaseRow:
    return CaseRow(row[0], row[1], row[2], _load(row[3]), *row[4:])


class DuplicateStore:
    def __init__(self, repo: PartiesRepository) -> None:
        self.repo = repo

    async def _exec(self, sql: str, **params: Any) -> None:
        await self.repo.conn.execute(text(sql), params)

    # -- the match index --------------------------------------------------------------------------

    async def index(self, party_id: UUID, record: dict[str, Any], keys: Iterable[str]) -> None:
        """Replaces a party's match record and blocking keys (one statement)."""
        await self._exec(
            "WITH d AS (DELETE FROM parties.match_key WHERE party_id = :id), "
            "r AS (INSERT INTO parties.match_record (party_id, record) VALUES (:id, CAST(:rec AS jsonb)) "
            "  ON CONFLICT (party_id) DO UPDATE SET record = EXCLUDED.record, updated_at = now()) "
            "INSERT INTO parties.match_key (key, party_id) SELECT k, :id FROM unnest(CAST(:keys AS text[])) k "
            "ON CONFLICT DO NOTHING",
            id=party_id,
            rec=json.dumps(record, ensure_ascii=False),
            keys=sorted(set(keys)),
        )

    async def lock_keys(self, keys: Iterable[str]) -> None:
        """Transaction-scoped advisory locks on blocking keys, always taken in the same order."""
        ordered = sorted(set(keys))
        if ordered:
            await self.repo._all(
                "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 7) AS h "
                "FROM unnest(CAST(:keys AS text[])) k ORDER BY h) s",
                keys=ordered,
            )

    async def unindex(self, party_id: UUID) -> None:
        await self._exec(
            "WITH d AS (DELETE FROM parties.match_key WHERE party_id = :id) "
            "DELETE FROM parties.match_record WHERE party_id = :id",
            id=party_id,
        )

    async def candidates(
        self, probe: Iterable[str], max_block: int, exclude: UUID | None = None
    ) -> tuple[list[tuple[UUID, dict[str, Any]]], list[str]]:
        """Match records of the parties sharing a probe key, and the keys skipped as oversized. Each key is
        probed with a LIMIT, so a key shared by a million parties costs no more than a small one."""
        keys = sorted(set(probe))
        if not keys:
            return [], []
        rows = await self.repo._all(
            "SELECT q.key, h.party_id FROM unnest(CAST(:keys AS text[])) AS q(key) CROSS JOIN LATERAL "
            "(SELECT party_id FROM parties.match_key k WHERE k.key = q.key LIMIT :cap) h",
            keys=keys,
            cap=max_block + 1,
        )
        per_key: dict[str, list[UUID]] = {}
        for key, pid in rows:
            per_key.setdefault(key, []).append(pid)
        oversized = sorted(k for k, ids in per_key.items() if len(ids) > max_block)
        ids = {pid for k, pids in per_key.items() if k not in oversized for pid in pids} - {exclude}
        if not ids:
            return [], oversized
        found = await self.repo._all(
            "SELECT party_id, record FROM parties.match_record WHERE party_id = ANY(:ids)", ids=list(ids)
        )
        return [(r[0], _load(r[1])) for r in found], oversized

    async def known_distinct(self, party_id: UUID, others: Iterable[UUID]) -> set[frozenset[str]]:
        ids = list(others)
        if not ids:
            return set()
        rows = await self.repo._all(
            "SELECT party_a, party_b FROM parties.not_duplicate WHERE (party_a = :id AND party_b = ANY(:ids)) "
            "OR (party_b = :id AND party_a = ANY(:ids))",
            id=party_id,
            ids=ids,
        )
        return {frozenset((str(a), str(b))) for a, b in rows}

    async def all_distinct_pairs(self) -> set[frozenset[str]]:
        rows = await self.repo._all("SELECT party_a, party_b FROM parties.not_duplicate")
        return {frozenset((str(a), str(b))) for a, b in rows}

    async def all_records(self, batch: int = 20_000) -> AsyncIterator[list[tuple[UUID, dict[str, Any]]]]:
        """The whole index in batches, in party id order (keyset paging: no long-lived cursor)."""
        after = UUID(int=0)
        while True:
            rows = await self.repo._all(
                "SELECT party_id, record FROM parties.match_record WHERE party_id > :after ORDER BY party_id LIMIT :n",
                after=after,
                n=batch,
            )
            if not rows:
                return
            yield [(r[0], _load(r[1])) for r in rows]
            after = rows[-1][0]

    async def count_records(self) -> int:
        return int((await self.repo._one("SELECT count(*) FROM parties.match_record"))[0])

    # -- overrides and cases ----------------------------------------------------------------------

    async def record_override(
        self, party_id: UUID, existing: UUID, match: dict[str, Any], actor: str, source: str, reason: str
    ) -> None:
        await self._exec(
            "INSERT INTO parties.duplicate_override (party_id, existing_party_id, match, actor, source, reason) "
            "VALUES (:p, :e, CAST(:m AS jsonb), :actor, :source, :reason)",
            p=party_id,
            e=existing,
            m=json.dumps(match, ensure_ascii=False),
            actor=actor,
            source=source,
            reason=reason,
        )

    async def open_case(
        self, case_id: UUID, party_id: UUID, other: UUID, match: dict[str, Any], score: float, workflow_id: str
    ) -> CaseRow | None:
        """Opens a case unless one is open for the pair already (then None)."""
        low, high = sorted([party_id, other])
        row = await self.repo._one(
            f"INSERT INTO parties.duplicate_case (case_id, party_id, other_party_id, pair_low, pair_high, match, "
            "score, workflow_id) VALUES (:id, :p, :o, :low, :high, CAST(:m AS jsonb), :score, :wf) "
            f"ON CONFLICT (pair_low, pair_high) WHERE status = 'open' DO NOTHING RETURNING {_CASE_COLS}",
            id=case_id,
            p=party_id,
            o=other,
            low=low,
            high=high,
            m=json.dumps(match, ensure_ascii=False),
            score=score,
            wf=workflow_id,
        )
        return _case(row) if row else None

    async def case(self, case_id: UUID, *, lock: bool = False) -> CaseRow | None:
        row = await self.repo._one(
            f"SELECT {_CASE_COLS} FROM parties.duplicate_case WHERE case_id = :id{' FOR UPDATE' if lock else ''}",
            id=case_id,
        )
        return _case(row) if row else None

    async def cases(
        self, status: str, party_id: UUID | None, escalated_only: bool, limit: int, offset: int
    ) -> tuple[list[CaseRow], int]:
        where = ["status = :status"]
        params: dict[str, Any] = {"status": status, "limit": limit, "offset": offset}
        if party_id is not None:
            where.append("(pair_low = :pid OR pair_high = :pid)")
            params["pid"] = party_id
        if escalated_only:
            where.append("escalated_at IS NOT NULL")
        filters = " AND ".join(where)
        rows = await self.repo._all(
            f"SELECT {_CASE_COLS}, count(*) OVER () FROM parties.duplicate_case WHERE {filters} "
            "ORDER BY opened_at, case_id LIMIT :limit OFFSET :offset",
            **params,
        )
        total = int(rows[0][-1]) if rows else 0
        return [_case(r[:-1]) for r in rows], total

    async def close_case(
        self, case_id: UUID, status: str, decided_by: str, note: str, merge_id: UUID | None = None
    ) -> None:
        await self._exec(
            "UPDATE parties.duplicate_case SET status = :s, decided_at = now(), decided_by = :by, "
            "decision_note = :note, merge_id = :m WHERE case_id = :id",
            id=case_id,
            s=status,
            by=decided_by,
            note=note,
            m=merge_id,
        )

    async def withdraw_cases_of(self, party_id: UUID, note: str, keep: UUID | None = None) -> None:
        """Closes the open cases of a party that was merged or erased (their question no longer stands)."""
        await self._exec(
            "UPDATE parties.duplicate_case SET status = 'withdrawn', decided_at = now(), decision_note = :note "
            "WHERE status = 'open' AND (pair_low = :id OR pair_high = :id) AND case_id IS DISTINCT FROM :keep",
            id=party_id,
            note=note,
            keep=keep,
        )

    async def note_sla(self, case_id: UUID, column: str) -> None:
        assert column in ("reminded_at", "escalated_at")
        await self._exec(
            f"UPDATE parties.duplicate_case SET {column} = coalesce({column}, now()) WHERE case_id = :id", id=case_id
        )

    async def set_workflow(self, case_id: UUID, workflow_id: str) -> None:
        await self._exec(
            "UPDATE parties.duplicate_case SET workflow_id = :wf WHERE case_id = :id", id=case_id, wf=workflow_id
        )
