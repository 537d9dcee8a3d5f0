"""Bitemporal planning: how a new fact valid over [from, to) replaces what is currently known.

Nothing is overwritten: every current version that overlaps the new range is superseded (it stays in
history, stamped with when it stopped being current knowledge) and the parts of it outside the new range
are recorded again as new versions. Kept pure so that the rule is tested without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

P = TypeVar("P")


@dataclass(frozen=True)
class Version(Generic[P]):
    """One current-knowledge version of a fact or item."""

    row_id: int
    valid_from: date
    valid_to: date | None
    payload: P


@dataclass(frozen=True)
class Span(Generic[P]):
    valid_from: date
    valid_to: date | None
    payload: P


@dataclass(frozen=True)
class Plan(Generic[P]):
    supersede: list[int]
    insert: list[Span[P]]


def overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (b_to is None or a_from < b_to) and (a_to is None or b_from < a_to)


def plan_replace(current: list[Version[P]], valid_from: date, valid_to: date | None, new_payload: P | None) -> Plan[P]:
    """The new payload holds over [valid_from, valid_to); None means "no value" over that range."""
    supersede: list[int] = []
    insert: list[Span[P]] = []
    for v in current:
        if not overlaps(v.valid_from, v.valid_to, valid_from, valid_to):
            continue
        supersede.append(v.row_id)
        if v.valid_from < valid_from:
            insert.append(Span(v.valid_from, valid_from, v.payload))
        if valid_to is not None and (v.valid_to is None or v.valid_to > valid_to):
            insert.append(Span(valid_to, v.valid_to, v.payload))
    if new_payload is not None:
        insert.append(Span(valid_from, valid_to, new_payload))
    return Plan(supersede=supersede, insert=insert)


def plan_end(current: Version[P], valid_to: date) -> Plan[P]:
    """Ends an item on valid_to (exclusive). The caller checks valid_to is after valid_from."""
    return Plan(supersede=[current.row_id], insert=[Span(current.valid_from, valid_to, current.payload)])


def valid_at(valid_from: date, valid_to: date | None, day: date) -> bool:
    return valid_from <= day and (valid_to is None or day < valid_to)
