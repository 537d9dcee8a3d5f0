"""Creating, reading, changing and finding parties."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import date
from typing import Any
from uuid import UUID

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Violations
from services.parties import convert, validation
from services.parties.app.base import PartyMerged, today
from services.parties.app.duplicates import DuplicatesMixin, case_pb, override_of
from services.parties.app.match_records import record_for
from services.parties.domain import contacts, identifiers, names
from services.parties.domain.errors import DomainValueError
from services.parties.metrics import PARTY_CHANGES, SEARCHES
from services.parties.store.repository import Actor, PartiesRepository
from services.parties.store.rows import ItemRow, PartyRow, PartyState, RelationshipRow

PROFILE_FIELDS = {
    "person": {f"{p}.{n}" for p in ("name", "latin_name") for n in validation.PERSON_NAME_PARTS}
    | {"gender", "birth_date"},
    "organization": {"legal_name", "short_name", "legal_form"},
    "group": {"name", "description"},
}

#: Per kind: the profile facts of which one must be set, and the violation when none is.
REQUIRED_NAME = {
    "person": (
        [f"person.{p}.{n}" for p in ("name", "latin_name") for n in ("last_name", "first_name")],
        "person.name",
        "a last or first name is required (in name or latin_name)",
    ),
    "organization": (
        ["organization.legal_name", "organization.short_name"],
        "organization.legal_name",
        "a legal or short name is required",
    ),
    "group": (["group.name"], "group.name", "is required"),
}


def profile_of(
    message: Any, v: Violations, today_: date, partial: set[str] | None = None, prefix: str = ""
) -> validation.Profile | None:
    which = message.WhichOneof("profile")
    if which == "person":
        return validation.person(message.person, v, prefix + "person", today_, partial)
    if which == "organization":
        return validation.organization(message.organization, v, prefix + "organization", partial)
    if which == "group":
        return validation.group(message.group, v, prefix + "group", partial)
    v.add(prefix + "profile", "one of person, organization or group is required")
    return None


class PartiesMixin(DuplicatesMixin):
    # -- create -----------------------------------------------------------------------------------

    def validate_create(self, req: pb.CreatePartyRequest, v: Violations, prefix: str = "") -> dict[str, Any]:
        """Everything about a create request that needs no database: returns the normalized parts."""
        t = today()
        validation.request_id(req.request_id, v, prefix + "request_id")
        profile = profile_of(req, v, t, prefix=prefix)
        kind = profile.kind if profile else ""
        for name in ("identifiers", "contact_points", "role_types", "attributes", "consents"):
            validation.check_count(getattr(req, name), v, prefix + name)
        valid_from = validation.day(req.valid_from, v, prefix + "valid_from", default=t) or t
        items: list[validation.NewItem] = []
        seen_ids: set[tuple[str, str]] = set()
        for i, ident in enumerate(req.identifiers):
            holder = validation.holder_kind(kind, profile.facts.get("organization.legal_form") if profile else None)
            item = validation.identifier(ident, v, f"{prefix}identifiers[{i}]", holder) if kind else None
            if item:
                if (item.key1, item.key2) in seen_ids:
                    v.add(f"{prefix}identifiers[{i}]", "is given twice")
                seen_ids.add((item.key1, item.key2))
                items.append(item)
        primaries: set[str] = set()
        for i, cp in enumerate(req.contact_points):
            item = validation.contact_point(cp, v, f"{prefix}contact_points[{i}]")
            if item:
                if item.data["primary"]:
                    if item.key1 in primaries:
                        v.add(f"{prefix}contact_points[{i}].primary", f"only one primary {item.key1.lower()} allowed")
                    primaries.add(item.key1)
                items.append(item)
        roles: list[str] = []
        for i, code in enumerate(req.role_types):
            code = validation.role_code(code, v, f"{prefix}role_types[{i}]")
            if code in roles:
                v.add(f"{prefix}role_types[{i}]", "is given twice")
            roles.append(code)
        consents: set[str] = set()
        for i, c in enumerate(req.consents):
            item = validation.consent(c, v, f"{prefix}consents[{i}]")
            if item:
                if item.key1 in consents:
                    v.add(f"{prefix}consents[{i}]", "is given twice for the same channel and purpose")
                consents.add(item.key1)
                items.append(item)
        facts = dict(profile.facts) if profile else {}
        facts.update(validation.preference_facts(req.preferences, v, prefix + "preferences", None))
        for ident_item in [i for i in items if i.section == "identifier"]:
            ident_item.valid_from = valid_from
        return {
            "kind": kind,
            "facts": {k: val for k, val in facts.items() if val is not None},
            "items": items,
            "roles": roles,
            "valid_from": valid_from,
            "group_members": list(req.group.member_party_ids) if kind == "group" else [],
            "attributes": list(req.attributes),
        }

    async def check_catalogue(
        self,
        repo: PartiesRepository,
        kind: str,
        roles: list[str],
        attributes: list[pb.AttributeValue],
        v: Violations,
        prefix: str = "",
        role_cache: dict[str, Any] | None = None,
        attr_cache: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Roles and attribute values checked against the run-time catalogues; returns attribute facts."""
        from services.parties.app.attributes import INVALID, coerce_attribute

        for i, code in enumerate(roles):
            row = role_cache.get(code) if role_cache is not None else await self.role_type(repo, code)
            if row is None:
                v.add(f"{prefix}role_types[{i}]", f"unknown role type {code!r}")
            elif row[2] and kind not in row[2]:
                v.add(f"{prefix}role_types[{i}]", f"a {kind} cannot hold the role {code!r}")
        facts: dict[str, Any] = {}
        if attributes:
            codes = [a.code for a in attributes]
            defs = (
                {c: attr_cache[c] for c in codes if c in attr_cache}
                if attr_cache is not None
                else await repo.attribute_definitions_by_code(codes)
            )
            for i, value in enumerate(attributes):
                path = f"{prefix}attributes[{i}]"
                if f"attributes.{value.code}" in facts:
                    v.add(path, "is given twice")
                    continue
                coerced = coerce_attribute(defs.get(value.code), value, kind, v, path)
                if coerced is not INVALID:
                    facts[f"attributes.{value.code}"] = coerced
        return facts

    async def check_identifiers_free(
        self, repo: PartiesRepository, items: list[validation.NewItem], owner: UUID | None = None
    ) -> None:
        unique = [i for i in items if i.section == "identifier" and i.is_unique]
        holders = await repo.identifier_holders([(i.key1, i.key2) for i in unique])
        for item in unique:
            holder = holders.get((item.key1, item.key2))
            if holder is not None and holder != owner:
                raise AlreadyExists(
                    f"{item.key1} {item.key2} already belongs to party {holder}",
                    field=f"{item.field}.value",
                    existing_id=str(holder),
                )

    async def create_party(self, req: pb.CreatePartyRequest) -> pb.CreatePartyResponse:
        v = Violations()
        who = validation.context(req.context, v)
        parts = self.validate_create(req, v)
        member_ids = [
            validation.party_id(m, v, f"group.member_party_ids[{i}]") for i, m in enumerate(parts["group_members"])
        ]
        validation.check_count(member_ids, v, "group.member_party_ids")
        for i, m in enumerate(member_ids):
            if m is not None and m in member_ids[:i]:
                v.add(f"group.member_party_ids[{i}]", "is given twice")
        override = override_of(req.duplicate_override, v)
        v.raise_if_any()

        async def work(repo: PartiesRepository) -> tuple[pb.CreatePartyResponse, UUID]:
            attr_facts = await self.check_catalogue(repo, parts["kind"], parts["roles"], parts["attributes"], v)
            v.raise_if_any()
            party_id = uuid.uuid4()
            record = record_for(party_id, parts["kind"], parts["facts"], parts["items"])
            strong, possible = await self.duplicate_gate(repo, record, override, who) if record else ([], [])
            state = await self.insert_new_party(repo, party_id, parts, attr_facts, who)
            if record is not None:
                await self.index_record(repo, record)
            cases = await self.settle_duplicates(repo, party_id, strong, possible, override, who)
            for member in sorted(member_ids, key=str):  # the lock order CreateRelationship uses
                assert member is not None
                await self.add_member(repo, member, party_id, parts["valid_from"], who)
            # The reply is built from what was just written (as of the first day it all holds), which
            # spares a re-read; the tests compare it with GetParty.
            types = {c: row[2] for c, row in (await self.attribute_types(repo, attr_facts)).items()}
            members = [m for m in member_ids if m is not None] if parts["kind"] == "group" else None
            party = convert.party_pb(state, types, members)
            return pb.CreatePartyResponse(party=party, duplicate_cases=[case_pb(c) for c in cases]), party_id

        return await self.idempotent("CreateParty", req.request_id, pb.CreatePartyResponse, work)

    async def insert_new_party(
        self, repo: PartiesRepository, party_id: UUID, parts: dict[str, Any], attr_facts: dict[str, Any], who: Actor
    ) -> PartyState:
        await self.check_identifiers_free(repo, parts["items"])
        facts = {**parts["facts"], **attr_facts}
        display, key = validation.display_and_search(parts["kind"], facts)
        bd = facts.get("person.birth_date")
        birth = date.fromisoformat(bd) if bd else None
        rows = [self.item_row(party_id, i, parts["valid_from"]) for i in parts["items"]]
        rows += [
            ItemRow(0, uuid.uuid4(), party_id, "role", code, "", {}, parts["valid_from"], None, None)  # type: ignore[arg-type]
            for code in parts["roles"]
        ]
        created = await repo.insert_new_party(
            party_id, parts["kind"], display, key, birth, facts, parts["valid_from"], rows, who
        )
        PARTY_CHANGES.labels("party.created").inc()
        for row in rows:
            row.recorded_at, row.actor, row.source = created, who.actor, who.source
        party = PartyRow(party_id, parts["kind"], "active", 1, display, birth, created, created)
        shown = {"identifier", "contact_point", "role"}
        return PartyState(party=party, facts=facts, items=[r for r in rows if r.section in shown])

    @staticmethod
    def item_row(party_id: UUID, item: validation.NewItem, valid_from: date, item_id: UUID | None = None) -> ItemRow:
        return ItemRow(
            row_id=0,
            item_id=item_id or uuid.uuid4(),
            party_id=party_id,
            section=item.section,
            key1=item.key1,
            key2=item.key2,
            data=item.data,
            valid_from=item.valid_from or valid_from,
            valid_to=item.valid_to,
            recorded_at=None,  # type: ignore[arg-type]
            is_unique=item.is_unique,
        )

    async def add_member(
        self, repo: PartiesRepository, member: UUID, group_id: UUID, valid_from: date, who: Actor
    ) -> None:
        try:
            party = await repo.get_party(member, lock=True)
        except NotFound as exc:
            raise NotFound(f"group.member_party_ids: party {member} not found") from exc
        if party.kind == "group":
            raise InvalidArgument([validation_violation("group.member_party_ids", "a group cannot be a member")])
        if party.status == "erased":
            raise FailedPrecondition(f"group.member_party_ids: party {member} has been erased")
        row = RelationshipRow(0, uuid.uuid4(), "member_of", member, group_id, valid_from, None, None)  # type: ignore[arg-type]
        await repo.insert_relationship(row, who)
        # The member gained a relationship: a change of the member too, as with CreateRelationship.
        version = await repo.touch_party(member)
        await self.record(repo, member, "relationship.created", [f"relationships/{row.relationship_id}"], version, who)

    # -- read -------------------------------------------------------------------------------------

    async def get_party(self, req: pb.GetPartyRequest) -> pb.GetPartyResponse:
        v = Violations()
        pid = validation.party_id(req.party_id, v)
        day = validation.day(req.as_of, v, "as_of", default=today())
        known = None
        if req.HasField("known_at"):
            try:
                known = convert.from_ts(req.known_at)
            except (ValueError, OverflowError):
                v.add("known_at", "is not a valid timestamp")
        v.raise_if_any()
        assert pid is not None
        async with self.reader() as repo:
            try:
                return pb.GetPartyResponse(party=await self.party_message(repo, pid, day, known))
            except PartyMerged as merged:
                # A tombstone answers with its survivor, so other services' references keep working.
                party = await self.party_message(repo, merged.survivor, day, known)
                return pb.GetPartyResponse(party=party, merged_party_id=str(pid))

    # -- update -----------------------------------------------------------------------------------

    async def update_party(self, req: pb.UpdatePartyRequest) -> pb.UpdatePartyResponse:
        v = Violations()
        who = validation.context(req.context, v)
        pid = validation.party_id(req.party_id, v)
        valid_from = validation.day(req.valid_from, v, "valid_from", default=today()) or today()
        which = req.WhichOneof("profile")
        mask: set[str] | None = set(req.update_mask.paths) if req.update_mask.paths else None
        if which and mask is not None:
            unknown = mask - PROFILE_FIELDS[which]
            for path in sorted(unknown):
                v.add("update_mask", f"unknown path {path!r} for a {which}")
            mask -= unknown
        elif which:
            mask = _set_paths(getattr(req, which), PROFILE_FIELDS[which])
        profile = profile_of(req, v, today(), mask or set()) if which else None
        if which is None:
            v.add("profile", "one of person, organization or group is required")
        override = override_of(req.duplicate_override, v)
        v.raise_if_any()
        assert pid is not None and profile is not None

        cases: list[Any] = []
        async with self.tx() as repo:
            party = await self.lock_for_change(repo, pid, req.expected_version)
            if party.kind != profile.kind:
                raise InvalidArgument(
                    [validation_violation(which or "profile", f"the party is a {party.kind}; its kind is fixed")]
                )
            changed = [
                field
                for field, value in profile.facts.items()
                if await self.replace_fact(repo, pid, field, value, valid_from, who)
            ]
            if changed:
                now = await repo.now()
                current = await repo.facts_as_of(pid, today(), now)
                # The rule CreateParty applies: a change of the names leaves a name, today and from valid_from on.
                fields, path, reason = REQUIRED_NAME[party.kind]
                days = sorted({today(), valid_from}) if set(changed) & set(fields) else []
                for day in days:
                    facts = current if day == today() else await repo.facts_as_of(pid, day, now)
                    if not any(facts.get(f) for f in fields):
                        raise InvalidArgument([validation_violation(path, reason)])
                display, key = validation.display_and_search(party.kind, current)
                bd = current.get("person.birth_date")
                version = await repo.touch_party(
                    pid, display_name=display, search_key=key, birth_date=date.fromisoformat(bd) if bd else None
                )
                await self.record(repo, pid, "party.updated", changed, version, who)
                record = await self.current_record(repo, pid)
                if record is not None:
                    strong, possible = await self.duplicate_gate(repo, record, override, who)
                    cases = await self.settle_duplicates(repo, pid, strong, possible, override, who)
            return pb.UpdatePartyResponse(
                party=await self.party_message(repo, pid), duplicate_cases=[case_pb(c) for c in cases]
            )

    # -- search -----------------------------------------------------------------------------------

    async def search_parties(self, req: pb.SearchPartiesRequest) -> pb.SearchPartiesResponse:
        v = Violations()
        size = validation.page_size(req.page.page_size, v, "page.page_size", 20, 100)
        offset = _decode_token(req.page.page_token, v)
        query = ""
        if len(req.query) > 200:
            v.add("query", "at most 200 characters")
        else:
            try:
                query = names.search_key(validation.text.clean_text(req.query, max_length=200))
            except DomainValueError as exc:
                v.add("query", str(exc))
        if req.query.strip() and not query:
            v.add("query", "must contain letters")
        kind = convert.KIND_TO_STR.get(req.kind, "") if req.kind else ""
        if req.kind and not kind:
            v.add("kind", f"unknown value {req.kind}")
        role = validation.role_code(req.role_type, v, "role_type") if req.role_type else ""
        order = {0: "", 1: "relevance", 2: "display_name", 3: "created_at_desc"}.get(req.order_by)
        if order is None:
            v.add("order_by", f"unknown value {req.order_by}")
        lookups: list[tuple[str, str, str]] = []
        try:
            if req.phone:
                lookups.append(("phone", "contact", contacts.normalize_phone(req.phone)))
        except DomainValueError as exc:
            v.add("phone", str(exc))
        try:
            if req.email:
                lookups.append(("email", "contact", contacts.normalize_email(req.email)))
        except DomainValueError as exc:
            v.add("email", str(exc))
        if req.identifier_value or req.identifier_type:
            id_type = convert.enum_name(pb.IdentifierType, req.identifier_type, "IDENTIFIER_TYPE_")
            if not id_type:
                v.add("identifier_type", "is required with identifier_value")
            else:
                try:
                    value = identifiers.normalize_identifier(id_type, req.identifier_value)
                    lookups.append(("identifier", id_type, value))
                except DomainValueError as exc:
                    v.add("identifier_value", f"{id_type}: {exc}")
        v.raise_if_any()
        order = order or ("relevance" if query else "display_name")
        criterion = lookups[0][0] if lookups else ("name" if query else "list")
        started = time.perf_counter()
        async with self.tx() as repo:
            party_ids: list[UUID] | None = None
            for _name, key1, key2 in lookups:
                found = (
                    await repo.parties_by_contact(key2)
                    if key1 == "contact"
                    else await repo.parties_by_identifier(key1, key2)
                )
                party_ids = found if party_ids is None else [p for p in party_ids if p in set(found)]
            if party_ids == []:
                rows: list[Any] = []
            else:
                rows, _total = await repo.search(
                    name_key=query,
                    party_ids=party_ids,
                    kind=kind or None,
                    role_type=role or None,
                    order=order,
                    limit=size + 1,
                    offset=offset,
                )
            more = len(rows) > size
            rows = rows[:size]
            from services.parties.store.rows import PartyRow

            parties = [PartyRow(*r[:9]) for r in rows]
            extras = await repo.summaries_extras([p.party_id for p in parties])
        SEARCHES.labels(criterion).observe(time.perf_counter() - started)
        hits = [
            pb.SearchHit(party=convert.summary_pb(p, extras.get(p.party_id)), score=float(r[9]))
            for p, r in zip(parties, rows, strict=True)
        ]
        token = _encode_token(offset + size) if more else ""
        return pb.SearchPartiesResponse(hits=hits, page={"next_page_token": token, "total_size": -1})

    # -- card -------------------------------------------------------------------------------------

    async def get_party_card(self, req: pb.GetPartyCardRequest) -> pb.GetPartyCardResponse:
        v = Violations()
        pid = validation.party_id(req.party_id, v)
        day = validation.day(req.as_of, v, "as_of", default=today()) or today()
        v.raise_if_any()
        assert pid is not None
        async with self.tx() as repo:
            known = await repo.now()
            party = await self.party_message(repo, pid, day, known)
            rels = await repo.relationships_as_of(pid, day, known)
            others = await repo.get_parties([r.to_party if r.from_party == pid else r.from_party for r in rels])
            types = {row[0]: row for row in await repo.relationship_types()}
            consents = await repo.items_as_of(pid, day, known, ("consent", "ownership"))
            owned = [i for i in consents if i.section == "ownership"]
            vehicles = await repo.vehicles([UUID(i.key1) for i in owned])
            mileage = await repo.mileage(vehicles.keys())
        card = pb.PartyCard(party=party)
        for r in rels:
            outgoing = r.from_party == pid
            other = others[r.to_party if outgoing else r.from_party]
            t = types.get(r.rel_type)
            label = (t[1] if outgoing else t[2]) if t else r.rel_type
            card.relationships.append(
                pb.RelatedParty(
                    relationship=convert.relationship_pb(r), label=label, counterpart=convert.summary_pb(other)
                )
            )
        card.consents.extend(convert.consent_pb(i) for i in consents if i.section == "consent")
        for i in owned:
            vid = UUID(i.key1)
            card.vehicles.append(convert.ownership_pb(i, convert.vehicle_pb(vehicles[vid], mileage.get(vid, []))))
        return pb.GetPartyCardResponse(card=card)

    # -- history ----------------------------------------------------------------------------------

    async def get_field_history(self, req: pb.GetFieldHistoryRequest) -> pb.GetFieldHistoryResponse:
        v = Violations()
        pid = validation.party_id(req.party_id, v)
        field = req.field.strip()
        kind_fields = {f"{k}.{f}" for k, fs in PROFILE_FIELDS.items() for f in fs} | {
            f"preferences.{p}" for p in validation.PREFERENCE_PATHS
        }
        collection, _, rest = field.partition("/")
        item_id: UUID | None = None
        if not field:
            v.add("field", "is required")
        elif len(field) > 200:
            v.add("field", "at most 200 characters")
        elif collection in ("identifiers", "contact_points", "roles", "relationships"):
            item_id = validation.party_id(rest, v, "field", required=True)
        elif collection == "consents":
            if rest.count("/") != 1:
                v.add("field", "consents are addressed as consents/<CHANNEL>/<PURPOSE>")
        elif field not in kind_fields and not (
            field.startswith("attributes.") and field.removeprefix("attributes.").replace("_", "a").isalnum()
        ):
            v.add("field", f"unknown field {field!r}")
        v.raise_if_any()
        assert pid is not None
        async with self.tx() as repo:
            await repo.get_party(pid)
            if collection == "relationships" and item_id:
                rows = await repo.relationship_history(item_id)
                if rows and pid not in (rows[0].from_party, rows[0].to_party):
                    rows = []
                entries = [convert.relationship_history_pb(r) for r in rows]
            elif item_id:
                items = [i for i in await repo.item_history(item_id) if i.party_id == pid]
                entries = [convert.item_history_pb(i) for i in items]
            elif collection == "consents":
                entries = [convert.item_history_pb(i) for i in await repo.item_history_by_key(pid, "consent", rest)]
            else:
                entries = [convert.fact_history_pb(r) for r in await repo.fact_history(pid, field)]
        if not entries and (item_id or collection == "consents"):
            raise NotFound(f"{field} has no history for party {pid}")
        return pb.GetFieldHistoryResponse(field=field, entries=entries)

    # -- change feed ------------------------------------------------------------------------------

    async def list_changes(self, req: pb.ListChangesRequest) -> pb.ListChangesResponse:
        v = Violations()
        if req.after_sequence < 0:
            v.add("after_sequence", "cannot be negative")
        limit = validation.page_size(req.limit, v, "limit", 100, 1000)
        validation.check_count(req.party_ids, v, "party_ids", 100)
        ids = [validation.party_id(p, v, f"party_ids[{i}]") for i, p in enumerate(req.party_ids)]
        v.raise_if_any()
        async with self.tx() as repo:
            await repo.sequence_settled_changes()
        async with self.tx() as repo:
            rows = await repo.changes_after(req.after_sequence, limit, [i for i in ids if i] or None)
        changes = [
            pb.Change(
                sequence=seq,
                party_id=str(pid),
                change_type=ctype,
                fields=list(fields),
                occurred_at=convert.ts_pb(at),
                actor=actor,
                source=source,
                party_version=version,
            )
            for seq, pid, ctype, fields, at, actor, source, version in rows
        ]
        last = changes[-1].sequence if changes else req.after_sequence
        return pb.ListChangesResponse(changes=changes, next_after_sequence=last)

    async def ensure_active(self, repo: PartiesRepository, party_id: UUID, path: str) -> Any:
        try:
            party = await repo.get_party(party_id)
        except NotFound as exc:
            raise NotFound(f"{path}: party {party_id} not found") from exc
        if party.status == "erased":
            raise FailedPrecondition(f"{path}: party {party_id} has been erased")
        if party.status == "merged":
            raise FailedPrecondition(f"{path}: party {party_id} was merged into another party")
        return party


def validation_violation(field: str, description: str) -> Any:
    from crm_runtime.errors import FieldViolation

    return FieldViolation(field, description)


def _set_paths(profile: Any, allowed: set[str]) -> set[str]:
    """Without a mask, an update touches the fields the caller set (non-empty)."""
    out: set[str] = set()
    for path in allowed:
        obj = profile
        for part in path.split("."):
            obj = getattr(obj, part)
        if hasattr(obj, "ListFields"):
            if obj.ListFields():
                out.add(path)
        elif obj:
            out.add(path)
    return out


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode_token(token: str, v: Violations) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token.encode()).decode()
        if not raw.startswith("o:"):
            raise ValueError(raw)
        offset = int(raw[2:])
        if offset < 0 or offset > 100_000:
            raise ValueError(raw)
        return offset
    except (ValueError, UnicodeDecodeError):
        v.add("page.page_token", "is not a token this service issued")
        return 0
