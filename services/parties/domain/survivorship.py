"""Survivorship: which of two duplicates' values a merge keeps, field by field, and which of the merged
party's items move to the survivor. Pure rules, so the data steward's preview and the merge itself
decide the same way, and the rules are tested without a database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Side = Literal["survivor", "merged"]
Rule = Literal["most_recent", "most_trusted_source", "survivor"]


@dataclass(frozen=True)
class FieldValue:
    """A field's current value on one side: what it is today, when it was recorded, by which source."""

    value: Any
    recorded_at: datetime
    source: str


@dataclass(frozen=True)
class FieldDecision:
    field: str
    taken_from: Side
    #: "manual", the rule's name, or "only_value" when one side had no value.
    rule: str


def decide_fields(
    survivor: Mapping[str, FieldValue],
    merged: Mapping[str, FieldValue],
    rule: Rule = "most_recent",
    choices: Mapping[str, Side] | None = None,
    trusted_sources: Sequence[str] = (),
) -> list[FieldDecision]:
    """A decision for every field whose values differ (equal values need none), sorted by field."""
    choices = choices or {}
    rank = {source: i for i, source in enumerate(trusted_sources)}
    decisions = []
    for field in sorted(survivor.keys() | merged.keys()):
        s, m = survivor.get(field), merged.get(field)
        if s is not None and m is not None and s.value == m.value:
            continue
        if field in choices:
            decisions.append(FieldDecision(field, choices[field], "manual"))
        elif m is None:
            decisions.append(FieldDecision(field, "survivor", "only_value"))
        elif s is None:
            decisions.append(FieldDecision(field, "merged", "only_value"))
        elif rule == "survivor":
            decisions.append(FieldDecision(field, "survivor", rule))
        elif rule == "most_trusted_source" and rank.get(s.source, len(rank)) != rank.get(m.source, len(rank)):
            better = rank.get(m.source, len(rank)) < rank.get(s.source, len(rank))
            decisions.append(FieldDecision(field, "merged" if better else "survivor", rule))
        else:
            # Most recent; also the tie-break of equally trusted sources. A tie in time keeps the survivor's.
            decisions.append(
                FieldDecision(field, "merged" if m.recorded_at > s.recorded_at else "survivor", "most_recent")
            )
    return decisions


@dataclass(frozen=True)
class ItemKey:
    """What makes two items "the same" for a merge: the same identifier, phone, role or vehicle; for a
    consent, the same channel and purpose (whatever the status: the newer decision is the subject's will)."""

    section: str
    key1: str
    key2: str

    @property
    def identity(self) -> tuple[str, ...]:
        return (self.section, self.key1) if self.section == "consent" else (self.section, self.key1, self.key2)


@dataclass(frozen=True)
class ItemRef:
    ref: Any
    key: ItemKey
    #: Valid today and on (not ended): only open items can duplicate each other.
    is_open: bool
    recorded_at: datetime


#: Sections whose items move to the survivor in a merge.
MOVABLE_SECTIONS = ("identifier", "contact_point", "role", "consent", "ownership")


def plan_item_moves(survivor: Iterable[ItemRef], merged: Iterable[ItemRef]) -> tuple[list[Any], list[Any]]:
    """Which of the merged party's items move to the survivor, and which of the survivor's own open items
    give way. Closed items are history and always move, so the survivor's card shows the past of both.
    An open item the survivor already holds stays behind, except a consent the merged party gave more
    recently: the newer decision replaces the survivor's."""
    held = {r.key.identity: r for r in survivor if r.is_open}
    move, retire = [], []
    for item in merged:
        if item.key.section not in MOVABLE_SECTIONS:
            continue
        twin = held.get(item.key.identity) if item.is_open else None
        if twin is None:
            move.append(item.ref)
        elif item.key.section == "consent" and item.recorded_at > twin.recorded_at and item.key != twin.key:
            move.append(item.ref)
            retire.append(twin.ref)
    return move, retire
