"""Building blocks of the REST models: strict scalar types, the contract's enums and the shared
validity/record shapes.

Request models forbid unknown fields and take scalars strictly ("yes" is not a boolean, "12" is not a
number), so a client's mistake is reported instead of silently reinterpreted. Response models ignore
fields they do not declare, so that the contract can grow without breaking the gateway."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict

from crm.parties.v1 import parties_pb2 as pb
from gateway.convert import api_enum

Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
Int = Annotated[int, Strict()]
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    """FastAPI validates parsed JSON in Python mode, where pydantic would also take timestamps."""
    if isinstance(value, datetime) or not isinstance(value, str | date):
        raise ValueError("must be a date as YYYY-MM-DD")
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


#: A calendar date, "YYYY-MM-DD".
Day = Annotated[date, BeforeValidator(_iso_day)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


def only_one(model: BaseModel, names: Iterable[str], what: str) -> None:
    """For oneof groups of the contract: at most one member may be given."""
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) > 1:
        raise ValueError(f"give only one {what}, not {' and '.join(given)}")


def leaf_paths(model_type: type[BaseModel], prefix: str = "") -> list[str]:
    """Every scalar path of a model class ("name.last_name", ...): what a null for it clears."""
    out: list[str] = []
    for name, field in model_type.model_fields.items():
        sub = _model_class(field.annotation)
        out.extend(leaf_paths(sub, f"{prefix}{name}.") if sub else [f"{prefix}{name}"])
    return out


def set_paths(model: BaseModel, prefix: str = "") -> list[str]:
    """The field-mask paths of a PATCH body: the fields the client sent, a null meaning "clear"."""
    out: list[str] = []
    for name in sorted(model.model_fields_set):
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out.extend(set_paths(value, f"{prefix}{name}."))
            continue
        sub = _model_class(type(model).model_fields[name].annotation)
        out.extend(leaf_paths(sub, f"{prefix}{name}.") if sub and value is None else [f"{prefix}{name}"])
    return out


def _model_class(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


PartyKind = api_enum(pb.PartyKind)
PartyStatus = api_enum(pb.PartyStatus)
Gender = api_enum(pb.Gender)
IdentifierType = api_enum(pb.IdentifierType)
ContactPointType = api_enum(pb.ContactPointType)
ContactPurpose = api_enum(pb.ContactPurpose)
Messenger = api_enum(pb.Messenger)
AttributeValueType = api_enum(pb.AttributeValueType)
AttributeStatus = api_enum(pb.AttributeStatus)
Channel = api_enum(pb.Channel)
ConsentPurpose = api_enum(pb.ConsentPurpose)
ConsentStatus = api_enum(pb.ConsentStatus)
OwnershipType = api_enum(pb.OwnershipType)
SearchOrder = api_enum(pb.SearchOrder)
ErasureState = api_enum(pb.ErasureState)
SurvivorshipRule = api_enum(pb.SurvivorshipRule)
MergeSide = api_enum(pb.MergeSide)
MergeState = api_enum(pb.MergeState)
DuplicateDecision = api_enum(pb.DuplicateDecision)
DuplicateCaseStatus = api_enum(pb.DuplicateCaseStatus)
DuplicateCaseResolution = api_enum(pb.DuplicateCaseResolution)


class Validity(Output):
    """Business time: valid_from inclusive, valid_to exclusive (null: open-ended)."""

    valid_from: date | None = None
    valid_to: date | None = None


class RecordInfo(Output):
    """Record time: when the system learnt the fact, from whom and through which system."""

    recorded_at: datetime | None = None
    actor: str = ""
    source: str = ""
