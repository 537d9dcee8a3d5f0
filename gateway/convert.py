"""Generic translation between protobuf messages and the JSON shapes of the REST API.

The REST models mirror the contract's field names, so one descriptor-driven walker converts every
message instead of hundreds of hand-written lines that would drift from the .proto. The JSON
conventions live here in one place: enums as lower-case names without their prefix ("inn",
"marketing"), `crm.common.v1.Date` as a `date` ("YYYY-MM-DD"), timestamps as UTC datetimes, and
unset dates, enums, messages and oneof members as None."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any

from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

DATE = "crm.common.v1.Date"
TIMESTAMP = "google.protobuf.Timestamp"
DURATION = "google.protobuf.Duration"
FIELD_MASK = "google.protobuf.FieldMask"
ANY = "google.protobuf.Any"


def enum_prefix(enum: EnumDescriptor) -> str:
    """PartyKind -> "PARTY_KIND_": the buf-style prefix every value of the enum carries."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def enum_to_str(enum: EnumDescriptor, number: int) -> str | None:
    value = enum.values_by_number.get(number)
    if value is None or value.number == 0:
        return None
    return value.name.removeprefix(enum_prefix(enum)).lower()


def enum_from_str(enum: EnumDescriptor, name: str) -> int:
    value = enum.values_by_name.get(enum_prefix(enum) + str(name).upper())
    if value is None:
        raise ValueError(f"{name!r} is not a value of {enum.name}")
    return value.number


def api_enum(enum_type: Any) -> type[StrEnum]:
    """A str enum for the pydantic models, built from the contract so the two cannot disagree."""
    descriptor: EnumDescriptor = enum_type.DESCRIPTOR
    members = [enum_to_str(descriptor, v.number) for v in descriptor.values if v.number != 0]
    return StrEnum(descriptor.name, {m: m for m in members if m}, module=__name__)  # type: ignore[return-value]


# -- message -> python data ----------------------------------------------------------------------


def to_data(message: Message) -> dict[str, Any]:
    """Every field of message as plain Python values, ready for a response model."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None and message.WhichOneof(oneof.name) != field.name:
            out[field.name] = None
            continue
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {key: _value_to_data(value_field, item) for key, item in value.items()}
        elif field.is_repeated:
            out[field.name] = [_value_to_data(field, item) for item in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE and not message.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _value_to_data(field, value)
    return out


def _value_to_data(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_to_str(field.enum_type, value)
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        return value
    name = field.message_type.full_name
    if name == DATE:
        return date(value.year, value.month, value.day) if value.year else None
    if name == TIMESTAMP:
        return value.ToDatetime(tzinfo=UTC)
    if name == DURATION:
        return value.ToTimedelta().total_seconds()
    if name == FIELD_MASK:
        return list(value.paths)
    if name == ANY:
        return None  # opaque payloads of other services are not part of this API
    return to_data(value)


# -- python data -> message ----------------------------------------------------------------------


def fill(message: Message, data: Mapping[str, Any]) -> Message:
    """Sets message's fields from data (a model dump); None means "leave unset". Returns message."""
    descriptor = message.DESCRIPTOR
    for key, value in data.items():
        if value is None:
            continue
        field = descriptor.fields_by_name.get(key)
        if field is None:
            raise KeyError(f"{descriptor.full_name} has no field {key!r}")
        if field.is_repeated:
            target = getattr(message, key)
            for item in value:
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    _fill_message(target.add(), field, item)
                else:
                    target.append(_scalar(field, item))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            sub = getattr(message, key)
            sub.SetInParent()
            _fill_message(sub, field, value)
        else:
            setattr(message, key, _scalar(field, value))
    return message


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_from_str(field.enum_type, value.value if isinstance(value, Enum) else value)
    return value


def _fill_message(target: Any, field: FieldDescriptor, value: Any) -> None:
    name = field.message_type.full_name
    if name == DATE:
        target.year, target.month, target.day = value.year, value.month, value.day
    elif name == TIMESTAMP:
        target.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    elif name == DURATION:
        target.FromTimedelta(value if isinstance(value, timedelta) else timedelta(seconds=value))
    elif name == FIELD_MASK:
        target.paths.extend(value)
    else:
        fill(target, value)


def date_pb(value: date | None, message: Any) -> Any:
    """Copies a date into a `crm.common.v1.Date` field (left unset for None)."""
    if value is not None:
        message.year, message.month, message.day = value.year, value.month, value.day
    return message


def ts_pb(value: datetime | None, message: Any) -> Any:
    if value is not None:
        message.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return message
