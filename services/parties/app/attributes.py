"""The run-time catalogues (attributes, role types, relationship types) and attribute values."""

from __future__ import annotations

import json
import re
from typing import Any

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import NotFound, Violations
from services.parties import convert, validation
from services.parties.app.base import AppBase, today
from services.parties.domain import attributes as attr_rules
from services.parties.domain.errors import DomainValueError

INVALID = object()
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


def rules_of(row: Any) -> attr_rules.AttributeRules:
    validation_json = json.loads(row[4]) if isinstance(row[4], str) else (row[4] or {})
    return attr_rules.AttributeRules(
        value_type=row[2],
        max_length=validation_json.get("max_length", 0),
        pattern=validation_json.get("pattern", ""),
        min=validation_json.get("min", ""),
        max=validation_json.get("max", ""),
        allowed_values=tuple(validation_json.get("allowed_values", ())),
    )


def coerce_attribute(row: Any, value: pb.AttributeValue, kind: str, v: Violations, path: str) -> Any:
    """Checks one value against its definition; returns the storable value, None to clear, or INVALID."""
    if row is None:
        v.add(f"{path}.code", f"unknown attribute {value.code!r}")
        return INVALID
    code, _name, value_type, applies_to, _validation, status, *_ = row
    if status != "active":
        v.add(f"{path}.code", f"attribute {code!r} is retired and accepts no new values")
        return INVALID
    if applies_to and kind not in applies_to:
        v.add(f"{path}.code", f"attribute {code!r} does not apply to a {kind}")
        return INVALID
    which = value.WhichOneof("value")
    if which is None:
        return None
    expected = {
        "TEXT": "text_value",
        "NUMBER": "number_value",
        "DECIMAL": "decimal_value",
        "DATE": "date_value",
        "BOOL": "bool_value",
        "ENUM": "enum_value",
    }[value_type]
    if which != expected:
        v.add(f"{path}.{which}", f"attribute {code!r} expects a {value_type} value ({expected})")
        return INVALID
    raw: Any = getattr(value, which)
    if which == "date_value":
        raw = validation.day(value.date_value, v, f"{path}.date_value")
        if raw is None:
            return INVALID
    try:
        return attr_rules.coerce_value(rules_of(row), raw)
    except DomainValueError as exc:
        v.add(f"{path}.{which}", str(exc))
        return INVALID


class AttributesMixin(AppBase):
    async def define_attribute(self, req: pb.DefineAttributeRequest) -> pb.DefineAttributeResponse:
        v = Violations()
        who = validation.context(req.context, v)
        d = req.definition
        value_type = convert.enum_name(pb.AttributeValueType, d.value_type, "ATTRIBUTE_VALUE_TYPE_")
        applies_to = [convert.KIND_TO_STR.get(k, "?") for k in d.applies_to]
        rules = attr_rules.AttributeRules(
            value_type=value_type,
            max_length=d.validation.max_length,
            pattern=d.validation.pattern,
            min=d.validation.min,
            max=d.validation.max,
            allowed_values=tuple(d.validation.allowed_values),
        )
        for field, reason in attr_rules.validate_definition(d.code, d.name, rules, applies_to):
            v.add(f"definition.{field}", reason)
        v.raise_if_any()
        stored = {
            k: val
            for k, val in {
                "max_length": rules.max_length,
                "pattern": rules.pattern,
                "min": rules.min,
                "max": rules.max,
                "allowed_values": list(rules.allowed_values),
            }.items()
            if val
        }
        async with self.tx() as repo:
            row = await repo.insert_attribute_definition(
                {
                    "code": d.code,
                    "name": d.name.strip(),
                    "value_type": value_type,
                    "applies_to": sorted(set(applies_to)),
                    "validation": json.dumps(stored, ensure_ascii=False),
                    "actor": who.actor,
                }
            )
        return pb.DefineAttributeResponse(definition=convert.attribute_definition_pb(row))

    async def retire_attribute(self, req: pb.RetireAttributeRequest) -> pb.RetireAttributeResponse:
        v = Violations()
        validation.context(req.context, v)
        if not _CODE.match(req.code):
            v.add("code", "must be an attribute code (lower-case letters, digits, underscores)")
        v.raise_if_any()
        async with self.tx() as repo:
            row = await repo.retire_attribute_definition(req.code)
        if row is None:
            raise NotFound(f"attribute {req.code!r} not found")
        return pb.RetireAttributeResponse(definition=convert.attribute_definition_pb(row))

    async def list_attribute_definitions(
        self, req: pb.ListAttributeDefinitionsRequest
    ) -> pb.ListAttributeDefinitionsResponse:
        async with self.tx() as repo:
            rows = await repo.attribute_definitions(req.include_retired)
        return pb.ListAttributeDefinitionsResponse(definitions=[convert.attribute_definition_pb(r) for r in rows])

    async def define_role_type(self, req: pb.DefineRoleTypeRequest) -> pb.DefineRoleTypeResponse:
        v = Violations()
        validation.context(req.context, v)
        rt = req.role_type
        if not _CODE.match(rt.code):
            v.add("role_type.code", "must be 2-63 lower-case letters, digits and underscores, starting with a letter")
        name = _name(rt.name, v, "role_type.name")
        kinds = _kinds(rt.applies_to, v, "role_type.applies_to")
        v.raise_if_any()
        async with self.tx() as repo:
            await repo.insert_role_type(rt.code, name, kinds)
            row = await repo.role_type(rt.code)
        return pb.DefineRoleTypeResponse(role_type=convert.role_type_pb(row))

    async def list_role_types(self, req: pb.ListRoleTypesRequest) -> pb.ListRoleTypesResponse:
        async with self.tx() as repo:
            rows = await repo.role_types()
        return pb.ListRoleTypesResponse(role_types=[convert.role_type_pb(r) for r in rows])

    async def define_relationship_type(
        self, req: pb.DefineRelationshipTypeRequest
    ) -> pb.DefineRelationshipTypeResponse:
        v = Violations()
        validation.context(req.context, v)
        rt = req.relationship_type
        if not _CODE.match(rt.code):
            v.add(
                "relationship_type.code",
                "must be 2-63 lower-case letters, digits and underscores, starting with a letter",
            )
        name = _name(rt.name, v, "relationship_type.name")
        inverse = _name(rt.inverse_name or rt.name, v, "relationship_type.inverse_name")
        if rt.symmetric and rt.inverse_name and rt.inverse_name != rt.name:
            v.add("relationship_type.inverse_name", "a symmetric type reads the same from both ends")
        from_kinds = _kinds(rt.from_kinds, v, "relationship_type.from_kinds")
        to_kinds = _kinds(rt.to_kinds, v, "relationship_type.to_kinds")
        if rt.symmetric and (sorted(from_kinds) != sorted(to_kinds) or list(rt.from_roles) != list(rt.to_roles)):
            v.add("relationship_type.to_kinds", "a symmetric type needs the same kinds and roles at both ends")
        async with self.tx() as repo:
            known_roles = {r[0] for r in await repo.role_types()}
            for end in ("from_roles", "to_roles"):
                for i, code in enumerate(getattr(rt, end)):
                    if code not in known_roles:
                        v.add(f"relationship_type.{end}[{i}]", f"unknown role type {code!r}")
            v.raise_if_any()
            await repo.insert_relationship_type(
                {
                    "code": rt.code,
                    "name": name,
                    "inverse_name": inverse,
                    "symmetric": rt.symmetric,
                    "from_kinds": from_kinds,
                    "to_kinds": to_kinds,
                    "from_roles": list(rt.from_roles),
                    "to_roles": list(rt.to_roles),
                }
            )
            row = await repo.relationship_type(rt.code)
        return pb.DefineRelationshipTypeResponse(relationship_type=convert.relationship_type_pb(row))

    async def list_relationship_types(self, req: pb.ListRelationshipTypesRequest) -> pb.ListRelationshipTypesResponse:
        async with self.tx() as repo:
            rows = await repo.relationship_types()
        return pb.ListRelationshipTypesResponse(relationship_types=[convert.relationship_type_pb(r) for r in rows])

    async def set_attribute_values(self, req: pb.SetAttributeValuesRequest) -> pb.SetAttributeValuesResponse:
        v = Violations()
        who = validation.context(req.context, v)
        pid = validation.party_id(req.party_id, v)
        valid_from = validation.day(req.valid_from, v, "valid_from", default=today()) or today()
        if not req.values:
            v.add("values", "at least one value is required")
        validation.check_count(req.values, v, "values")
        v.raise_if_any()
        assert pid is not None
        async with self.tx() as repo:
            party = await self.lock_for_change(repo, pid, req.expected_version)
            defs = await repo.attribute_definitions_by_code([x.code for x in req.values])
            values: dict[str, Any] = {}
            for i, value in enumerate(req.values):
                if value.code in values:
                    v.add(f"values[{i}].code", "is given twice")
                    continue
                coerced = coerce_attribute(defs.get(value.code), value, party.kind, v, f"values[{i}]")
                if coerced is not INVALID:
                    values[value.code] = coerced
            v.raise_if_any()
            changed = [
                f"attributes.{code}"
                for code, val in values.items()
                if await self.replace_fact(repo, pid, f"attributes.{code}", val, valid_from, who)
            ]
            version = party.version
            if changed:
                version = await repo.touch_party(pid)
                await self.record(repo, pid, "attributes.set", changed, version, who)
            facts = await repo.facts_as_of(pid, max(valid_from, today()), await repo.now())
        out = [convert.attribute_value_pb(code, facts.get(f"attributes.{code}"), defs[code][2]) for code in values]
        return pb.SetAttributeValuesResponse(values=out, party_version=version)


def _name(value: str, v: Violations, path: str) -> str:
    name = value.strip()
    if not name:
        v.add(path, "is required")
    elif len(name) > 200 or not name.isprintable():
        v.add(path, "at most 200 printable characters")
    return name


def _kinds(values: Any, v: Violations, path: str) -> list[str]:
    out = []
    for i, k in enumerate(values):
        name = convert.KIND_TO_STR.get(k)
        if name is None:
            v.add(f"{path}[{i}]", f"unknown party kind {k}")
        else:
            out.append(name)
    return sorted(set(out))
