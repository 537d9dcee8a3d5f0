"""Duplicate prevention and review: the gate on create and update, the match index kept in step with
every change, CheckDuplicates, FindDuplicates, and the review cases with their Temporal workflows.

The matching itself is the pure `domain.matching` core; here it meets the database (candidates come from
the blocking-key index, so a check costs a few index probes at any register size) and the workflow engine
(each review case is followed by a `DuplicateReviewWorkflow` that reminds, escalates and applies the
steward's decision through ResolveDuplicateCase)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from functools import cached_property
from typing import Any
from uuid import UUID

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unavailable,
    Violations,
)
from services.parties import convert, validation
from services.parties.app.base import today
from services.parties.app.match_records import evidence, from_json, match_pb, record_for, to_json
from services.parties.app.merges import RULES, SIDE_PB, SIDES, MergesMixin, merge_options
from services.parties.domain.matching import (
    BlockingKeys,
    Decision,
    Matcher,
    MatchRecord,
    PairScore,
    Thresholds,
    blocking_keys,
    default_model,
    find_duplicates,
)
from services.parties.domain.matching.matcher import features_of
from services.parties.metrics import DUPLICATE_CHECKS
from services.parties.store.duplicates import CaseRow, DuplicateStore
from services.parties.store.merges import MergeStore
from services.parties.store.repository import Actor, PartiesRepository

log = logging.getLogger("crm.parties.duplicates")

REVIEW_WORKFLOW = "DuplicateReviewWorkflow"
#: Changes after which a party's match record is rebuilt (names, birth date, identifiers, contacts).
INDEXED_CHANGES = ("party.", "identifier.", "contact_point.")
CASE_STATUS = {
    "open": pb.DUPLICATE_CASE_STATUS_OPEN,
    "merged": pb.DUPLICATE_CASE_STATUS_MERGED,
    "not_duplicate": pb.DUPLICATE_CASE_STATUS_NOT_DUPLICATE,
    "withdrawn": pb.DUPLICATE_CASE_STATUS_WITHDRAWN,
}
STATUS_OF = {v: k for k, v in CASE_STATUS.items()}
MAX_INCOMING_ROWS = 100_000
MAX_CLUSTERS = 100_000


def keys_of(record: MatchRecord) -> BlockingKeys:
    """Blocking keys from the matcher's cached features: a create locks, probes and indexes by them and
    is scored with the same features, which are computed once."""
    return blocking_keys(features_of(record))


def review_workflow_id(a: UUID, b: UUID) -> str:
    low, high = sorted([a, b])
    return f"duplicate-review/{low}/{high}"


def case_pb(case: CaseRow) -> pb.DuplicateCase:
    m = case.match
    out = pb.DuplicateCase(
        case_id=str(case.case_id),
        party_id=str(case.party_id),
        other_party_id=str(case.other_party_id),
        match=pb.DuplicateMatch(
            party_id=m["left_id"],
            other_party_id=m["right_id"],
            score=m["score"],
            probability=m["probability"],
            decision=pb.DUPLICATE_DECISION_POSSIBLE_DUPLICATE
            if m["decision"] == Decision.POSSIBLE_DUPLICATE
            else pb.DUPLICATE_DECISION_DUPLICATE,
            comparisons=[pb.FieldComparison(**c) for c in m["comparisons"]],
        ),
        status=CASE_STATUS[case.status],
        workflow_id=case.workflow_id,
        opened_at=convert.ts_pb(case.opened_at),
        decided_by=case.decided_by,
        decision_note=case.decision_note,
        merge_id=str(case.merge_id) if case.merge_id else "",
    )
    for name in ("reminded_at", "escalated_at", "decided_at"):
        value = getattr(case, name)
        if value is not None:
            getattr(out, name).CopyFrom(convert.ts_pb(value))
    return out


def override_of(msg: pb.DuplicateOverride, v: Violations, path: str = "duplicate_override") -> str | None:
    """The override's reason when the caller overrides, else None."""
    if not msg.allow:
        if msg.reason:
            v.add(f"{path}.allow", "must be true when a reason is given")
        return None
    reason = msg.reason.strip()
    if not reason:
        v.add(f"{path}.reason", "is required to override a duplicate: say why the parties differ")
    elif len(reason) > 500:
        v.add(f"{path}.reason", "at most 500 characters")
    return reason


class DuplicatesMixin(MergesMixin):
    @cached_property
    def matcher(self) -> Matcher:
        """The trained model with the configured thresholds (the trained defaults where unset)."""
        model = default_model()
        s = self.settings
        match = getattr(s, "duplicate_match_threshold", None)
        possible = getattr(s, "duplicate_possible_threshold", None)
        thresholds = Thresholds(
            match=model.thresholds.match if match is None else match,
            possible=model.thresholds.possible if possible is None else possible,
        )
        return Matcher(model, thresholds)

    @property
    def max_block(self) -> int:
        return int(getattr(self.settings, "duplicate_max_block_size", 1000))

    # -- the index --------------------------------------------------------------------------------

    async def index_record(self, repo: PartiesRepository, record: MatchRecord) -> None:
        await DuplicateStore(repo).index(UUID(record.party_id), to_json(record), keys_of(record).index)

    async def current_record(self, repo: PartiesRepository, party_id: UUID) -> MatchRecord | None:
        party = await repo.get_party(party_id)
        if party.status != "active":
            return None
        now = await repo.now()
        facts = await repo.facts_as_of(party_id, today(), now)
        items = await repo.items_as_of(party_id, today(), now, ("identifier", "contact_point"))
        return record_for(party_id, party.kind, facts, items)

    async def after_change(self, repo: PartiesRepository, party_id: UUID, change_type: str) -> None:
        """Keeps the match index in step: rebuilt after a change of what matching reads, dropped (and the
        party's open cases withdrawn) when the party is merged away or erased."""
        if not change_type.startswith(INDEXED_CHANGES):
            return
        store = DuplicateStore(repo)
        record = await self.current_record(repo, party_id)
        if record is None:
            await store.unindex(party_id)
            if change_type in ("party.merged_away", "party.erased"):
                await store.withdraw_cases_of(party_id, f"the party was {change_type.split('.', 1)[1]}")
        else:
            await self.index_record(repo, record)

    # -- the gate on create and update ------------------------------------------------------------

    async def check_record(self, repo: PartiesRepository, record: MatchRecord) -> Any:
        store = DuplicateStore(repo)
        pid = UUID(record.party_id) if _is_uuid(record.party_id) else None
        found, oversized = await store.candidates(keys_of(record).probe, self.max_block, exclude=pid)
        candidates = [from_json(p, data) for p, data in found]
        known = await store.known_distinct(pid, [p for p, _ in found]) if pid else set()
        result = self.matcher.check(record, candidates, known_distinct=known)
        return result, oversized

    async def duplicate_gate(
        self, repo: PartiesRepository, record: MatchRecord, override: str | None, who: Actor
    ) -> tuple[list[PairScore], list[PairScore]]:
        """Refuses a strong duplicate with ALREADY_EXISTS (naming the existing party and the evidence),
        unless overridden; returns (overridden strong pairs, possible pairs) for the caller to record.

        Concurrent creates of the same party would each miss the other: locking the record's blocking keys
        (transaction-scoped advisory locks) makes the second wait for the first and then see it."""
        await DuplicateStore(repo).lock_keys(keys_of(record).index)
        result, _ = await self.check_record(repo, record)
        strong = [p for p in result.pairs if p.decision == Decision.DUPLICATE]
        possible = [p for p in result.pairs if p.decision == Decision.POSSIBLE_DUPLICATE]
        outcome = (
            "refused"
            if strong and override is None
            else "overridden"
            if strong
            else "review"
            if possible
            else "distinct"
        )
        DUPLICATE_CHECKS.labels(outcome).inc()
        if strong and override is None:
            best = strong[0]
            raise AlreadyExists(
                f"party {best.right_id} is the same {record.kind} (score {best.score:.1f} bits, "
                f"{best.probability:.2%}): {evidence(best)}; pass duplicate_override with a reason to create anyway",
                field="duplicate",
                existing_id=best.right_id,
                detail=match_pb(best),
            )
        return strong, possible

    async def settle_duplicates(
        self,
        repo: PartiesRepository,
        party_id: UUID,
        strong: Sequence[PairScore],
        possible: Sequence[PairScore],
        override: str | None,
        who: Actor,
    ) -> list[CaseRow]:
        """Records overrides and opens a review case (and its workflow) per possible duplicate."""
        store = DuplicateStore(repo)
        for pair in strong:
            await store.record_override(
                party_id, UUID(pair.right_id), pair.to_dict(), who.actor, who.source, override or ""
            )
        cases = []
        for pair in possible:
            other = UUID(pair.right_id)
            case = await store.open_case(
                uuid.uuid4(), party_id, other, pair.to_dict(), pair.score, review_workflow_id(party_id, other)
            )
            if case is not None:
                if not await self.start_review(case):
                    case.workflow_id = ""
                    await store.set_workflow(case.case_id, "")
                cases.append(case)
        return cases

    async def start_review(self, case: CaseRow) -> bool:
        """Starts the case's review workflow; False (the case stays open, listed, decidable directly) when
        the workflow engine cannot be reached."""
        if self.temporal is None:
            return False
        from temporalio.common import (
            SearchAttributeKey,
            SearchAttributePair,
            TypedSearchAttributes,
            WorkflowIDConflictPolicy,
        )

        s = self.settings
        try:
            client = await self.temporal()
            await client.start_workflow(
                REVIEW_WORKFLOW,
                {
                    "case_id": str(case.case_id),
                    "party_id": str(case.party_id),
                    "other_party_id": str(case.other_party_id),
                    "score": case.score,
                    "reminder_seconds": s.duplicate_review_reminder_hours * 3600,
                    "escalation_seconds": s.duplicate_review_escalation_hours * 3600,
                },
                id=case.workflow_id,
                task_queue=s.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(
                            SearchAttributeKey.for_keyword_list("CrmPartyIds"),
                            sorted([str(case.party_id), str(case.other_party_id)]),
                        ),
                        SearchAttributePair(SearchAttributeKey.for_keyword("CrmStatus"), "open"),
                        SearchAttributePair(SearchAttributeKey.for_keyword("CrmKind"), "duplicate-review"),
                        SearchAttributePair(SearchAttributeKey.for_float("CrmScore"), float(case.score)),
                    ]
                ),
            )
            return True
        except Exception:
            log.warning("could not start the review workflow of case %s", case.case_id, exc_info=True)
            return False

    # -- RPCs -------------------------------------------------------------------------------------

    async def check_duplicates(self, req: pb.CheckDuplicatesRequest) -> pb.CheckDuplicatesResponse:
        v = Violations()
        which = req.WhichOneof("subject")
        record: MatchRecord | None = None
        async with self.reader() as repo:
            if which == "party_id":
                pid = validation.party_id(req.party_id, v)
                v.raise_if_any()
                assert pid is not None
                party = await repo.get_party(pid)
                record = await self.current_record(repo, pid)
                if record is None:
                    raise FailedPrecondition(f"party {pid} is {party.status} or a group: it has no duplicates")
            elif which == "candidate":
                parts = self.validate_create(req.candidate, v, "candidate.")
                v.raise_if_any()
                record = record_for(f"candidate-{uuid.uuid4()}", parts["kind"], parts["facts"], parts["items"])
                if record is None:
                    raise InvalidArgument([FieldViolation("candidate.group", "groups are not matched")])
            else:
                raise InvalidArgument([FieldViolation("subject", "party_id or candidate is required")])
            result, oversized = await self.check_record(repo, record)
        return pb.CheckDuplicatesResponse(
            decision={
                Decision.DUPLICATE: pb.DUPLICATE_DECISION_DUPLICATE,
                Decision.POSSIBLE_DUPLICATE: pb.DUPLICATE_DECISION_POSSIBLE_DUPLICATE,
                Decision.DISTINCT: pb.DUPLICATE_DECISION_DISTINCT,
            }[result.decision],
            matches=[match_pb(p) for p in result.pairs],
            candidates_compared=result.compared,
            oversized_blocks=oversized,
        )

    async def find_duplicates(self, req: pb.FindDuplicatesRequest) -> AsyncIterator[pb.FindDuplicatesResponse]:
        v = Violations()
        which = req.WhichOneof("source")
        max_clusters = req.max_clusters or 10_000
        if not 0 < max_clusters <= MAX_CLUSTERS:
            v.add("max_clusters", f"must be between 1 and {MAX_CLUSTERS}")
        if which is None or (which == "whole_register" and not req.whole_register):
            v.add("source", "whole_register or incoming is required")
        if which == "incoming":
            validation.check_count(req.incoming.rows, v, "incoming.rows", MAX_INCOMING_ROWS)
        v.raise_if_any()
        started = time.perf_counter()
        records: list[MatchRecord] = []
        rejected: list[pb.ImportRowError] = []
        known: set[frozenset[str]] = set()
        async with self.reader() as repo:
            store = DuplicateStore(repo)
            if which == "whole_register":
                total = await store.count_records()
                async for batch in store.all_records():
                    records += [from_json(p, data) for p, data in batch]
                    yield pb.FindDuplicatesResponse(
                        progress=pb.DuplicateSearchProgress(stage="loading", done=len(records), total=total)
                    )
                known = await store.all_distinct_pairs()
            else:
                records, rejected = self._incoming_records(req.incoming.rows)
                if req.incoming.against_register:
                    seen: set[str] = set()
                    for record in list(records):
                        found, _ = await store.candidates(blocking_keys(record).probe, self.max_block)
                        for pid, data in found:
                            if str(pid) not in seen:
                                seen.add(str(pid))
                                records.append(from_json(pid, data))

        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, int, int] | None] = asyncio.Queue()

        def progress(stage: str, done: int, total: int) -> None:
            loop.call_soon_threadsafe(events.put_nowait, (stage, done, total))

        job = asyncio.create_task(
            asyncio.to_thread(
                find_duplicates,
                records,
                self.matcher,
                known_distinct=known,
                max_block_size=self.max_block,
                progress=progress,
            )
        )
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(events.put_nowait, None))
        last: tuple[str, int] | None = None
        while (event := await events.get()) is not None:
            stage, done, total = event
            if (stage, done) != last:
                last = (stage, done)
                yield pb.FindDuplicatesResponse(
                    progress=pb.DuplicateSearchProgress(stage=stage, done=done, total=total)
                )
        result = await job
        for cluster in result.clusters[:max_clusters]:
            yield pb.FindDuplicatesResponse(
                cluster=pb.DuplicateCluster(members=list(cluster.members), matches=[match_pb(p) for p in cluster.pairs])
            )
        for pair in result.possible_pairs[:max_clusters]:
            yield pb.FindDuplicatesResponse(possible_duplicate=match_pb(pair))
        yield pb.FindDuplicatesResponse(
            summary=pb.FindDuplicatesSummary(
                records=len(records),
                pairs_compared=int(result.stats.get("pairs_compared", result.stats.get("compared", 0))),
                clusters=len(result.clusters),
                possible_duplicates=len(result.possible_pairs),
                oversized_blocks=[b.key for b in result.oversized_blocks],
                rejected_rows=rejected,
                seconds=round(time.perf_counter() - started, 3),
            )
        )

    def _incoming_records(self, rows: Sequence[pb.ImportRow]) -> tuple[list[MatchRecord], list[pb.ImportRowError]]:
        records, rejected, refs = [], [], set()
        for i, row in enumerate(rows):
            ref = row.row_ref or str(i + 1)
            v = Violations()
            if len(ref) > 200:
                v.add("row_ref", "at most 200 characters")
            elif ref in refs:
                v.add("row_ref", f"{ref!r} is given twice")
            refs.add(ref)
            parts = self.validate_create(row.party, v, "party.")
            if v:
                rejected.append(
                    pb.ImportRowError(
                        row_ref=ref[:200],
                        violations=[pb.FieldViolation(field=x.field, description=x.description) for x in v.items],
                    )
                )
                continue
            record = record_for(f"row:{ref}", parts["kind"], parts["facts"], parts["items"])
            if record is not None:
                records.append(record)
        return records, rejected

    async def list_duplicate_cases(self, req: pb.ListDuplicateCasesRequest) -> pb.ListDuplicateCasesResponse:
        from services.parties.app.parties import _decode_token, _encode_token

        v = Violations()
        status = STATUS_OF.get(req.status or pb.DUPLICATE_CASE_STATUS_OPEN)
        if status is None:
            v.add("status", f"unknown value {req.status}")
        pid = validation.party_id(req.party_id, v, required=False) if req.party_id else None
        size = validation.page_size(req.page.page_size, v, "page.page_size", 20, 100)
        offset = _decode_token(req.page.page_token, v)
        v.raise_if_any()
        assert status is not None
        async with self.reader() as repo:
            cases, total = await DuplicateStore(repo).cases(status, pid, req.escalated_only, size, offset)
        token = _encode_token(offset + size) if offset + size < total else ""
        return pb.ListDuplicateCasesResponse(
            cases=[case_pb(c) for c in cases], page=common_pb2.PageResponse(next_page_token=token, total_size=total)
        )

    async def get_duplicate_case(self, req: pb.GetDuplicateCaseRequest) -> pb.GetDuplicateCaseResponse:
        case_id = self._case_id(req.case_id)
        async with self.reader() as repo:
            case = await DuplicateStore(repo).case(case_id)
            if case is None:
                raise NotFound(f"duplicate case {case_id} not found")
            return pb.GetDuplicateCaseResponse(
                case=case_pb(case),
                party=await self._side(repo, case.party_id),
                other_party=await self._side(repo, case.other_party_id),
            )

    async def _side(self, repo: PartiesRepository, party_id: UUID) -> pb.Party:
        """A party of a case as it is now; a tombstone shows itself as merged, not its survivor."""
        from services.parties.app.base import PartyMerged

        try:
            return await self.party_message(repo, party_id)
        except PartyMerged:
            party = await repo.get_party(party_id)
            return pb.Party(party_id=str(party_id), status=pb.PARTY_STATUS_MERGED, display_name=party.display_name)

    @staticmethod
    def _case_id(value: str, path: str = "case_id") -> UUID:
        v = Violations()
        case_id = validation.party_id(value, v, path)
        v.raise_if_any()
        assert case_id is not None
        return case_id

    def _decision(self, msg: Any, v: Violations) -> dict[str, Any]:
        """The decision carried by DecideDuplicateCase / ResolveDuplicateCase, validated, as plain data."""
        resolution = {
            pb.DUPLICATE_CASE_RESOLUTION_MERGE: "merge",
            pb.DUPLICATE_CASE_RESOLUTION_NOT_DUPLICATE: "not_duplicate",
        }.get(msg.resolution)
        if resolution is None:
            v.add("resolution", "is required: MERGE or NOT_DUPLICATE")
        survivor = None
        if resolution == "merge":
            survivor = validation.party_id(msg.survivor_party_id, v, "survivor_party_id")
        elif msg.survivor_party_id:
            v.add("survivor_party_id", "only a merge has a survivor")
        options = merge_options(msg, v)
        return {
            "resolution": resolution,
            "survivor_party_id": str(survivor) if survivor else "",
            "default_rule": int(msg.default_rule),
            "field_choices": [
                {"field": field, "take": SIDE_PB[side]} for field, side in (options.choices if options else {}).items()
            ],
            "trusted_sources": options.trusted if options else [],
        }

    async def decide_duplicate_case(self, req: pb.DecideDuplicateCaseRequest) -> pb.DecideDuplicateCaseResponse:
        v = Violations()
        who = validation.context(req.context, v)
        case_id = validation.party_id(req.case_id, v, "case_id")
        decision = self._decision(req, v)
        v.raise_if_any()
        assert case_id is not None
        async with self.reader() as repo:
            case = await DuplicateStore(repo).case(case_id)
        if case is None:
            raise NotFound(f"duplicate case {case_id} not found")
        if case.status != "open":
            raise FailedPrecondition(f"duplicate case {case_id} is already {case.status}")
        survivor = decision["survivor_party_id"]
        if survivor and survivor not in (str(case.party_id), str(case.other_party_id)):
            raise InvalidArgument([FieldViolation("survivor_party_id", "must be one of the case's two parties")])
        payload = {
            **decision,
            "case_id": str(case_id),
            "senior": req.senior,
            "actor": who.actor,
            "source": who.source,
            "reason": who.reason,
        }
        if not case.workflow_id:
            # The workflow engine was unreachable when the case opened: apply the decision directly.
            await self._resolve(case_id, payload, f"decide/{case_id}")
        else:
            await self._send_decision(case.workflow_id, payload)
        async with self.reader() as repo:
            closed = await DuplicateStore(repo).case(case_id)
        assert closed is not None
        return pb.DecideDuplicateCaseResponse(case=case_pb(closed))

    async def _send_decision(self, workflow_id: str, payload: dict[str, Any]) -> None:
        from temporalio.client import WorkflowUpdateFailedError
        from temporalio.service import RPCError

        if self.temporal is None:
            raise Unavailable("the workflow engine is not configured")
        try:
            client = await self.temporal()
            handle = client.get_workflow_handle(workflow_id)
            await handle.execute_update("decide", payload)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            message = getattr(cause, "message", None) or str(cause or exc)
            raise FailedPrecondition(f"the review workflow refused the decision: {message}") from exc
        except RPCError as exc:
            raise Unavailable(f"the review workflow could not be reached: {exc.message}") from exc

    async def resolve_duplicate_case(self, req: pb.ResolveDuplicateCaseRequest) -> pb.ResolveDuplicateCaseResponse:
        v = Violations()
        who = validation.context(req.context, v)
        case_id = validation.party_id(req.case_id, v, "case_id")
        decision = self._decision(req, v)
        if not req.request_id:
            v.add("request_id", "is required: the workflow retries this call")
        v.raise_if_any()
        assert case_id is not None
        payload = {**decision, "actor": who.actor, "source": who.source, "reason": who.reason}
        return await self._resolve(case_id, payload, req.request_id)

    async def _resolve(
        self, case_id: UUID, payload: dict[str, Any], request_id: str
    ) -> pb.ResolveDuplicateCaseResponse:
        who = Actor(payload["actor"], payload["source"], payload["reason"])

        async def work(repo: PartiesRepository) -> tuple[pb.ResolveDuplicateCaseResponse, UUID]:
            store = DuplicateStore(repo)
            case = await store.case(case_id, lock=True)
            if case is None:
                raise NotFound(f"duplicate case {case_id} not found")
            if case.status != "open":
                raise FailedPrecondition(f"duplicate case {case_id} is already {case.status}")
            pair = (case.party_id, case.other_party_id)
            if payload["resolution"] == "not_duplicate":
                await MergeStore(repo).mark_not_duplicate(*pair, who)
                await store.close_case(case_id, "not_duplicate", who.actor, who.reason)
            else:
                survivor = UUID(payload["survivor_party_id"])
                if survivor not in pair:
                    raise InvalidArgument(
                        [FieldViolation("survivor_party_id", "must be one of the case's two parties")]
                    )
                merged = pair[1] if survivor == pair[0] else pair[0]
                # Closed first, so the merge's own withdrawal of the merged party's cases skips it.
                await store.close_case(case_id, "merged", who.actor, who.reason)
                record = await self.merge_in(
                    repo,
                    survivor,
                    merged,
                    RULES[payload["default_rule"]],
                    {c["field"]: SIDES[c["take"]] for c in payload["field_choices"]},
                    payload["trusted_sources"],
                    who,
                )
                await store.close_case(case_id, "merged", who.actor, who.reason, record.merge_id)
            closed = await store.case(case_id)
            assert closed is not None
            return pb.ResolveDuplicateCaseResponse(case=case_pb(closed)), case.party_id

        return await self.idempotent("ResolveDuplicateCase", request_id, pb.ResolveDuplicateCaseResponse, work)

    async def note_duplicate_case_sla(self, req: pb.NoteDuplicateCaseSlaRequest) -> pb.NoteDuplicateCaseSlaResponse:
        v = Violations()
        case_id = validation.party_id(req.case_id, v, "case_id")
        column = {
            pb.DUPLICATE_CASE_SLA_STAGE_REMINDED: "reminded_at",
            pb.DUPLICATE_CASE_SLA_STAGE_ESCALATED: "escalated_at",
        }.get(req.stage)
        if column is None:
            v.add("stage", "is required: REMINDED or ESCALATED")
        v.raise_if_any()
        assert case_id is not None and column is not None
        async with self.tx() as repo:
            store = DuplicateStore(repo)
            if await store.case(case_id) is None:
                raise NotFound(f"duplicate case {case_id} not found")
            await store.note_sla(case_id, column)
            case = await store.case(case_id)
        assert case is not None
        return pb.NoteDuplicateCaseSlaResponse(case=case_pb(case))


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
