"""Identifiers, contact points, roles, relationships, consents and contact preferences: the items of a
party that come and go over time. Adding records a new item; ending and changing record new versions."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from uuid import UUID

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Violations
from services.parties import convert, validation
from services.parties.app.base import today
from services.parties.app.parties import PartiesMixin, validation_violation
from services.parties.domain.bitemporal import Version, overlaps, plan_end, plan_replace, valid_at
from services.parties.store.repository import Actor, PartiesRepository
from services.parties.store.rows import ItemRow, RelationshipRow


class ItemsMixin(PartiesMixin):
    # -- shared mechanics -------------------------------------------------------------------------

    async def _add_item(
        self,
        repo: PartiesRepository,
        party_id: UUID,
        item: validation.NewItem,
        valid_from: date,
        who: Actor,
        change_type: str,
    ) -> tuple[ItemRow, int]:
        row = self.item_row(party_id, item, valid_from)
        await repo.insert_items([row], who)
        version = await repo.touch_party(party_id)
        await self.record(repo, party_id, change_type, [f"{item.section}s/{row.item_id}"], version, who)
        return (await repo.current_items(party_id, item.section, row.item_id))[-1], version

    async def _current_item(self, repo: PartiesRepository, party_id: UUID, section: str, item_id: UUID) -> ItemRow:
        rows = await repo.current_items(party_id, section, item_id)
        if not rows:
            raise NotFound(f"{section.replace('_', ' ')} {item_id} not found on party {party_id}")
        return rows[-1]

    async def _end_item(
        self,
        repo: PartiesRepository,
        party_id: UUID,
        section: str,
        item_id: UUID,
        valid_to: date,
        who: Actor,
        change_type: str,
    ) -> tuple[ItemRow, int]:
        current = await self._current_item(repo, party_id, section, item_id)
        if current.valid_to is not None and current.valid_to <= valid_to:
            raise FailedPrecondition(f"{section.replace('_', ' ')} {item_id} already ended on {current.valid_to}")
        if valid_to < current.valid_from:
            raise InvalidArgument(
                [validation_violation("valid_to", f"cannot be before the item's valid_from ({current.valid_from})")]
            )
        if valid_to == current.valid_from:
            # Ending an item on the day it began retracts it: it never held. The record stays in history.
            await repo.supersede_items([current.row_id])
            version = await repo.touch_party(party_id)
            await self.record(repo, party_id, f"{section}.retracted", [f"{section}s/{item_id}"], version, who)
            return ItemRow(**{**current.__dict__, "valid_to": valid_to}), version
        plan = plan_end(Version(current.row_id, current.valid_from, current.valid_to, current), valid_to)
        await repo.supersede_items(plan.supersede)
        ended = ItemRow(**{**current.__dict__, "valid_to": valid_to})
        await repo.insert_items([ended], who)
        version = await repo.touch_party(party_id)
        await self.record(repo, party_id, change_type, [f"{section}s/{item_id}"], version, who)
        return (await repo.current_items(party_id, section, item_id))[-1], version

    async def _end_request(self, req: Any, section: str, id_field: str) -> tuple[ItemRow, int]:
        """EndIdentifier, EndContactPoint and EndRole differ only in the section and the id's name."""
        v = Violations()
        who, pid = self._common(req, v)
        item_id = validation.party_id(getattr(req, id_field), v, id_field)
        valid_to = validation.day(req.valid_to, v, "valid_to", default=today()) or today()
        v.raise_if_any()
        assert item_id is not None
        async with self.tx() as repo:
            await self.lock_for_change(repo, pid, req.expected_version)
            return await self._end_item(repo, pid, section, item_id, valid_to, who, f"{section}.ended")

    def _common(self, req: Any, v: Violations) -> tuple[Actor, UUID]:
        who = validation.context(req.context, v)
        pid = validation.party_id(req.party_id, v)
        return who, pid  # type: ignore[return-value]

    # -- identifiers ------------------------------------------------------------------------------

    async def add_identifier(self, req: pb.AddIdentifierRequest) -> pb.AddIdentifierResponse:
        v = Violations()
        who, pid = self._common(req, v)
        valid_from = validation.day(req.valid_from, v, "valid_from", default=today()) or today()
        v.raise_if_any()
        async with self.tx() as repo:
            party = await self.lock_for_change(repo, pid, req.expected_version)
            form = None
            if party.kind == "organization":
                form = (await repo.facts_as_of(pid, today(), await repo.now())).get("organization.legal_form")
            item = validation.identifier(req.identifier, v, "identifier", validation.holder_kind(party.kind, form))
            v.raise_if_any()
            assert item is not None
            await self.check_identifiers_free(repo, [item], owner=None)
            for existing in await repo.current_items(pid, "identifier"):
                if existing.key1 == item.key1 and existing.key2 == item.key2 and existing.valid_to is None:
                    raise AlreadyExists(
                        "the party already holds this identifier",
                        field="identifier.value",
                        existing_id=str(existing.item_id),
                    )
            row, version = await self._add_item(repo, pid, item, valid_from, who, "identifier.added")
        return pb.AddIdentifierResponse(identifier=convert.identifier_pb(row), party_version=version)

    async def end_identifier(self, req: pb.EndIdentifierRequest) -> pb.EndIdentifierResponse:
        row, version = await self._end_request(req, "identifier", "identifier_id")
        return pb.EndIdentifierResponse(identifier=convert.identifier_pb(row), party_version=version)

    # -- contact points ---------------------------------------------------------------------------

    async def _check_primary(
        self,
        repo: PartiesRepository,
        pid: UUID,
        item: validation.NewItem,
        skip: UUID | None,
        valid_from: date,
        who: Actor,
    ) -> None:
        """Making a contact point primary demotes the previous primary of its type from valid_from on (a new
        version); before that date the previous one stays primary."""
        if not item.data.get("primary"):
            return
        for other in await repo.current_items(pid, "contact_point"):
            if (
                other.item_id != skip
                and other.key1 == item.key1
                and other.data.get("primary")
                and other.valid_to is None
            ):
                await repo.supersede_items([other.row_id])
                rows = []
                if other.valid_from < valid_from:
                    rows.append(ItemRow(**{**other.__dict__, "valid_to": valid_from}))
                start = max(other.valid_from, valid_from)
                rows.append(
                    ItemRow(**{**other.__dict__, "valid_from": start, "data": {**other.data, "primary": False}})
                )
                await repo.insert_items(rows, Actor(who.actor, who.source, "another contact point became primary"))

    async def add_contact_point(self, req: pb.AddContactPointRequest) -> pb.AddContactPointResponse:
        v = Violations()
        who, pid = self._common(req, v)
        valid_from = validation.day(req.valid_from, v, "valid_from", default=today()) or today()
        item = validation.contact_point(req.contact_point, v, "contact_point")
        v.raise_if_any()
        assert item is not None
        async with self.tx() as repo:
            await self.lock_for_change(repo, pid, req.expected_version)
            for existing in await repo.current_items(pid, "contact_point"):
                if existing.key1 == item.key1 and existing.key2 == item.key2 and existing.valid_to is None:
                    raise AlreadyExists(
                        "the party already has this contact point",
                        field="contact_point",
                        existing_id=str(existing.item_id),
                    )
            await self._check_primary(repo, pid, item, None, valid_from, who)
            row, version = await self._add_item(repo, pid, item, valid_from, who, "contact_point.added")
        return pb.AddContactPointResponse(contact_point=convert.contact_point_pb(row), party_version=version)

    async def update_contact_point(self, req: pb.UpdateContactPointRequest) -> pb.UpdateContactPointResponse:
        v = Violations()
        who, pid = self._common(req, v)
        item_id = validation.party_id(req.contact_point_id, v, "contact_point_id")
        valid_from = validation.day(req.valid_from, v, "valid_from", default=today()) or today()
        item = validation.contact_point(req.contact_point, v, "contact_point")
        v.raise_if_any()
        assert item is not None and item_id is not None
        async with self.tx() as repo:
            await self.lock_for_change(repo, pid, req.expected_version)
            current = await self._current_item(repo, pid, "contact_point", item_id)
            if current.key1 != item.key1:
                raise InvalidArgument(
                    [validation_violation("contact_point.type", "the type of a contact point is fixed")]
                )
            versions = [
                Version(r.row_id, r.valid_from, r.valid_to, r)
                for r in await repo.current_items(pid, "contact_point", item_id)
            ]
            if valid_from < min(x.valid_from for x in versions):
                raise InvalidArgument([validation_violation("valid_from", "is before the contact point existed")])
            if current.valid_to is not None and valid_from >= current.valid_to:
                raise FailedPrecondition(
                    f"contact point {item_id} ended on {current.valid_to}; add a new contact point instead"
                )
            for other in await repo.current_items(pid, "contact_point"):
                if (
                    other.item_id != item_id
                    and (other.key1, other.key2) == (item.key1, item.key2)
                    and overlaps(other.valid_from, other.valid_to, valid_from, current.valid_to)
                ):
                    raise AlreadyExists(
                        "the party already has this contact point",
                        field="contact_point",
                        existing_id=str(other.item_id),
                    )
            await self._check_primary(repo, pid, item, item_id, valid_from, who)
            plan = plan_replace(versions, valid_from, current.valid_to, None)
            await repo.supersede_items(plan.supersede)
            rows = [
                ItemRow(**{**s.payload.__dict__, "valid_from": s.valid_from, "valid_to": s.valid_to})
                for s in plan.insert
            ]
            rows.append(self.item_row(pid, item, valid_from, item_id=item_id))
            rows[-1].valid_to = current.valid_to
            await repo.insert_items(rows, who)
            version = await repo.touch_party(pid)
            await self.record(repo, pid, "contact_point.updated", [f"contact_points/{item_id}"], version, who)
            row = [
                r
                for r in await repo.current_items(pid, "contact_point", item_id)
                if valid_at(r.valid_from, r.valid_to, valid_from)
            ][-1]
        return pb.UpdateContactPointResponse(contact_point=convert.contact_point_pb(row), party_version=version)

    async def end_contact_point(self, req: pb.EndContactPointRequest) -> pb.EndContactPointResponse:
        row, version = await self._end_request(req, "contact_point", "contact_point_id")
        return pb.EndContactPointResponse(contact_point=convert.contact_point_pb(row), party_version=version)

    # -- roles ------------------------------------------------------------------------------------

    async def assign_role(self, req: pb.AssignRoleRequest) -> pb.AssignRoleResponse:
        v = Violations()
        who, pid = self._common(req, v)
        code = validation.role_code(req.role_type, v, "role_type")
        valid_from = validation.day(req.valid_from, v, "valid_from", default=today()) or today()
        valid_to = validation.day(req.valid_to, v, "valid_to")
        if valid_to is not None and valid_to <= valid_from:
            v.add("valid_to", "must be after valid_from")
        v.raise_if_any()
        async with self.tx() as repo:
            party = await self.lock_for_change(repo, pid, req.expected_version)
            await self.check_catalogue(repo, party.kind, [code], [], v)
            if v:
                v.items = [validation_violation("role_type", x.description) for x in v.items]
            v.raise_if_any()
            for held in await repo.current_items(pid, "role"):
                if held.key1 == code and overlaps(held.valid_from, held.valid_to, valid_from, valid_to):
                    raise AlreadyExists(
                        f"the party already holds the role {code!r} from {held.valid_from} "
                        f"to {held.valid_to or 'open end'}",
                        field="role_type",
                        existing_id=str(held.item_id),
                    )
            item = validation.NewItem("role", code, "", {}, valid_from=valid_from, valid_to=valid_to)
            row, version = await self._add_item(repo, pid, item, valid_from, who, "role.assigned")
        return pb.AssignRoleResponse(role=convert.role_pb(row), party_version=version)

    async def end_role(self, req: pb.EndRoleRequest) -> pb.EndRoleResponse:
        row, version = await self._end_request(req, "role", "role_id")
        return pb.EndRoleResponse(role=convert.role_pb(row), party_version=version)

    # -- relationships ----------------------------------------------------------------------------

    async def create_relationship(self, req: pb.CreateRelationshipRequest) -> pb.CreateRelationshipResponse:
        v = Violations()
        who = validation.context(req.context, v)
        code = validation.role_code(req.relationship_type, v, "relationship_type")
        a = validation.party_id(req.from_party_id, v, "from_party_id")
        b = validation.party_id(req.to_party_id, v, "to_party_id")
        if a and a == b:
            v.add("to_party_id", "a party cannot be related to itself")
        valid_from = validation.day(req.valid_from, v, "valid_from", default=today()) or today()
        valid_to = validation.day(req.valid_to, v, "valid_to")
        if valid_to is not None and valid_to <= valid_from:
            v.add("valid_to", "must be after valid_from")
        v.raise_if_any()
        assert a is not None and b is not None
        async with self.tx() as repo:
            rtype = await repo.relationship_type(code)
            if rtype is None:
                raise InvalidArgument(
                    [validation_violation("relationship_type", f"unknown relationship type {code!r}")]
                )
            _code, _name, _inv, symmetric, from_kinds, to_kinds, from_roles, to_roles, _sys = rtype
            ends = await repo.get_parties([a, b])
            for path, pid in (("from_party_id", a), ("to_party_id", b)):
                if pid not in ends:
                    raise NotFound(f"{path}: party {pid} not found")
                if ends[pid].status == "erased":
                    raise FailedPrecondition(f"{path}: party {pid} has been erased")
            for path, pid, kinds, roles in (
                ("from_party_id", a, from_kinds, from_roles),
                ("to_party_id", b, to_kinds, to_roles),
            ):
                if kinds and ends[pid].kind not in kinds:
                    v.add(path, f"a {code} relationship needs a {' or '.join(kinds)} here, not a {ends[pid].kind}")
                if roles:
                    held = {
                        r.key1
                        for r in await repo.current_items(pid, "role")
                        if valid_at(r.valid_from, r.valid_to, valid_from)
                    }
                    missing = [r for r in roles if r not in held]
                    if missing:
                        v.add(path, f"the party must hold the role {', '.join(missing)} on {valid_from}")
            v.raise_if_any()
            if symmetric and str(a) > str(b):
                # A symmetric pair is stored once, in a canonical order, so the exclusion constraint sees it.
                a, b = b, a
            for pid in sorted({a, b}, key=str):
                await repo.get_party(pid, lock=True)
            row = RelationshipRow(0, uuid.uuid4(), code, a, b, valid_from, valid_to, None)  # type: ignore[arg-type]
            await repo.insert_relationship(row, who)
            for pid in (a, b):
                version = await repo.touch_party(pid)
                await self.record(
                    repo, pid, "relationship.created", [f"relationships/{row.relationship_id}"], version, who
                )
            stored = await repo.current_relationship(row.relationship_id)
        return pb.CreateRelationshipResponse(relationship=convert.relationship_pb(stored))

    async def end_relationship(self, req: pb.EndRelationshipRequest) -> pb.EndRelationshipResponse:
        v = Violations()
        who = validation.context(req.context, v)
        rid = validation.party_id(req.relationship_id, v, "relationship_id")
        valid_to = validation.day(req.valid_to, v, "valid_to", default=today()) or today()
        v.raise_if_any()
        assert rid is not None
        async with self.tx() as repo:
            current = await repo.current_relationship(rid, lock=True)
            if current.valid_to is not None and current.valid_to <= valid_to:
                raise FailedPrecondition(f"relationship {rid} already ended on {current.valid_to}")
            if valid_to < current.valid_from:
                raise InvalidArgument(
                    [
                        validation_violation(
                            "valid_to", f"cannot be before the relationship's valid_from ({current.valid_from})"
                        )
                    ]
                )
            await repo.supersede_relationship_rows([current.row_id])
            ended = RelationshipRow(**{**current.__dict__, "valid_to": valid_to})
            # Ending on the first day retracts the relationship: superseded, with no new version.
            change = "relationship.retracted" if valid_to == current.valid_from else "relationship.ended"
            if change == "relationship.ended":
                await repo.insert_relationship(ended, who)
            for pid in (current.from_party, current.to_party):
                version = await repo.touch_party(pid)
                await self.record(repo, pid, change, [f"relationships/{rid}"], version, who)
            stored = await repo.current_relationship(rid) if change == "relationship.ended" else ended
        return pb.EndRelationshipResponse(relationship=convert.relationship_pb(stored))

    # -- consents and preferences -----------------------------------------------------------------

    async def set_consent(self, req: pb.SetConsentRequest) -> pb.SetConsentResponse:
        v = Violations()
        who, pid = self._common(req, v)
        item = validation.consent(req.consent, v, "consent")
        v.raise_if_any()
        assert item is not None
        async with self.tx() as repo:
            await self.lock_for_change(repo, pid, 0)
            current = [c for c in await repo.current_items(pid, "consent") if c.key1 == item.key1]
            item_id = current[-1].item_id if current else None
            await repo.supersede_items([c.row_id for c in current])
            row = self.item_row(pid, item, today(), item_id=item_id)
            await repo.insert_items([row], who)
            version = await repo.touch_party(pid)
            await self.record(repo, pid, "consent.set", [f"consents/{item.key1}"], version, who)
            stored = (await repo.current_items(pid, "consent", row.item_id))[-1]
        return pb.SetConsentResponse(consent=convert.consent_pb(stored), party_version=version)

    async def set_contact_preferences(self, req: pb.SetContactPreferencesRequest) -> pb.SetContactPreferencesResponse:
        v = Violations()
        who, pid = self._common(req, v)
        mask = set(req.update_mask.paths) if req.update_mask.paths else set(validation.PREFERENCE_PATHS)
        facts = validation.preference_facts(req.preferences, v, "preferences", mask)
        v.raise_if_any()
        async with self.tx() as repo:
            party = await self.lock_for_change(repo, pid, 0)
            changed = [f for f, val in facts.items() if await self.replace_fact(repo, pid, f, val, today(), who)]
            version = party.version
            if changed:
                version = await repo.touch_party(pid)
                await self.record(repo, pid, "preferences.set", changed, version, who)
            current = await repo.facts_as_of(pid, today(), await repo.now())
        return pb.SetContactPreferencesResponse(preferences=convert.preferences_pb(current), party_version=version)
