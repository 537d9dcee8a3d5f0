"""Bulk import: batches of create requests streamed in, validated in memory, checked against the
database with one query per batch, and written with PostgreSQL COPY. Bad rows are reported with their
reasons while the good rows go in; a batch is one transaction, so a failure never leaves half a party."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import Violations
from services.parties import validation
from services.parties.app.erasure import ErasureMixin
from services.parties.app.match_records import record_for, to_json
from services.parties.domain.matching import blocking_keys
from services.parties.metrics import IMPORTED_ROWS, PARTY_CHANGES

MAX_ROWS_PER_MESSAGE = 5000
IMPORT_OPERATION = "ImportParties"
#: Attempts at writing a batch that lost a race on a unique key (request id or identifier) to a concurrent writer.
WRITE_ATTEMPTS = 5
#: At most this many party ids in one response (keeps it far below the 8 MiB message limit).
MAX_RETURNED_IDS = 100_000


class ImportMixin(ErasureMixin):
    async def import_parties(self, batches: AsyncIterator[pb.ImportPartiesRequest]) -> pb.ImportPartiesResponse:
        out = pb.ImportPartiesResponse()
        want_ids = False
        async for batch in batches:
            want_ids = want_ids or batch.return_party_ids
            if len(batch.rows) > MAX_ROWS_PER_MESSAGE:
                out.errors.append(
                    pb.ImportRowError(
                        row_ref="*",
                        violations=[
                            pb.FieldViolation(
                                field="rows",
                                description=f"at most {MAX_ROWS_PER_MESSAGE} rows per message; this batch was skipped",
                            )
                        ],
                    )
                )
                out.rows_received += len(batch.rows)
                continue
            await self._import_batch(batch, out, want_ids)
        IMPORTED_ROWS.labels("created").inc(out.parties_created)
        IMPORTED_ROWS.labels("rejected").inc(len(out.errors))
        IMPORTED_ROWS.labels("already_present").inc(out.rows_already_present)
        return out

    async def _import_batch(
        self, batch: pb.ImportPartiesRequest, out: pb.ImportPartiesResponse, want_ids: bool = False
    ) -> None:
        out.rows_received += len(batch.rows)
        candidates: list[tuple[pb.ImportRow, dict[str, Any], Any]] = []
        candidate_refs: list[str] = []  # the row_ref each candidate's errors carry (same fallback throughout)
        refs_seen: set[str] = set()
        for index, row in enumerate(batch.rows):
            v = Violations()
            ref = row.row_ref or str(index)
            if len(ref) > 200:
                ref = ref[:200]
                v.add("row_ref", "at most 200 characters")
            who = validation.context(row.party.context, v)
            parts = self.validate_create(row.party, v)
            if row.party.group.member_party_ids:
                v.add("group.member_party_ids", "bulk import creates groups without members; add them afterwards")
            if not row.party.request_id:
                v.add("request_id", "is required in bulk import, so that a re-run skips rows already imported")
            elif row.party.request_id in refs_seen:
                v.add("request_id", "is repeated in the same batch")
            refs_seen.add(row.party.request_id)
            if v:
                out.errors.append(_row_error(ref, v))
                continue
            candidates.append((row, parts, who))
            candidate_refs.append(ref)
        if not candidates:
            return
        for attempt in range(WRITE_ATTEMPTS):
            part = pb.ImportPartiesResponse()
            try:
                await self._write_batch(candidates, candidate_refs, part)
            except Exception as exc:
                # A concurrent import or create committed one of our request ids or identifiers while we wrote:
                # the batch was rolled back; read the register again and retry, so those rows are reported.
                if attempt < WRITE_ATTEMPTS - 1 and _is_unique_violation(exc):
                    await asyncio.sleep(0.02 * (attempt + 1))
                    continue
                raise
            break
        out.rows_already_present += part.rows_already_present
        out.parties_created += part.parties_created
        out.errors.extend(part.errors)
        if want_ids:
            room = MAX_RETURNED_IDS - len(out.imported)
            out.imported.extend(part.imported[:room])
            out.party_ids_truncated = out.party_ids_truncated or len(part.imported) > room

    async def _write_batch(
        self,
        candidates: list[tuple[pb.ImportRow, dict[str, Any], Any]],
        candidate_refs: list[str],
        out: pb.ImportPartiesResponse,
    ) -> None:
        """Checks the candidates against the register and writes the good ones, in one transaction."""
        async with self.tx() as repo:
            conn = repo.conn
            roles = {r[0]: r for r in await repo.role_types()}
            codes = {a.code for _, parts, _ in candidates for a in parts["attributes"]}
            attrs = await repo.attribute_definitions_by_code(codes) if codes else {}
            pairs = [
                (i.key1, i.key2)
                for _, parts, _ in candidates
                for i in parts["items"]
                if i.section == "identifier" and i.is_unique
            ]
            taken: dict[tuple[str, str], UUID] = await repo.identifier_holders(pairs)
            # Read after the identifiers: an import committing in between then shows up here as well (its request
            # ids and identifiers commit together), rather than as identifiers taken by rows we think are new.
            existing = await conn.execute(
                text(
                    "SELECT request_id, party_id FROM parties.idempotency WHERE operation = :op "
                    "AND request_id = ANY(:ids)"
                ),
                {"op": IMPORT_OPERATION, "ids": [c[0].party.request_id for c in candidates]},
            )
            present = {r[0]: r[1] for r in existing}

            now = await repo.now()
            party_rows: list[tuple[Any, ...]] = []
            fact_rows: list[tuple[Any, ...]] = []
            item_rows: list[tuple[Any, ...]] = []
            change_rows: list[tuple[Any, ...]] = []
            idem_rows: list[tuple[Any, ...]] = []
            match_rows: list[tuple[Any, ...]] = []
            key_rows: list[tuple[Any, ...]] = []
            for (row, parts, who), ref in zip(candidates, candidate_refs, strict=True):
                if row.party.request_id in present:
                    out.rows_already_present += 1
                    out.imported.add(row_ref=ref, party_id=str(present[row.party.request_id]), already_present=True)
                    continue
                v = Violations()
                attr_facts = await self.check_catalogue(
                    repo, parts["kind"], parts["roles"], parts["attributes"], v, role_cache=roles, attr_cache=attrs
                )
                party_id = uuid.uuid4()
                claimed: list[tuple[str, str]] = []
                for item in parts["items"]:
                    if item.section == "identifier" and item.is_unique:
                        holder = taken.get((item.key1, item.key2))
                        if holder is not None:
                            v.add(f"{item.field}.value", f"{item.key1} {item.key2} already belongs to party {holder}")
                        claimed.append((item.key1, item.key2))
                if v:
                    out.errors.append(_row_error(ref, v))
                    continue
                for pair in claimed:
                    taken[pair] = party_id
                facts = {**parts["facts"], **attr_facts}
                display, key = validation.display_and_search(parts["kind"], facts)
                bd = facts.get("person.birth_date")
                vf = parts["valid_from"]
                party_rows.append(
                    (
                        party_id,
                        parts["kind"],
                        "active",
                        1,
                        display,
                        key,
                        datetime.fromisoformat(bd).date() if bd else None,
                        now,
                        now,
                    )
                )
                for field, value in facts.items():
                    fact_rows.append(
                        (
                            party_id,
                            field,
                            json.dumps(value, ensure_ascii=False),
                            vf,
                            now,
                            who.actor,
                            who.source,
                            who.reason,
                        )
                    )
                for item in parts["items"]:
                    item_rows.append(
                        (
                            uuid.uuid4(),
                            party_id,
                            item.section,
                            item.key1,
                            item.key2,
                            item.is_unique,
                            json.dumps(item.data, ensure_ascii=False),
                            item.valid_from or vf,
                            now,
                            who.actor,
                            who.source,
                            who.reason,
                        )
                    )
                for code in parts["roles"]:
                    item_rows.append(
                        (
                            uuid.uuid4(),
                            party_id,
                            "role",
                            code,
                            "",
                            False,
                            "{}",
                            vf,
                            now,
                            who.actor,
                            who.source,
                            who.reason,
                        )
                    )
                change_rows.append((party_id, "party.created", ["*"], 1, now, who.actor, who.source or "import"))
                # Imported parties join the duplicate index (FindDuplicates checks a file before import).
                record = record_for(party_id, parts["kind"], facts, parts["items"])
                if record is not None:
                    match_rows.append((party_id, json.dumps(to_json(record), ensure_ascii=False), now))
                    key_rows.extend((key, party_id) for key in sorted(blocking_keys(record).index))
                idem_rows.append((IMPORT_OPERATION, row.party.request_id, party_id.bytes, party_id, now))
                out.imported.add(row_ref=ref, party_id=str(party_id))

            if party_rows:
                raw = (await conn.get_raw_connection()).driver_connection
                copy = raw.copy_records_to_table  # type: ignore[union-attr]
                await copy(
                    "party",
                    schema_name="parties",
                    records=party_rows,
                    columns=[
                        "party_id",
                        "kind",
                        "status",
                        "version",
                        "display_name",
                        "search_key",
                        "birth_date",
                        "created_at",
                        "updated_at",
                    ],
                )
                await copy(
                    "fact",
                    schema_name="parties",
                    records=fact_rows,
                    columns=["party_id", "field", "value", "valid_from", "recorded_at", "actor", "source", "reason"],
                )
                await copy(
                    "item",
                    schema_name="parties",
                    records=item_rows,
                    columns=[
                        "item_id",
                        "party_id",
                        "section",
                        "key1",
                        "key2",
                        "is_unique",
                        "data",
                        "valid_from",
                        "recorded_at",
                        "actor",
                        "source",
                        "reason",
                    ],
                )
                await copy(
                    "change",
                    schema_name="parties",
                    records=change_rows,
                    columns=["party_id", "change_type", "fields", "party_version", "occurred_at", "actor", "source"],
                )
                await copy(
                    "match_record",
                    schema_name="parties",
                    records=match_rows,
                    columns=["party_id", "record", "updated_at"],
                )
                await copy("match_key", schema_name="parties", records=key_rows, columns=["key", "party_id"])
                await copy(
                    "idempotency",
                    schema_name="parties",
                    records=idem_rows,
                    columns=["operation", "request_id", "response", "party_id", "created_at"],
                )
                out.parties_created += len(party_rows)
                PARTY_CHANGES.labels("party.created").inc(len(party_rows))


def _row_error(ref: str, v: Violations) -> pb.ImportRowError:
    return pb.ImportRowError(
        row_ref=ref, violations=[pb.FieldViolation(field=x.field, description=x.description) for x in v.items]
    )


def _is_unique_violation(exc: BaseException) -> bool:
    """asyncpg's error from COPY, or SQLAlchemy's IntegrityError wrapping it."""
    for candidate in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        if getattr(candidate, "sqlstate", None) == "23505":
            return True
    return False
