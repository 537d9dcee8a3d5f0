"""The SQL of merges and unmerges. A merge only supersedes and inserts rows (history is never rewritten)
and records which, so that an unmerge can supersede exactly what the merge inserted and re-insert exactly
what it superseded: both parties then read as before, and "as known at" any moment in between still
shows the merged state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import text

from services.parties.store.repository import _FACT_COLS, _ITEM_COLS, Actor, PartiesRepository, _load
from services.parties.store.rows import FactRow, ItemRow, RelationshipRow

_REL_COLS = (
    "row_id, relationship_id, rel_type, from_party, to_party, valid_from, valid_to, recorded_at, superseded_at, "
    "actor, source, reason"
)
#: The tables a merge writes, with the columns copied when a row is moved or restored.
_COPY_COLS = {
    "fact": "party_id, field, value, valid_from, valid_to, actor, source, reason",
    "item": "item_id, party_id, section, key1, key2, is_unique, data, valid_from, valid_to, actor, source, reason",
    "relationship": "relationship_id, rel_type, from_party, to_party, valid_from, valid_to, actor, source, reason",
}


@dataclass
class Effects:
    """Row ids a merge superseded and inserted, per table; stored with the merge for its unmerge."""

    superseded: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in _COPY_COLS})
    inserted: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in _COPY_COLS})
    #: The party columns the merge replaced: {"survivor": {...}, "merged": {...}}.
    parties: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"superseded": self.superseded, "inserted": self.inserted, "parties": self.parties})

    @classmethod
    def from_json(cls, value: Any) -> Effects:
        data = _load(value)
        return cls(superseded=data["superseded"], inserted=data["inserted"], parties=data["parties"])


@dataclass
class MergeRecord:
    merge_id: UUID
    survivor_id: UUID
    merged_id: UUID
    state: str
    decisions: list[dict[str, str]]
    effects: Effects
    moved: dict[str, int]
    merged_at: Any
    actor: str
    reason: str
    unmerged_at: Any
    unmerge_actor: str
    unmerge_reason: str


_MERGE_COLS = (
    "merge_id, survivor_id, merged_id, state, decisions, effects, moved, merged_at, actor, reason, unmerged_at, "
    "unmerge_actor, unmerge_reason"
)


def _merge(row: Any) -> MergeRecord:
    return MergeRecord(
        *row[:4],
        _load(row[4]),
        Effects.from_json(row[5]),
        _load(row[6]),
        *row[7:],  # type: ignore[call-arg]
    )


class MergeStore:
    """Merge and unmerge statements over one transaction's connection."""

    def __init__(self, repo: PartiesRepository) -> None:
        self.repo = repo

    async def _exec(self, sql: str, **params: Any) -> None:
        await self.repo.conn.execute(text(sql), params)

    async def lock_pair(self, a: UUID, b: UUID) -> None:
        """Both party rows, always in id order, so two merges of overlapping pairs cannot deadlock."""
        await self.repo._all(
            "SELECT party_id FROM parties.party WHERE party_id = ANY(:ids) ORDER BY party_id FOR UPDATE",
            ids=sorted([a, b]),
        )

    async def party_columns(self, party_id: UUID) -> dict[str, Any]:
        row = await self.repo._one(
            "SELECT display_name, search_key, birth_date FROM parties.party WHERE party_id = :id", id=party_id
        )
        return {"display_name": row[0], "search_key": row[1], "birth_date": row[2].isoformat() if row[2] else None}

    async def current_facts(self, party_id: UUID) -> list[FactRow]:
        rows = await self.repo._all(
            f"SELECT {_FACT_COLS} FROM parties.fact WHERE party_id = :id AND superseded_at IS NULL ORDER BY row_id",
            id=party_id,
        )
        return [FactRow(*r[:2], _load(r[2]), *r[3:]) for r in rows]

    async def current_items(self, party_id: UUID) -> list[ItemRow]:
        rows = await self.repo._all(
            f"SELECT {_ITEM_COLS} FROM parties.item WHERE party_id = :id AND superseded_at IS NULL ORDER BY row_id",
            id=party_id,
        )
        return [self.repo._item(r) for r in rows]

    async def current_relationships(self, party_id: UUID) -> list[RelationshipRow]:
        rows = await self.repo._all(
            f"SELECT {_REL_COLS} FROM parties.relationship WHERE (from_party = :id OR to_party = :id) "
            "AND superseded_at IS NULL ORDER BY row_id",
            id=party_id,
        )
        return [RelationshipRow(*r) for r in rows]

    async def supersede(self, table: str, row_ids: list[int], effects: Effects | None = None) -> None:
        if not row_ids:
            return
        await self.repo.conn.execute(
            text(f"UPDATE parties.{table} SET superseded_at = now() WHERE row_id = ANY(:ids)"), {"ids": row_ids}
        )
        if effects is not None:
            effects.superseded[table] += row_ids

    async def copy(
        self,
        table: str,
        row_ids: list[int],
        *,
        move_from: UUID | None = None,
        move_to: UUID | None = None,
        who: Actor | None = None,
    ) -> list[int]:
        """Inserts copies of rows (recorded now); with move_from/move_to, the copies belong to move_to where
        the originals belonged to move_from. With who, the copies carry the merge's actor and reason (a
        moved row is the merge's statement); without, the originals' (a restored row is theirs)."""
        if not row_ids:
            return []
        cols = _COPY_COLS[table]
        select = cols
        params: dict[str, Any] = {"ids": row_ids}
        if move_from is not None:
            params |= {"old": move_from, "new": move_to}
            for column in ("party_id", "from_party", "to_party"):
                select = select.replace(
                    column, f"CASE WHEN {column} = :old THEN CAST(:new AS uuid) ELSE {column} END", 1
                )
        if who is not None:
            params |= {"actor": who.actor, "source": who.source, "reason": who.reason}
            select = select.replace("actor, source, reason", ":actor, :source, :reason")
        rows = await self.repo._all(
            f"INSERT INTO parties.{table} ({cols}) SELECT {select} FROM parties.{table} "
            "WHERE row_id = ANY(:ids) ORDER BY row_id RETURNING row_id",
            **params,
        )
        return [r[0] for r in rows]

    async def overlapping_relationships(self, rows: list[RelationshipRow], old: UUID, new: UUID) -> set[int]:
        """Rows whose moved copy would duplicate a relationship the survivor already has (same type and ends,
        overlapping dates): those stay behind."""
        clash = set()
        for r in rows:
            frm = new if r.from_party == old else r.from_party
            to = new if r.to_party == old else r.to_party
            hit = await self.repo._one(
                "SELECT 1 FROM parties.relationship WHERE rel_type = :t AND from_party = :f AND to_party = :to "
                "AND superseded_at IS NULL AND daterange(valid_from, valid_to, '[)') && daterange(:vf, :vt, '[)')",
                t=r.rel_type,
                f=frm,
                to=to,
                vf=r.valid_from,
                vt=r.valid_to,
            )
            if hit:
                clash.add(r.row_id)
        return clash

    async def set_party(self, party_id: UUID, **columns: Any) -> int:
        """Sets party columns (status, merged_into, display_name, search_key, birth_date) and bumps the
        version, as every change does."""
        sets = ["version = version + 1", "updated_at = now()"]
        params: dict[str, Any] = {"id": party_id}
        for name, value in columns.items():
            if name == "birth_date" and isinstance(value, str):
                value = date.fromisoformat(value)
            sets.append(f"{name} = :{name}")
            params[name] = value
        row = await self.repo._one(
            f"UPDATE parties.party SET {', '.join(sets)} WHERE party_id = :id RETURNING version", **params
        )
        return int(row[0])

    async def insert_merge(
        self,
        merge_id: UUID,
        survivor: UUID,
        merged: UUID,
        decisions: list[dict[str, str]],
        effects: Effects,
        moved: dict[str, int],
        who: Actor,
    ) -> None:
        await self._exec(
            "INSERT INTO parties.merge (merge_id, survivor_id, merged_id, state, decisions, effects, moved, actor, "
            "source, reason) VALUES (:id, :s, :m, 'merged', CAST(:d AS jsonb), CAST(:e AS jsonb), "
            "CAST(:mv AS jsonb), :actor, :source, :reason)",
            id=merge_id,
            s=survivor,
            m=merged,
            d=json.dumps(decisions),
            e=effects.to_json(),
            mv=json.dumps(moved),
            actor=who.actor,
            source=who.source,
            reason=who.reason,
        )

    async def merge_record(self, merge_id: UUID, *, lock: bool = False) -> MergeRecord | None:
        row = await self.repo._one(
            f"SELECT {_MERGE_COLS} FROM parties.merge WHERE merge_id = :id{' FOR UPDATE' if lock else ''}",
            id=merge_id,
        )
        return _merge(row) if row else None

    async def merges_of(self, party_id: UUID) -> list[MergeRecord]:
        rows = await self.repo._all(
            f"SELECT {_MERGE_COLS} FROM parties.merge WHERE survivor_id = :id OR merged_id = :id "
            "ORDER BY merged_at DESC, merge_id",
            id=party_id,
        )
        return [_merge(r) for r in rows]

    async def mark_unmerged(self, merge_id: UUID, who: Actor) -> None:
        await self._exec(
            "UPDATE parties.merge SET state = 'unmerged', unmerged_at = now(), unmerge_actor = :actor, "
            "unmerge_reason = :reason WHERE merge_id = :id",
            id=merge_id,
            actor=who.actor,
            reason=who.reason,
        )

    async def changed_since(self, effects: Effects) -> dict[str, list[int]]:
        """Rows the merge inserted that later changes have superseded: an unmerge would lose those changes."""
        out = {}
        for table, ids in effects.inserted.items():
            if ids:
                rows = await self.repo._all(
                    f"SELECT row_id FROM parties.{table} WHERE row_id = ANY(:ids) AND superseded_at IS NOT NULL",
                    ids=ids,
                )
                if rows:
                    out[table] = [r[0] for r in rows]
        return out

    async def mark_not_duplicate(self, a: UUID, b: UUID, who: Actor) -> None:
        low, high = sorted([a, b])
        await self._exec(
            "INSERT INTO parties.not_duplicate (party_a, party_b, actor, source, reason) "
            "VALUES (:a, :b, :actor, :source, :reason) ON CONFLICT DO NOTHING",
            a=low,
            b=high,
            actor=who.actor,
            source=who.source,
            reason=who.reason,
        )

    async def merged_at(self, party_id: UUID) -> Any:
        row = await self.repo._one(
            "SELECT merged_at FROM parties.merge WHERE merged_id = :id AND state = 'merged'", id=party_id
        )
        return row[0] if row else None

    async def survivor_of(self, party_id: UUID, max_hops: int = 16) -> UUID | None:
        """Where a merged party's reads go: the end of its merged_into chain (None if not merged)."""
        row = await self.repo._one(
            "WITH RECURSIVE chain(id, hops) AS (SELECT merged_into, 1 FROM parties.party WHERE party_id = :id "
            "AND merged_into IS NOT NULL UNION ALL SELECT p.merged_into, c.hops + 1 FROM chain c "
            "JOIN parties.party p ON p.party_id = c.id WHERE p.merged_into IS NOT NULL AND c.hops < :max) "
            "SELECT id FROM chain ORDER BY hops DESC LIMIT 1",
            id=party_id,
            max=max_hops,
        )
        return row[0] if row else None
