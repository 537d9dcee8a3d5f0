"""SQL for the parties register. One repository per transaction (an AsyncConnection inside `begin()`),
so every command is all-or-nothing. Statements are hand-written SQL: the bitemporal predicates, the
partial indexes and the outbox sequencing are PostgreSQL features the ORM would only hide."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_runtime.errors import AlreadyExists, NotFound
from services.parties.domain.bitemporal import Plan
from services.parties.store.rows import FactRow, ItemRow, PartyRow, RelationshipRow


@dataclass(frozen=True)
class Actor:
    actor: str = ""
    source: str = ""
    reason: str = ""


#: How similar (pg_trgm word similarity) a name must be to count as a match.
MIN_NAME_SCORE = 0.45

_AS_OF = (
    "valid_from <= :day AND (valid_to IS NULL OR valid_to > :day) "
    "AND recorded_at <= :known AND (superseded_at IS NULL OR superseded_at > :known)"
)
_AS_OF_KNOWN = "recorded_at <= :known AND (superseded_at IS NULL OR superseded_at > :known)"

_PARTY_COLS = "party_id, kind, status, version, display_name, birth_date, created_at, updated_at, erased_at"
_FACT_COLS = "row_id, field, value, valid_from, valid_to, recorded_at, superseded_at, actor, source, reason"
_ITEM_COLS = (
    "row_id, item_id, party_id, section, key1, key2, data, valid_from, valid_to, recorded_at, "
    "superseded_at, actor, source, reason, is_unique"
)
_REL_COLS = (
    "row_id, relationship_id, rel_type, from_party, to_party, valid_from, valid_to, recorded_at, "
    "superseded_at, actor, source, reason"
)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _item_columns(rows: list[ItemRow]) -> dict[str, list[Any]]:
    """Items as one array per column, for INSERT ... SELECT FROM unnest(...)."""
    return {
        "item_id": [r.item_id for r in rows],
        "section": [r.section for r in rows],
        "key1": [r.key1 for r in rows],
        "key2": [r.key2 for r in rows],
        "is_unique": [r.is_unique for r in rows],
        "data": [_json(r.data) for r in rows],
        "vf": [r.valid_from for r in rows],
        "vt": [r.valid_to for r in rows],
    }


def _day(value: str | None) -> Any:
    return date.fromisoformat(value) if value else None


def _ts(value: str | None) -> Any:
    """Timestamps inside json_build_array come as ISO 8601 text."""
    return datetime.fromisoformat(value) if value else None


def _load(value: Any) -> Any:
    """jsonb arrives decoded (SQLAlchemy's asyncpg codec); kept as one place to change if that changes."""
    return value


class PartiesRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _all(self, sql: str, **params: Any) -> Sequence[Any]:
        return (await self.conn.execute(text(sql), params)).all()

    async def _one(self, sql: str, **params: Any) -> Any:
        return (await self.conn.execute(text(sql), params)).first()

    async def now(self) -> datetime:
        """The transaction's timestamp: every row a command writes shares it."""
        return (await self._one("SELECT now()"))[0]

    # -- idempotency ------------------------------------------------------------------------------

    async def claim_request(self, operation: str, request_id: str) -> bytes | None:
        """Claims a request id for this transaction, or returns the answer an earlier attempt stored.
        The INSERT waits for a concurrent attempt of the same id to end, so the primary key itself
        serializes retries: one round trip, no separate lock."""
        claimed = await self._one(
            "INSERT INTO parties.idempotency (operation, request_id, response) VALUES (:op, :rid, ''::bytea) "
            "ON CONFLICT DO NOTHING RETURNING true",
            op=operation,
            rid=request_id,
        )
        if claimed:
            return None
        return await self.stored_response(operation, request_id)

    async def stored_response(self, operation: str, request_id: str) -> bytes | None:
        row = await self._one(
            "SELECT response FROM parties.idempotency WHERE operation = :op AND request_id = :rid",
            op=operation,
            rid=request_id,
        )
        return bytes(row[0]) if row else None

    async def store_response(
        self, operation: str, request_id: str, response: bytes, party_id: UUID | None = None
    ) -> None:
        """Fills in the answer of a request claimed by claim_request in this transaction."""
        await self.conn.execute(
            text(
                "UPDATE parties.idempotency SET response = :r, party_id = :pid "
                "WHERE operation = :op AND request_id = :rid"
            ),
            {"op": operation, "rid": request_id, "r": response, "pid": party_id},
        )

    # -- parties ----------------------------------------------------------------------------------

    async def insert_new_party(
        self,
        party_id: UUID,
        kind: str,
        display_name: str,
        search_key: str,
        birth_date: date | None,
        facts: dict[str, Any],
        valid_from: date,
        items: list[ItemRow],
        who: Actor,
    ) -> datetime:
        """A new party with its facts, its items and its "party.created" change in ONE statement (one
        round trip for what would be four). Returns the creation time; an identifier taken by a concurrent
        transaction after our check is skipped by ON CONFLICT and reported naming its holder."""
        row = await self._one(
            "WITH p AS (INSERT INTO parties.party (party_id, kind, display_name, search_key, birth_date) "
            "  VALUES (:id, :kind, :dn, :sk, :bd) RETURNING created_at), "
            "f AS (INSERT INTO parties.fact (party_id, field, value, valid_from, actor, source, reason) "
            "  SELECT :id, x.f, x.v, :facts_from, :actor, :source, :reason "
            "  FROM unnest(CAST(:fields AS text[]), CAST(:vals AS jsonb[])) AS x(f, v)), "
            "i AS (INSERT INTO parties.item (item_id, party_id, section, key1, key2, is_unique, data, valid_from, "
            "  valid_to, actor, source, reason) SELECT u.item_id, :id, u.section, u.key1, u.key2, u.is_unique, "
            "  u.data, u.vf, u.vt, :actor, :source, :reason FROM unnest(CAST(:item_id AS uuid[]), "
            "  CAST(:section AS text[]), CAST(:key1 AS text[]), CAST(:key2 AS text[]), "
            "  CAST(:is_unique AS boolean[]), CAST(:data AS jsonb[]), CAST(:vf AS date[]), CAST(:vt AS date[])) "
            "  AS u(item_id, section, key1, key2, is_unique, data, vf, vt) "
            "  ON CONFLICT (key1, key2) WHERE section = 'identifier' AND is_unique AND superseded_at IS NULL "
            "  AND valid_to IS NULL DO NOTHING RETURNING item_id), "
            "c AS (INSERT INTO parties.change (party_id, change_type, fields, party_version, actor, source) "
            "  VALUES (:id, 'party.created', ARRAY['*'], 1, :actor, :source)) "
            "SELECT (SELECT created_at FROM p), (SELECT array_agg(item_id) FROM i)",
            id=party_id,
            kind=kind,
            dn=display_name,
            sk=search_key,
            bd=birth_date,
            facts_from=valid_from,
            fields=list(facts),
            vals=[_json(v) for v in facts.values()],
            **_item_columns(items),
            actor=who.actor,
            source=who.source,
            reason=who.reason,
        )
        created, inserted = row
        await self._report_skipped(items, [UUID(str(i)) for i in inserted or []])
        return created

    async def get_party(self, party_id: UUID, *, lock: bool = False) -> PartyRow:
        suffix = " FOR UPDATE" if lock else ""
        row = await self._one(f"SELECT {_PARTY_COLS} FROM parties.party WHERE party_id = :id{suffix}", id=party_id)
        if row is None:
            raise NotFound(f"party {party_id} not found")
        return PartyRow(*row)

    async def read_party(
        self, party_id: UUID, day: date, known: datetime | None, sections: Sequence[str]
    ) -> tuple[PartyRow, dict[str, Any], dict[str, str], list[ItemRow], datetime]:
        """A party as of a day and as known at a moment, in ONE statement: one round trip and one
        snapshot, so the party row, its facts and its items always agree. Returns the row, the facts,
        the value types of its attributes, the items and the moment of knowledge used."""
        row = await self._one(
            "WITH k AS (SELECT coalesce(CAST(:known AS timestamptz), now()) AS known, CAST(:day AS date) AS day) "
            "SELECT (SELECT json_build_array(p.party_id, p.kind, p.status, p.version, p.display_name, p.birth_date, "
            "        p.created_at, p.updated_at, p.erased_at) FROM parties.party p WHERE p.party_id = :id), "
            " (SELECT coalesce(json_agg(json_build_array(f.field, f.value, ad.value_type) ORDER BY f.row_id), "
            "        '[]'::json) FROM k, parties.fact f LEFT JOIN parties.attribute_definition ad "
            "        ON f.field = 'attributes.' || ad.code WHERE f.party_id = :id AND f.valid_from <= k.day "
            "        AND (f.valid_to IS NULL OR f.valid_to > k.day) AND f.recorded_at <= k.known "
            "        AND (f.superseded_at IS NULL OR f.superseded_at > k.known)), "
            " (SELECT coalesce(json_agg(json_build_array(i.row_id, i.item_id, i.party_id, i.section, i.key1, "
            "        i.key2, i.data, i.valid_from, i.valid_to, i.recorded_at, i.superseded_at, i.actor, i.source, "
            "        i.reason, i.is_unique) ORDER BY i.row_id), '[]'::json) FROM k, parties.item i "
            "        WHERE i.party_id = :id AND i.section = ANY(:sections) AND i.valid_from <= k.day "
            "        AND (i.valid_to IS NULL OR i.valid_to > k.day) AND i.recorded_at <= k.known "
            "        AND (i.superseded_at IS NULL OR i.superseded_at > k.known)), "
            " (SELECT known FROM k)",
            id=party_id,
            day=day,
            known=known,
            sections=list(sections),
        )
        party_json, facts_json, items_json, known_at = row
        if party_json is None:
            raise NotFound(f"party {party_id} not found")
        pid, kind, status, version, display, birth, created, updated, erased = party_json
        party = PartyRow(
            UUID(pid), kind, status, version, display, _day(birth), _ts(created), _ts(updated), _ts(erased)
        )
        facts = {f: v for f, v, _t in facts_json if v is not None}
        types = {f.removeprefix("attributes."): t for f, _v, t in facts_json if t}
        items = [
            ItemRow(
                *(r[0], UUID(r[1]), UUID(r[2]), r[3], r[4], r[5], r[6] or {}),
                *(_day(r[7]), _day(r[8]), _ts(r[9]), _ts(r[10]), r[11], r[12], r[13], r[14]),
            )
            for r in items_json
        ]
        return party, facts, types, items, known_at

    async def get_parties(self, party_ids: Iterable[UUID]) -> dict[UUID, PartyRow]:
        ids = list(set(party_ids))
        if not ids:
            return {}
        rows = await self._all(f"SELECT {_PARTY_COLS} FROM parties.party WHERE party_id = ANY(:ids)", ids=ids)
        return {r[0]: PartyRow(*r) for r in rows}

    async def touch_party(
        self,
        party_id: UUID,
        *,
        display_name: str | None = None,
        search_key: str | None = None,
        birth_date: date | bool | None = False,
    ) -> int:
        """Bumps the version (every change does) and refreshes the denormalized search columns."""
        sets = ["version = version + 1", "updated_at = now()"]
        params: dict[str, Any] = {"id": party_id}
        if display_name is not None:
            sets.append("display_name = :dn")
            params["dn"] = display_name
        if search_key is not None:
            sets.append("search_key = :sk")
            params["sk"] = search_key
        if birth_date is not False:
            sets.append("birth_date = :bd")
            params["bd"] = birth_date
        row = await self._one(
            f"UPDATE parties.party SET {', '.join(sets)} WHERE party_id = :id RETURNING version", **params
        )
        return int(row[0])

    # -- facts ------------------------------------------------------------------------------------

    async def current_facts(self, party_id: UUID, fields: Iterable[str] | None = None) -> list[FactRow]:
        sql = f"SELECT {_FACT_COLS} FROM parties.fact WHERE party_id = :id AND superseded_at IS NULL"
        params: dict[str, Any] = {"id": party_id}
        if fields is not None:
            sql += " AND field = ANY(:fields)"
            params["fields"] = list(fields)
        return [FactRow(*r[:2], _load(r[2]), *r[3:]) for r in await self._all(sql + " ORDER BY row_id", **params)]

    async def facts_as_of(self, party_id: UUID, day: date, known: datetime) -> dict[str, Any]:
        rows = await self._all(
            f"SELECT field, value FROM parties.fact WHERE party_id = :id AND {_AS_OF} ORDER BY row_id",
            id=party_id,
            day=day,
            known=known,
        )
        return {r[0]: _load(r[1]) for r in rows if r[1] is not None}

    async def apply_fact_plan(self, party_id: UUID, field: str, plan: Plan[Any], who: Actor) -> None:
        if plan.supersede:
            await self.conn.execute(
                text("UPDATE parties.fact SET superseded_at = now() WHERE row_id = ANY(:ids)"),
                {"ids": plan.supersede},
            )
        if plan.insert:
            await self.conn.execute(
                text(
                    "INSERT INTO parties.fact (party_id, field, value, valid_from, valid_to, actor, source, reason) "
                    "VALUES (:pid, :field, CAST(:value AS jsonb), :vf, :vt, :actor, :source, :reason)"
                ),
                [
                    {
                        "pid": party_id,
                        "field": field,
                        "value": _json(s.payload),
                        "vf": s.valid_from,
                        "vt": s.valid_to,
                        "actor": who.actor,
                        "source": who.source,
                        "reason": who.reason,
                    }
                    for s in plan.insert
                ],
            )

    async def fact_history(self, party_id: UUID, field: str) -> list[FactRow]:
        rows = await self._all(
            f"SELECT {_FACT_COLS} FROM parties.fact WHERE party_id = :id AND field = :field "
            "ORDER BY recorded_at, valid_from, row_id",
            id=party_id,
            field=field,
        )
        return [FactRow(*r[:2], _load(r[2]), *r[3:]) for r in rows]

    # -- items ------------------------------------------------------------------------------------

    def _item(self, r: Any) -> ItemRow:
        return ItemRow(*r[:6], _load(r[6]) or {}, *r[7:])

    async def current_items(
        self, party_id: UUID, section: str | None = None, item_id: UUID | None = None
    ) -> list[ItemRow]:
        sql = f"SELECT {_ITEM_COLS} FROM parties.item WHERE party_id = :id AND superseded_at IS NULL"
        params: dict[str, Any] = {"id": party_id}
        if section:
            sql += " AND section = :section"
            params["section"] = section
        if item_id:
            sql += " AND item_id = :item"
            params["item"] = item_id
        return [self._item(r) for r in await self._all(sql + " ORDER BY row_id", **params)]

    async def items_as_of(
        self, party_id: UUID, day: date, known: datetime, sections: Sequence[str] | None = None
    ) -> list[ItemRow]:
        sql = f"SELECT {_ITEM_COLS} FROM parties.item WHERE party_id = :id AND {_AS_OF}"
        params: dict[str, Any] = {"id": party_id, "day": day, "known": known}
        if sections:
            sql += " AND section = ANY(:sections)"
            params["sections"] = list(sections)
        return [self._item(r) for r in await self._all(sql + " ORDER BY row_id", **params)]

    async def insert_items(self, rows: list[ItemRow], who: Actor) -> None:
        """One multi-row INSERT. A unique identifier taken by a concurrent transaction after our check is
        skipped by ON CONFLICT (so the transaction stays usable) and reported naming its holder."""
        if not rows:
            return
        inserted = await self._all(
            "INSERT INTO parties.item (item_id, party_id, section, key1, key2, is_unique, data, valid_from, "
            "valid_to, actor, source, reason) SELECT * FROM unnest(CAST(:item_id AS uuid[]), "
            "CAST(:party_id AS uuid[]), CAST(:section AS text[]), CAST(:key1 AS text[]), CAST(:key2 AS text[]), "
            "CAST(:is_unique AS boolean[]), CAST(:data AS jsonb[]), CAST(:vf AS date[]), CAST(:vt AS date[]), "
            "CAST(:actor AS text[]), CAST(:source AS text[]), CAST(:reason AS text[])) "
            "ON CONFLICT (key1, key2) WHERE section = 'identifier' AND is_unique AND superseded_at IS NULL "
            "AND valid_to IS NULL DO NOTHING RETURNING item_id",
            **_item_columns(rows),
            party_id=[r.party_id for r in rows],
            actor=[who.actor] * len(rows),
            source=[who.source] * len(rows),
            reason=[who.reason] * len(rows),
        )
        await self._report_skipped(rows, [r[0] for r in inserted])

    async def _report_skipped(self, rows: list[ItemRow], inserted: list[UUID]) -> None:
        """ON CONFLICT skipped a row only when its unique identifier was taken meanwhile: name the holder."""
        if len(inserted) == len(rows):
            return
        done = set(inserted)
        for r in rows:
            if r.item_id not in done:
                holder = await self.identifier_holder(r.key1, r.key2)
                raise AlreadyExists(
                    f"{r.key1} {r.key2} already belongs to party {holder}",
                    field="identifier",
                    existing_id=str(holder or ""),
                )

    async def supersede_items(self, row_ids: list[int]) -> None:
        if row_ids:
            await self.conn.execute(
                text("UPDATE parties.item SET superseded_at = now() WHERE row_id = ANY(:ids)"), {"ids": row_ids}
            )

    async def identifier_holders(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], UUID]:
        """Current holders of many unique identifiers in one round trip. A LATERAL probe per pair always
        uses the unique index: a plain join or IN (subquery) was planned, during bulk loads with stale
        statistics, as a scan of the whole table per pair (seconds per batch)."""
        if not pairs:
            return {}
        rows = await self._all(
            "SELECT q.k1, q.k2, h.party_id FROM unnest(CAST(:k1 AS text[]), CAST(:k2 AS text[])) AS q(k1, k2) "
            "CROSS JOIN LATERAL (SELECT i.party_id FROM parties.item i WHERE i.key1 = q.k1 AND i.key2 = q.k2 "
            "AND i.section = 'identifier' AND i.is_unique AND i.superseded_at IS NULL AND i.valid_to IS NULL "
            "LIMIT 1) h",
            k1=[p[0] for p in pairs],
            k2=[p[1] for p in pairs],
        )
        return {(r[0], r[1]): r[2] for r in rows}

    async def identifier_holder(self, key1: str, key2: str) -> UUID | None:
        row = await self._one(
            "SELECT party_id FROM parties.item WHERE section = 'identifier' AND key1 = :k1 AND key2 = :k2 "
            "AND is_unique AND superseded_at IS NULL AND valid_to IS NULL",
            k1=key1,
            k2=key2,
        )
        return row[0] if row else None

    async def item_history(self, item_id: UUID) -> list[ItemRow]:
        rows = await self._all(
            f"SELECT {_ITEM_COLS} FROM parties.item WHERE item_id = :id ORDER BY recorded_at, valid_from, row_id",
            id=item_id,
        )
        return [self._item(r) for r in rows]

    async def item_history_by_key(self, party_id: UUID, section: str, key1: str) -> list[ItemRow]:
        rows = await self._all(
            f"SELECT {_ITEM_COLS} FROM parties.item WHERE party_id = :pid AND section = :s AND key1 = :k1 "
            "ORDER BY recorded_at, valid_from, row_id",
            pid=party_id,
            s=section,
            k1=key1,
        )
        return [self._item(r) for r in rows]

    # -- relationships ----------------------------------------------------------------------------

    async def insert_relationship(self, row: RelationshipRow, who: Actor) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    text(
                        "INSERT INTO parties.relationship (relationship_id, rel_type, from_party, to_party, "
                        "valid_from, valid_to, actor, source, reason) VALUES (:id, :t, :f, :to, :vf, :vt, "
                        ":actor, :source, :reason)"
                    ),
                    {
                        "id": row.relationship_id,
                        "t": row.rel_type,
                        "f": row.from_party,
                        "to": row.to_party,
                        "vf": row.valid_from,
                        "vt": row.valid_to,
                        "actor": who.actor,
                        "source": who.source,
                        "reason": who.reason,
                    },
                )
        except IntegrityError as exc:
            if "relationship_no_overlap" in str(exc.orig):
                raise AlreadyExists(
                    "an identical relationship already exists for an overlapping period",
                    field="relationship",
                ) from exc
            raise

    async def current_relationship(self, relationship_id: UUID, *, lock: bool = False) -> RelationshipRow:
        suffix = " FOR UPDATE" if lock else ""
        rows = await self._all(
            f"SELECT {_REL_COLS} FROM parties.relationship WHERE relationship_id = :id "
            f"AND superseded_at IS NULL ORDER BY valid_from{suffix}",
            id=relationship_id,
        )
        if not rows:
            raise NotFound(f"relationship {relationship_id} not found")
        return RelationshipRow(*rows[-1])

    async def supersede_relationship_rows(self, row_ids: list[int]) -> None:
        await self.conn.execute(
            text("UPDATE parties.relationship SET superseded_at = now() WHERE row_id = ANY(:ids)"), {"ids": row_ids}
        )

    async def relationships_as_of(self, party_id: UUID, day: date, known: datetime) -> list[RelationshipRow]:
        rows = await self._all(
            f"SELECT {_REL_COLS} FROM parties.relationship WHERE (from_party = :id OR to_party = :id) "
            f"AND {_AS_OF} ORDER BY row_id",
            id=party_id,
            day=day,
            known=known,
        )
        return [RelationshipRow(*r) for r in rows]

    async def relationship_history(self, relationship_id: UUID) -> list[RelationshipRow]:
        rows = await self._all(
            f"SELECT {_REL_COLS} FROM parties.relationship WHERE relationship_id = :id "
            "ORDER BY recorded_at, valid_from, row_id",
            id=relationship_id,
        )
        return [RelationshipRow(*r) for r in rows]

    async def group_members(self, group_id: UUID, day: date, known: datetime) -> list[UUID]:
        rows = await self._all(
            f"SELECT from_party FROM parties.relationship WHERE to_party = :id AND rel_type = 'member_of' "
            f"AND {_AS_OF} ORDER BY row_id",
            id=group_id,
            day=day,
            known=known,
        )
        return [r[0] for r in rows]

    # -- catalogues -------------------------------------------------------------------------------

    async def role_types(self) -> list[Any]:
        return list(await self._all("SELECT code, name, applies_to, system FROM parties.role_type ORDER BY code"))

    async def role_type(self, code: str) -> Any:
        return await self._one("SELECT code, name, applies_to, system FROM parties.role_type WHERE code = :c", c=code)

    async def insert_role_type(self, code: str, name: str, applies_to: list[str]) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    text("INSERT INTO parties.role_type (code, name, applies_to) VALUES (:c, :n, :a)"),
                    {"c": code, "n": name, "a": applies_to},
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"role type {code!r} already exists", field="role_type.code", existing_id=code) from exc

    _REL_TYPE_COLS = "code, name, inverse_name, is_symmetric, from_kinds, to_kinds, from_roles, to_roles, system"

    async def relationship_types(self) -> list[Any]:
        return list(await self._all(f"SELECT {self._REL_TYPE_COLS} FROM parties.relationship_type ORDER BY code"))

    async def relationship_type(self, code: str) -> Any:
        return await self._one(f"SELECT {self._REL_TYPE_COLS} FROM parties.relationship_type WHERE code = :c", c=code)

    async def insert_relationship_type(self, values: dict[str, Any]) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    text(
                        "INSERT INTO parties.relationship_type (code, name, inverse_name, is_symmetric, "
                        "from_kinds, to_kinds, from_roles, to_roles) VALUES (:code, :name, :inverse_name, "
                        ":symmetric, :from_kinds, :to_kinds, :from_roles, :to_roles)"
                    ),
                    values,
                )
        except IntegrityError as exc:
            raise AlreadyExists(
                f"relationship type {values['code']!r} already exists",
                field="relationship_type.code",
                existing_id=values["code"],
            ) from exc

    _ATTR_COLS = "code, name, value_type, applies_to, validation, status, created_at, retired_at"

    async def attribute_definitions(self, include_retired: bool) -> list[Any]:
        sql = f"SELECT {self._ATTR_COLS} FROM parties.attribute_definition"
        if not include_retired:
            sql += " WHERE status = 'active'"
        return list(await self._all(sql + " ORDER BY code"))

    async def attribute_definitions_by_code(self, codes: Iterable[str]) -> dict[str, Any]:
        rows = await self._all(
            f"SELECT {self._ATTR_COLS} FROM parties.attribute_definition WHERE code = ANY(:c)", c=list(codes)
        )
        return {r[0]: r for r in rows}

    async def insert_attribute_definition(self, values: dict[str, Any]) -> Any:
        try:
            async with self.conn.begin_nested():
                return await self._one(
                    "INSERT INTO parties.attribute_definition (code, name, value_type, applies_to, validation, "
                    "actor) VALUES (:code, :name, :value_type, :applies_to, CAST(:validation AS jsonb), :actor) "
                    f"RETURNING {self._ATTR_COLS}",
                    **values,
                )
        except IntegrityError as exc:
            raise AlreadyExists(
                f"attribute {values['code']!r} already exists", field="definition.code", existing_id=values["code"]
            ) from exc

    async def retire_attribute_definition(self, code: str) -> Any:
        return await self._one(
            "UPDATE parties.attribute_definition SET status = 'retired', "
            "retired_at = coalesce(retired_at, now()) WHERE code = :c "
            f"RETURNING {self._ATTR_COLS}",
            c=code,
        )

    # -- vehicles ---------------------------------------------------------------------------------

    _VEHICLE_COLS = "vehicle_id, vin, make, model, model_year, purchase_date, warranty_end"

    async def vehicle_by_vin(self, vin: str) -> Any:
        return await self._one(f"SELECT {self._VEHICLE_COLS} FROM parties.vehicle WHERE vin = :v", v=vin)

    async def vehicle(self, vehicle_id: UUID, *, lock: bool = False) -> Any:
        suffix = " FOR UPDATE" if lock else ""
        return await self._one(
            f"SELECT {self._VEHICLE_COLS} FROM parties.vehicle WHERE vehicle_id = :v{suffix}", v=vehicle_id
        )

    async def vehicles(self, vehicle_ids: Iterable[UUID]) -> dict[UUID, Any]:
        rows = await self._all(
            f"SELECT {self._VEHICLE_COLS} FROM parties.vehicle WHERE vehicle_id = ANY(:v)", v=list(vehicle_ids)
        )
        return {r[0]: r for r in rows}

    async def insert_vehicle(self, values: dict[str, Any]) -> UUID:
        """Inserts the vehicle unless its VIN is known (a concurrent insert wins); returns the VIN's vehicle id."""
        row = await self._one(
            "INSERT INTO parties.vehicle (vehicle_id, vin, make, model, model_year, purchase_date, warranty_end) "
            "VALUES (:vehicle_id, :vin, :make, :model, :model_year, :purchase_date, :warranty_end) "
            "ON CONFLICT (vin) DO NOTHING RETURNING vehicle_id",
            **values,
        )
        if row is None:
            row = await self._one("SELECT vehicle_id FROM parties.vehicle WHERE vin = :v", v=values["vin"])
        return row[0]

    async def mileage(self, vehicle_ids: Iterable[UUID]) -> dict[UUID, list[Any]]:
        rows = await self._all(
            "SELECT vehicle_id, kilometres, read_on, recorded_at, actor, source FROM parties.mileage_reading "
            "WHERE vehicle_id = ANY(:v) ORDER BY read_on, row_id",
            v=list(vehicle_ids),
        )
        out: dict[UUID, list[Any]] = {}
        for r in rows:
            out.setdefault(r[0], []).append(r)
        return out

    async def insert_mileage(self, vehicle_id: UUID, km: int, read_on: date, who: Actor) -> None:
        await self.conn.execute(
            text(
                "INSERT INTO parties.mileage_reading (vehicle_id, kilometres, read_on, actor, source) "
                "VALUES (:v, :km, :d, :a, :s)"
            ),
            {"v": vehicle_id, "km": km, "d": read_on, "a": who.actor, "s": who.source},
        )

    async def current_ownerships(self, vehicle_id: UUID) -> list[ItemRow]:
        rows = await self._all(
            f"SELECT {_ITEM_COLS} FROM parties.item WHERE section = 'ownership' AND key1 = :v "
            "AND superseded_at IS NULL ORDER BY valid_from, row_id",
            v=str(vehicle_id),
        )
        return [self._item(r) for r in rows]

    # -- change feed ------------------------------------------------------------------------------

    async def record_change(
        self, party_id: UUID, change_type: str, fields: list[str], version: int, who: Actor
    ) -> None:
        await self.conn.execute(
            text(
                "INSERT INTO parties.change (party_id, change_type, fields, party_version, actor, source) "
                "VALUES (:p, :t, :f, :v, :a, :s)"
            ),
            {"p": party_id, "t": change_type, "f": fields, "v": version, "a": who.actor, "s": who.source},
        )

    async def sequence_settled_changes(self) -> None:
        """Numbers the changes of every settled transaction, in transaction order. Serialized by an
        advisory lock among readers only; writers never wait for it."""
        await self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('parties.change.sequence'))"))
        await self.conn.execute(
            text(
                "UPDATE parties.change c SET sequence = s.seq FROM ("
                "  SELECT change_id, (SELECT coalesce(max(sequence), 0) FROM parties.change) "
                "         + row_number() OVER (ORDER BY txid, change_id) AS seq"
                "  FROM parties.change"
                "  WHERE sequence IS NULL AND txid < pg_snapshot_xmin(pg_current_snapshot())"
                ") s WHERE c.change_id = s.change_id"
            )
        )

    async def changes_after(self, after: int, limit: int, party_ids: list[UUID] | None) -> list[Any]:
        sql = (
            "SELECT sequence, party_id, change_type, fields, occurred_at, actor, source, party_version "
            "FROM parties.change WHERE sequence > :after"
        )
        params: dict[str, Any] = {"after": after, "limit": limit}
        if party_ids:
            sql += " AND party_id = ANY(:ids)"
            params["ids"] = party_ids
        return list(await self._all(sql + " ORDER BY sequence LIMIT :limit", **params))

    # -- search -----------------------------------------------------------------------------------

    async def search(
        self,
        *,
        name_key: str,
        party_ids: list[UUID] | None,
        kind: str | None,
        role_type: str | None,
        order: str,
        limit: int,
        offset: int,
    ) -> tuple[list[Any], int]:
        where = ["p.status <> 'merged'"]
        params: dict[str, Any] = {}
        if party_ids is not None:
            where.append("p.party_id = ANY(:ids)")
            params["ids"] = party_ids
        if kind:
            where.append("p.kind = :kind")
            params["kind"] = kind
        if role_type:
            where.append(
                "EXISTS (SELECT 1 FROM parties.item r WHERE r.party_id = p.party_id AND r.section = 'role' "
                "AND r.key1 = :role AND r.superseded_at IS NULL AND r.valid_from <= current_date "
                "AND (r.valid_to IS NULL OR r.valid_to > current_date))"
            )
            params["role"] = role_type
        cols = ", ".join("p." + c.strip() for c in _PARTY_COLS.split(","))
        filters = " AND ".join(where)
        if name_key and order == "relevance":
            return await self._search_by_name(name_key, cols, filters, params, limit, offset), -1
        score = "1.0"
        if name_key:
            filters += " AND (:q <% p.search_key)"
            params["q"] = name_key
            score = "word_similarity(:q, p.search_key)"
            await self.conn.execute(text(f"SET LOCAL pg_trgm.word_similarity_threshold = {MIN_NAME_SCORE}"))
        order_sql = (
            {
                "display_name": "p.display_name, p.party_id",
                "created_at_desc": "p.created_at DESC, p.party_id",
            }[order]
            if order != "relevance"
            else "p.display_name, p.party_id"
        )
        sql = (
            f"SELECT {cols}, {score} AS score FROM parties.party p WHERE {filters} "
            f"ORDER BY {order_sql} LIMIT :limit OFFSET :offset"
        )
        return list(await self._all(sql, **params, limit=limit, offset=offset)), -1

    async def _search_by_name(
        self, name_key: str, cols: str, filters: str, params: dict[str, Any], limit: int, offset: int
    ) -> list[Any]:
        """Best matches first: names that start with the query (a B-tree range, the usual case of a
        correctly typed name), or else the nearest names by trigram word similarity (a GiST KNN walk)
        for typos, other spellings and swapped word order."""
        want = offset + limit
        prefix = await self._all(
            f"SELECT {cols}, word_similarity(:q, p.search_key) AS score FROM parties.party p "
            f"WHERE p.search_key LIKE :prefix AND {filters} ORDER BY p.search_key, p.party_id LIMIT :want",
            **params,
            q=name_key,
            prefix=name_key + "%",
            want=want,
        )
        rows: Sequence[Any] = prefix
        # Names that start with the query are what was meant: fill a short page with near spellings only
        # when nothing starts with it (a typo, another transliteration, swapped words). The KNN walk is
        # the expensive step, so it runs only when it is the only way to an answer.
        if not rows:
            rows = await self._all(
                f"SELECT * FROM (SELECT {cols}, word_similarity(:q, p.search_key) AS score FROM parties.party p "
                f"WHERE {filters} ORDER BY :q <<-> p.search_key LIMIT :knn) s WHERE s.score >= :min_score",
                **params,
                q=name_key,
                knn=want,
                min_score=MIN_NAME_SCORE,
            )
        return list(rows[offset:want])

    async def parties_by_contact(self, key2: str) -> list[UUID]:
        rows = await self._all(
            "SELECT DISTINCT party_id FROM parties.item WHERE key2 = :v AND section = 'contact_point' "
            "AND superseded_at IS NULL AND valid_to IS NULL",
            v=key2,
        )
        return [r[0] for r in rows]

    async def parties_by_identifier(self, key1: str, key2: str) -> list[UUID]:
        rows = await self._all(
            "SELECT DISTINCT party_id FROM parties.item WHERE section = 'identifier' AND key1 = :k1 "
            "AND key2 = :k2 AND superseded_at IS NULL AND valid_to IS NULL",
            k1=key1,
            k2=key2,
        )
        return [r[0] for r in rows]

    async def summaries_extras(self, party_ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
        """Primary phone, primary e-mail and current roles of many parties in one round trip."""
        if not party_ids:
            return {}
        rows = await self._all(
            "SELECT party_id, section, key1, key2, data FROM parties.item WHERE party_id = ANY(:ids) "
            "AND superseded_at IS NULL AND valid_from <= current_date "
            "AND (valid_to IS NULL OR valid_to > current_date) AND section IN ('contact_point', 'role') "
            "ORDER BY row_id",
            ids=party_ids,
        )
        out: dict[UUID, dict[str, Any]] = {pid: {"roles": [], "phone": "", "email": ""} for pid in party_ids}
        for pid, section, key1, key2, data in rows:
            entry = out[pid]
            data = _load(data) or {}
            if section == "role":
                entry["roles"].append(key1)
            elif key1 in ("PHONE", "EMAIL"):
                slot = "phone" if key1 == "PHONE" else "email"
                if not entry[slot] or data.get("primary"):
                    entry[slot] = key2
        return out

    # -- erasure ----------------------------------------------------------------------------------

    async def replace_stored_responses(self, party_id: UUID, operation: str, response: bytes) -> None:
        """Stored replies of earlier requests must not keep personal data after an erasure, yet a retry
        must still find its request answered (and not create the person again)."""
        await self.conn.execute(
            text("UPDATE parties.idempotency SET response = :r WHERE party_id = :p AND operation = :op"),
            {"r": response, "p": party_id, "op": operation},
        )

    async def erasure_record(self, party_id: UUID) -> Any:
        return await self._one(
            "SELECT erasure_id, erased_at, records_anonymized FROM parties.erasure_audit WHERE party_id = :p",
            p=party_id,
        )

    async def anonymize(self, party_id: UUID, erasure_id: str, who: Actor, personal_fields: list[str]) -> int:
        """Overwrites personal values in every version (history keeps its shape, dates and authorship)."""
        counts = 0
        res = await self.conn.execute(
            text(
                "UPDATE parties.fact SET value = CASE WHEN value IS NULL THEN NULL ELSE '\"[erased]\"'::jsonb END "
                "WHERE party_id = :p AND (field = ANY(:fields) OR field LIKE 'attributes.%')"
            ),
            {"p": party_id, "fields": personal_fields},
        )
        counts += res.rowcount or 0
        res = await self.conn.execute(
            text(
                "UPDATE parties.item SET key2 = 'erased:' || row_id, is_unique = false, "
                "data = jsonb_build_object('erased', true) || (data - ARRAY['value','phone','email','address',"
                "'messenger','issuer','issued_on','other_type','evidence']) "
                "WHERE party_id = :p AND section IN ('identifier', 'contact_point')"
            ),
            {"p": party_id},
        )
        counts += res.rowcount or 0
        res = await self.conn.execute(
            text("UPDATE parties.item SET data = data - 'evidence' WHERE party_id = :p AND section = 'consent'"),
            {"p": party_id},
        )
        counts += res.rowcount or 0
        await self.conn.execute(
            text(
                "UPDATE parties.party SET status = 'erased', erased_at = now(), display_name = '[erased]', "
                "search_key = '', birth_date = NULL, version = version + 1, updated_at = now() WHERE party_id = :p"
            ),
            {"p": party_id},
        )
        await self.conn.execute(
            text(
                "INSERT INTO parties.erasure_audit (party_id, erasure_id, records_anonymized, actor, reason) "
                "VALUES (:p, :e, :n, :a, :r)"
            ),
            {"p": party_id, "e": erasure_id, "n": counts, "a": who.actor, "r": who.reason},
        )
        return counts
