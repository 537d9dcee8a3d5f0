"""What every command and query of the parties service shares: one transaction per call, idempotent
replay, optimistic concurrency, reading a party as of a date, and recording changes in the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any, TypeVar
from uuid import UUID

from google.protobuf.message import Message
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import Aborted, FailedPrecondition, NotFound
from services.parties import convert
from services.parties.domain.bitemporal import Version, plan_replace
from services.parties.metrics import PARTY_CHANGES
from services.parties.store.repository import Actor, PartiesRepository
from services.parties.store.rows import PartyState

M = TypeVar("M", bound=Message)


def today() -> date:
    return datetime.now(UTC).date()


class PartyMerged(FailedPrecondition):
    """A read reached a tombstone. Reads that can answer with the survivor catch it and do; anything else
    reports it as the state conflict it is."""

    def __init__(self, party_id: UUID, survivor: UUID) -> None:
        super().__init__(f"party {party_id} was merged into party {survivor}")
        self.survivor = survivor


class AppBase:
    def __init__(self, engine: AsyncEngine, *, temporal: Any = None, settings: Any = None) -> None:
        self.engine = engine
        self.temporal = temporal
        self.settings = settings
        # Role types are only ever added, never changed or removed, so a positive answer can be kept;
        # an unknown code is always looked up again (another replica may just have defined it).
        self._role_types: dict[str, Any] = {}

    async def role_type(self, repo: PartiesRepository, code: str) -> Any:
        row = self._role_types.get(code)
        if row is None:
            row = await repo.role_type(code)
            if row is not None:
                self._role_types[code] = row
        return row

    @staticmethod
    async def attribute_types(repo: PartiesRepository, facts: dict[str, Any]) -> dict[str, Any]:
        codes = [f.removeprefix("attributes.") for f in facts if f.startswith("attributes.")]
        return await repo.attribute_definitions_by_code(codes) if codes else {}

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[PartiesRepository]:
        async with self.engine.begin() as conn:
            yield PartiesRepository(conn)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[PartiesRepository]:
        """For reads whose queries each stand alone (GetParty is one statement): autocommit spares the
        BEGIN and COMMIT round trips."""
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield PartiesRepository(conn)

    async def idempotent(
        self,
        operation: str,
        request_id: str,
        response_type: type[M],
        work: Callable[[PartiesRepository], Awaitable[tuple[M, UUID | None]]],
    ) -> M:
        """Runs work in one transaction; with a request_id, a retry returns the first stored response
        (also when two retries race: the loser re-reads the winner's answer)."""
        for attempt in range(3):
            try:
                async with self.tx() as repo:
                    if request_id:
                        stored = await repo.claim_request(operation, request_id)
                        if stored is not None:
                            return response_type.FromString(stored)
                    response, party_id = await work(repo)
                    if request_id:
                        await repo.store_response(operation, request_id, response.SerializeToString(), party_id)
                    return response
            except IntegrityError as exc:
                if request_id and "idempotency_pkey" in str(exc.orig) and attempt < 2:
                    continue
                raise
            except DBAPIError as exc:
                if _is_serialization_failure(exc) and attempt < 2:
                    await asyncio.sleep(0.01 * (attempt + 1))
                    continue
                raise
        raise Aborted("the request conflicted with concurrent changes; retry it")

    @staticmethod
    async def lock_for_change(repo: PartiesRepository, party_id: UUID, expected_version: int) -> Any:
        party = await repo.get_party(party_id, lock=True)
        if expected_version and party.version != expected_version:
            raise Aborted(f"party {party_id} is at version {party.version}, not {expected_version}: re-read and retry")
        if party.status == "erased":
            raise FailedPrecondition(f"party {party_id} has been erased and can no longer change")
        if party.status == "merged":
            raise FailedPrecondition(f"party {party_id} was merged into another party: change the survivor")
        return party

    async def read_state(
        self, repo: PartiesRepository, party_id: UUID, day: date, known: datetime | None
    ) -> tuple[PartyState, dict[str, str], datetime]:
        party, facts, types, items, known_at = await repo.read_party(
            party_id, day, known, ("identifier", "contact_point", "role")
        )
        if party.created_at > known_at:
            raise NotFound(f"party {party_id} was not yet known at {known_at.isoformat()}")
        if party.status == "merged":
            from services.parties.store.merges import MergeStore

            store = MergeStore(repo)
            merged_at = await store.merged_at(party_id)
            # Read as known before the merge, the party is still itself.
            if merged_at is not None and known_at >= merged_at:
                survivor = await store.survivor_of(party_id)
                if survivor is not None:
                    raise PartyMerged(party_id, survivor)
        state = PartyState(party=party, facts=facts, items=items)
        if party.status != "erased" and (day != today() or known_at < party.updated_at):
            # A historical read names the party as it was named then (and before its names were valid,
            # it had none, not today's).
            from services.parties.validation import display_and_search

            state.party.display_name = display_and_search(party.kind, facts)[0]
        return state, types, known_at

    async def party_message(
        self, repo: PartiesRepository, party_id: UUID, day: date | None = None, known: datetime | None = None
    ) -> pb.Party:
        day = day or today()
        state, types, known_at = await self.read_state(repo, party_id, day, known)
        members = await repo.group_members(party_id, day, known_at) if state.party.kind == "group" else None
        return convert.party_pb(state, types, members)

    @staticmethod
    async def replace_fact(
        repo: PartiesRepository, party_id: UUID, field: str, value: Any, valid_from: date, who: Actor
    ) -> bool:
        """Records value for field from valid_from on; returns False when nothing would change."""
        current = [
            Version(r.row_id, r.valid_from, r.valid_to, r.value) for r in await repo.current_facts(party_id, [field])
        ]
        affected = sorted(
            (c for c in current if c.valid_to is None or c.valid_to > valid_from), key=lambda c: c.valid_from
        )
        if (
            affected
            and all(c.payload == value for c in affected)
            and affected[0].valid_from <= valid_from
            and affected[-1].valid_to is None
            and all(a.valid_to == b.valid_from for a, b in pairwise(affected))
        ):
            return False  # the value already holds from valid_from on, without a gap
        if not affected and value is None:
            return False
        await repo.apply_fact_plan(party_id, field, plan_replace(current, valid_from, None, value), who)
        return True

    async def record(
        self, repo: PartiesRepository, party_id: UUID, change_type: str, fields: list[str], version: int, who: Actor
    ) -> None:
        await repo.record_change(party_id, change_type, fields, version, who)
        PARTY_CHANGES.labels(change_type).inc()
        await self.after_change(repo, party_id, change_type)

    async def after_change(self, repo: PartiesRepository, party_id: UUID, change_type: str) -> None:
        """A hook run in the transaction of every recorded change (the duplicate index follows them)."""


def _is_serialization_failure(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
    return code in ("40001", "40P01")
