"""Merge and unmerge: MergeParties, UnmergeParties, ListMerges, MarkNotDuplicate.

One transaction each. A merge locks both parties (in id order), decides every differing field by the
survivorship rules or the caller's choices, moves the merged party's items and relationships to the
survivor, turns the merged party into a tombstone and records the row-level effects, which an unmerge
reverses exactly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, cast
from uuid import UUID

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import Aborted, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Violations
from services.parties import convert, validation
from services.parties.app.base import AppBase, today
from services.parties.domain.survivorship import (
    FieldValue,
    ItemKey,
    ItemRef,
    Rule,
    Side,
    decide_fields,
    plan_item_moves,
)
from services.parties.metrics import MERGES
from services.parties.store.merges import Effects, MergeRecord, MergeStore
from services.parties.store.repository import Actor, PartiesRepository
from services.parties.store.rows import FactRow

RULES: dict[int, Rule] = {
    pb.SURVIVORSHIP_RULE_UNSPECIFIED: "most_recent",
    pb.SURVIVORSHIP_RULE_MOST_RECENT: "most_recent",
    pb.SURVIVORSHIP_RULE_MOST_TRUSTED_SOURCE: "most_trusted_source",
    pb.SURVIVORSHIP_RULE_SURVIVOR: "survivor",
}
SIDES: dict[int, Side] = {pb.MERGE_SIDE_SURVIVOR: "survivor", pb.MERGE_SIDE_MERGED: "merged"}
SIDE_PB = {"survivor": pb.MERGE_SIDE_SURVIVOR, "merged": pb.MERGE_SIDE_MERGED}
MAX_CHOICES = 200


def _today_values(facts: list[FactRow]) -> dict[str, FieldValue]:
    """Each field's value valid today (or, for a field with no slice today, its latest slice)."""
    day = today()
    out: dict[str, FieldValue] = {}
    for f in sorted(facts, key=lambda f: f.valid_from):
        covers = f.valid_from <= day and (f.valid_to is None or f.valid_to > day)
        if covers or f.field not in out:
            out[f.field] = FieldValue(f.value, f.recorded_at, f.source)
    return {k: v for k, v in out.items() if v.value is not None}


def merge_pb(m: MergeRecord) -> pb.Merge:
    out = pb.Merge(
        merge_id=str(m.merge_id),
        survivor_party_id=str(m.survivor_id),
        merged_party_id=str(m.merged_id),
        state=pb.MERGE_STATE_MERGED if m.state == "merged" else pb.MERGE_STATE_UNMERGED,
        decisions=[
            pb.FieldDecision(field=d["field"], taken_from=SIDE_PB[d["taken_from"]], rule=d["rule"]) for d in m.decisions
        ],
        moved=m.moved,
        merged_at=convert.ts_pb(m.merged_at),
        merged_by=m.actor,
        reason=m.reason,
        unmerged_by=m.unmerge_actor,
        unmerge_reason=m.unmerge_reason,
    )
    if m.unmerged_at is not None:
        out.unmerged_at.CopyFrom(convert.ts_pb(m.unmerged_at))
    return out


@dataclass(frozen=True)
class MergeOptions:
    """How a merge decides fields: the default rule, the caller's choices, the trusted sources."""

    rule: Rule
    choices: dict[str, Side]
    trusted: list[str]


def merge_options(msg: Any, v: Violations) -> MergeOptions | None:
    """Validates default_rule, field_choices and trusted_sources, the same in every message carrying
    them (MergeParties, and a review case's decision)."""
    rule = RULES.get(msg.default_rule)
    if rule is None:
        v.add("default_rule", f"unknown rule {msg.default_rule}")
    if rule == "most_trusted_source" and not msg.trusted_sources:
        v.add("trusted_sources", "is required by MOST_TRUSTED_SOURCE: list the sources, most trusted first")
    validation.check_count(msg.field_choices, v, "field_choices", MAX_CHOICES)
    validation.check_count(msg.trusted_sources, v, "trusted_sources", 50)
    choices: dict[str, Side] = {}
    for i, choice in enumerate(msg.field_choices):
        side = SIDES.get(choice.take)
        if side is None:
            v.add(f"field_choices[{i}].take", "is required: MERGE_SIDE_SURVIVOR or MERGE_SIDE_MERGED")
        if not choice.field or len(choice.field) > 100:
            v.add(f"field_choices[{i}].field", "is required (at most 100 characters)")
        elif choice.field in choices:
            v.add(f"field_choices[{i}].field", f"{choice.field!r} is chosen twice")
        elif side is not None:
            choices[choice.field] = side
    return MergeOptions(rule, choices, list(msg.trusted_sources)) if rule is not None else None


class MergesMixin(AppBase):
    async def merge_parties(self, req: pb.MergePartiesRequest) -> pb.MergePartiesResponse:
        v = Violations()
        who = validation.context(req.context, v)
        survivor = validation.party_id(req.survivor_party_id, v, "survivor_party_id")
        merged = validation.party_id(req.merged_party_id, v, "merged_party_id")
        if survivor is not None and survivor == merged:
            v.add("merged_party_id", "must differ from survivor_party_id: a party cannot be merged with itself")
        options = merge_options(req, v)
        v.raise_if_any()
        assert survivor is not None and merged is not None and options is not None

        async def work(repo: PartiesRepository) -> tuple[pb.MergePartiesResponse, UUID]:
            record = await self.merge_in(
                repo,
                survivor,
                merged,
                options.rule,
                options.choices,
                options.trusted,
                who,
                (req.survivor_expected_version, req.merged_expected_version),
            )
            survivor_msg = await self.party_message(repo, survivor)
            return pb.MergePartiesResponse(merge=merge_pb(record), survivor=survivor_msg), survivor

        return await self.idempotent("MergeParties", req.request_id, pb.MergePartiesResponse, work)

    async def merge_in(
        self,
        repo: PartiesRepository,
        survivor: UUID,
        merged: UUID,
        rule: Rule,
        choices: dict[str, Side],
        trusted: list[str],
        who: Actor,
        expected_versions: tuple[int, int] = (0, 0),
    ) -> MergeRecord:
        """A merge inside the caller's transaction (MergeParties, or a review case's decision)."""
        store = MergeStore(repo)
        await store.lock_pair(survivor, merged)
        s_row = await self._mergeable(repo, survivor, "survivor_party_id", expected_versions[0])
        m_row = await self._mergeable(repo, merged, "merged_party_id", expected_versions[1])
        if s_row.kind != m_row.kind:
            raise FailedPrecondition(f"merged_party_id: a {m_row.kind} cannot be merged into a {s_row.kind}")
        return await self._merge(store, survivor, merged, s_row.kind, rule, choices, trusted, who)

    async def _mergeable(self, repo: PartiesRepository, party_id: UUID, path: str, expected: int) -> Any:
        try:
            party = await repo.get_party(party_id)
        except NotFound as exc:
            raise NotFound(f"{path}: party {party_id} not found") from exc
        if party.status == "merged":
            target = await MergeStore(repo).survivor_of(party_id)
            raise FailedPrecondition(f"{path}: party {party_id} is already merged into {target}")
        if party.status == "erased":
            raise FailedPrecondition(f"{path}: party {party_id} has been erased")
        if expected and party.version != expected:
            raise Aborted(f"{path}: party {party_id} is at version {party.version}, not {expected}: re-read and retry")
        return party

    async def _merge(
        self,
        store: MergeStore,
        survivor: UUID,
        merged: UUID,
        kind: str,
        rule: Rule,
        choices: dict[str, Side],
        trusted: list[str],
        who: Actor,
    ) -> MergeRecord:
        effects = Effects()
        effects.parties = {"survivor": await store.party_columns(survivor), "merged": await store.party_columns(merged)}

        # Fields: the survivor's rows of each field taken from the merged party give way to copies of it.
        s_facts, m_facts = await store.current_facts(survivor), await store.current_facts(merged)
        known = {f.field for f in s_facts} | {f.field for f in m_facts}
        unknown = sorted(set(choices) - known)
        if unknown:
            raise InvalidArgument(
                [FieldViolation("field_choices", f"neither party has the field(s) {', '.join(unknown)}")]
            )
        decisions = decide_fields(_today_values(s_facts), _today_values(m_facts), rule, choices, trusted)
        taken = {d.field for d in decisions if d.taken_from == "merged"}
        await store.supersede("fact", [f.row_id for f in s_facts if f.field in taken], effects)
        effects.inserted["fact"] += await store.copy(
            "fact", [f.row_id for f in m_facts if f.field in taken], move_from=merged, move_to=survivor, who=who
        )

        # Items: everything but what the survivor already holds moves (consents: the newer decision wins).
        s_items, m_items = await store.current_items(survivor), await store.current_items(merged)
        day = today()

        def refs(items: list[Any]) -> list[ItemRef]:
            return [
                ItemRef(i, ItemKey(i.section, i.key1, i.key2), i.valid_to is None or i.valid_to > day, i.recorded_at)
                for i in items
            ]

        move, retire = plan_item_moves(refs(s_items), refs(m_items))
        await store.supersede("item", [i.row_id for i in retire], effects)
        await store.supersede("item", [i.row_id for i in move], effects)
        effects.inserted["item"] += await store.copy(
            "item", [i.row_id for i in move], move_from=merged, move_to=survivor, who=who
        )
        moved: dict[str, int] = {}
        for item in move:
            moved[item.section] = moved.get(item.section, 0) + 1

        # Relationships: re-pointed at the survivor, except one between the two (it would point at itself)
        # and one the survivor already has.
        rels = await store.current_relationships(merged)
        between = {r.row_id for r in rels if survivor in (r.from_party, r.to_party)}
        clash = await store.overlapping_relationships([r for r in rels if r.row_id not in between], merged, survivor)
        movable = [r.row_id for r in rels if r.row_id not in between | clash]
        await store.supersede("relationship", [r.row_id for r in rels if r.row_id in between], effects)
        await store.supersede("relationship", movable, effects)
        effects.inserted["relationship"] += await store.copy(
            "relationship", movable, move_from=merged, move_to=survivor, who=who
        )
        if movable:
            moved["relationship"] = len(movable)

        merge_id = uuid.uuid4()
        s_version = await self._refresh_names(store, survivor, kind)
        m_version = await store.set_party(merged, status="merged", merged_into=survivor, search_key="")
        changed = [*sorted(taken), f"merged_from/{merged}", f"merges/{merge_id}"]
        await self.record(store.repo, survivor, "party.merged", changed, s_version, who)
        await self.record(store.repo, merged, "party.merged_away", [f"merged_into/{survivor}"], m_version, who)
        decisions_json = [{"field": d.field, "taken_from": d.taken_from, "rule": d.rule} for d in decisions]
        await store.insert_merge(merge_id, survivor, merged, decisions_json, effects, moved, who)
        MERGES.labels("merge").inc()
        record = await store.merge_record(merge_id)
        assert record is not None
        return record

    async def _refresh_names(self, store: MergeStore, party_id: UUID, kind: str) -> int:
        """The survivor's denormalized name, search key and birth date follow its (new) facts."""
        facts = await store.repo.facts_as_of(party_id, today(), await store.repo.now())
        display, key = validation.display_and_search(kind, facts)
        bd = facts.get("person.birth_date")
        return await store.set_party(
            party_id, display_name=display, search_key=key, birth_date=date.fromisoformat(bd) if bd else None
        )

    async def unmerge_parties(self, req: pb.UnmergePartiesRequest) -> pb.UnmergePartiesResponse:
        v = Violations()
        who = validation.context(req.context, v)
        merge_id = validation.party_id(req.merge_id, v, "merge_id")
        v.raise_if_any()
        assert merge_id is not None

        async def work(repo: PartiesRepository) -> tuple[pb.UnmergePartiesResponse, UUID]:
            store = MergeStore(repo)
            record = await store.merge_record(merge_id, lock=True)
            if record is None:
                raise NotFound(f"merge {merge_id} not found")
            if record.state != "merged":
                raise FailedPrecondition(f"merge {merge_id} was already undone at {record.unmerged_at.isoformat()}")
            await store.lock_pair(record.survivor_id, record.merged_id)
            s_row = await repo.get_party(record.survivor_id)
            if s_row.status != "active":
                raise FailedPrecondition(
                    f"the survivor {record.survivor_id} is {s_row.status} now: undo its own later merge first"
                )
            changed = await store.changed_since(record.effects)
            if changed:
                what = ", ".join(f"{len(ids)} {table} row(s)" for table, ids in sorted(changed.items()))
                raise FailedPrecondition(
                    f"merge {merge_id} cannot be undone exactly: {what} it wrote were changed since; "
                    "revert those changes first"
                )
            await self._unmerge(store, record, s_row.kind, who)
            record = cast(MergeRecord, await store.merge_record(merge_id))
            return (
                pb.UnmergePartiesResponse(
                    merge=merge_pb(record),
                    survivor=await self.party_message(repo, record.survivor_id),
                    restored=await self.party_message(repo, record.merged_id),
                ),
                record.survivor_id,
            )

        return await self.idempotent("UnmergeParties", req.request_id, pb.UnmergePartiesResponse, work)

    async def _unmerge(self, store: MergeStore, record: MergeRecord, kind: str, who: Actor) -> None:
        effects = record.effects
        for table in ("fact", "item", "relationship"):
            # What the merge wrote goes first (it holds the unique identifiers the restored rows take back).
            await store.supersede(table, effects.inserted[table])
        for table in ("fact", "item", "relationship"):
            await store.copy(table, effects.superseded[table])
        merged_cols = effects.parties["merged"]
        m_version = await store.set_party(
            record.merged_id, status="active", merged_into=None, search_key=merged_cols["search_key"]
        )
        s_version = await self._refresh_names(store, record.survivor_id, kind)
        await store.mark_not_duplicate(record.survivor_id, record.merged_id, who)
        await store.mark_unmerged(record.merge_id, who)
        MERGES.labels("unmerge").inc()
        fields = [f"merges/{record.merge_id}"]
        await self.record(store.repo, record.survivor_id, "party.unmerged", fields, s_version, who)
        await self.record(store.repo, record.merged_id, "party.unmerged", fields, m_version, who)

    async def list_merges(self, req: pb.ListMergesRequest) -> pb.ListMergesResponse:
        v = Violations()
        pid = validation.party_id(req.party_id, v)
        v.raise_if_any()
        assert pid is not None
        async with self.reader() as repo:
            await repo.get_party(pid)
            return pb.ListMergesResponse(merges=[merge_pb(m) for m in await MergeStore(repo).merges_of(pid)])

    async def mark_not_duplicate(self, req: pb.MarkNotDuplicateRequest) -> pb.MarkNotDuplicateResponse:
        v = Violations()
        who = validation.context(req.context, v)
        a = validation.party_id(req.party_id, v)
        b = validation.party_id(req.other_party_id, v, "other_party_id")
        if a is not None and a == b:
            v.add("other_party_id", "must differ from party_id")
        v.raise_if_any()
        assert a is not None and b is not None
        async with self.tx() as repo:
            for pid, path in ((a, "party_id"), (b, "other_party_id")):
                try:
                    await repo.get_party(pid)
                except NotFound as exc:
                    raise NotFound(f"{path}: party {pid} not found") from exc
            await MergeStore(repo).mark_not_duplicate(a, b, who)
        return pb.MarkNotDuplicateResponse()
