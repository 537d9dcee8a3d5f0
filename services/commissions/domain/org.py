"""The sales organisation, effective-dated: titles, positions, the manager hierarchy, participants and
their assignments to positions.

Participants (people, agents, partner firms) are distinct from positions (the seats credits and plans
attach to). A position's title and manager change by adding a new `PositionVersion` from a date; a
transfer is a new `Assignment`, never an edit. Every range is half-open ``[valid_from, valid_to)``
with ``valid_to=None`` meaning open-ended. Roll-ups follow the hierarchy *in effect on the credit's
date*, so the same position can roll up to different managers in one period.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cached_property

from services.commissions.domain.errors import OrganisationValidationError, Violation
from services.commissions.domain.periods import covers, overlaps


class ParticipantRole(StrEnum):
    EMPLOYEE = "EMPLOYEE"
    AGENT = "AGENT"
    PARTNER = "PARTNER"


@dataclass(frozen=True, slots=True)
class Title:
    title_id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class PositionVersion:
    """A position's title and manager position from ``valid_from`` until ``valid_to``."""

    position_id: str
    title_id: str
    manager_id: str | None
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class Participant:
    participant_id: str
    name: str = ""
    role: ParticipantRole = ParticipantRole.EMPLOYEE


@dataclass(frozen=True, slots=True)
class Assignment:
    """A participant holding a position for a date range. A position has at most one holder on a day;
    a participant may hold several positions at once (an agent in two networks)."""

    participant_id: str
    position_id: str
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True)
class Organisation:
    """Everything about who sits where, as plain effective-dated rows, with as-of lookups."""

    titles: tuple[Title, ...] = ()
    positions: tuple[PositionVersion, ...] = ()
    participants: tuple[Participant, ...] = ()
    assignments: tuple[Assignment, ...] = ()

    @cached_property
    def position_ids(self) -> frozenset[str]:
        return frozenset(v.position_id for v in self.positions)

    @cached_property
    def participant_ids(self) -> frozenset[str]:
        return frozenset(p.participant_id for p in self.participants)

    @cached_property
    def _versions(self) -> dict[str, tuple[list[date], list[PositionVersion]]]:
        by: dict[str, list[PositionVersion]] = defaultdict(list)
        for v in self.positions:
            by[v.position_id].append(v)
        out = {}
        for pos, vs in by.items():
            vs.sort(key=lambda v: v.valid_from)
            out[pos] = ([v.valid_from for v in vs], vs)
        return out

    @cached_property
    def _holders(self) -> dict[str, tuple[list[date], list[Assignment]]]:
        by: dict[str, list[Assignment]] = defaultdict(list)
        for a in self.assignments:
            by[a.position_id].append(a)
        out = {}
        for pos, items in by.items():
            items.sort(key=lambda a: a.valid_from)
            out[pos] = ([a.valid_from for a in items], items)
        return out

    @cached_property
    def assignments_by_participant(self) -> dict[str, list[Assignment]]:
        by: dict[str, list[Assignment]] = defaultdict(list)
        for a in self.assignments:
            by[a.participant_id].append(a)
        for items in by.values():
            items.sort(key=lambda a: (a.valid_from, a.position_id))
        return dict(by)

    def version_as_of(self, position_id: str, day: date) -> PositionVersion | None:
        entry = self._versions.get(position_id)
        if not entry:
            return None
        i = bisect_right(entry[0], day) - 1
        if i < 0:
            return None
        v = entry[1][i]
        return v if covers(v.valid_from, v.valid_to, day) else None

    def manager_as_of(self, position_id: str, day: date) -> str | None:
        v = self.version_as_of(position_id, day)
        return v.manager_id if v else None

    def title_as_of(self, position_id: str, day: date) -> str | None:
        v = self.version_as_of(position_id, day)
        return v.title_id if v else None

    def holder_as_of(self, position_id: str, day: date) -> str | None:
        """The participant assigned to the position on ``day`` (None when vacant)."""
        entry = self._holders.get(position_id)
        if not entry:
            return None
        i = bisect_right(entry[0], day) - 1
        if i < 0:
            return None
        a = entry[1][i]
        return a.participant_id if covers(a.valid_from, a.valid_to, day) else None

    def chain(self, position_id: str, day: date, levels: int | None = None) -> list[str]:
        """The managers above a position on ``day``, nearest first (validated acyclic)."""
        out: list[str] = []
        pos = position_id
        while levels is None or len(out) < levels:
            mgr = self.manager_as_of(pos, day)
            if mgr is None:
                break
            out.append(mgr)
            pos = mgr
        return out

    def manages(self, manager_id: str, participant_id: str, start: date, end: date) -> bool:
        """Whether, on some day of ``[start, end)``, ``manager_id`` held a position above (at any depth)
        a position ``participant_id`` held that day: who may see a participant's figures as a manager."""
        if manager_id == participant_id:
            return False
        held = [
            a
            for a in self.assignments_by_participant.get(participant_id, ())
            if overlaps(a.valid_from, a.valid_to, start, end)
        ]
        day = start
        while held and day < end:
            for a in held:
                if covers(a.valid_from, a.valid_to, day) and any(
                    self.holder_as_of(pos, day) == manager_id for pos in self.chain(a.position_id, day)
                ):
                    return True
            day += timedelta(days=1)
        return False

    def subordinates_ever(self, position_ids: Iterable[str]) -> set[str]:
        """The given positions and everything below them under any version of the hierarchy."""
        children: dict[str, set[str]] = defaultdict(set)
        for v in self.positions:
            if v.manager_id is not None:
                children[v.manager_id].add(v.position_id)
        seen = set(position_ids)
        stack = list(seen)
        while stack:
            for c in children.get(stack.pop(), ()):
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return seen

    def managers_ever(self, position_ids: Iterable[str]) -> set[str]:
        """The given positions and everything above them under any version of the hierarchy."""
        parents: dict[str, set[str]] = defaultdict(set)
        for v in self.positions:
            if v.manager_id is not None:
                parents[v.position_id].add(v.manager_id)
        seen = set(position_ids)
        stack = list(seen)
        while stack:
            for p in parents.get(stack.pop(), ()):
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        return seen


def _find_cycle(managers: dict[str, str | None]) -> list[str] | None:
    """A cycle in a manager map, if any (iterative three-colour walk)."""
    state: dict[str, int] = {}
    for start in managers:
        if state.get(start):
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and not state.get(node):
            state[node] = 1
            path.append(node)
            node = managers.get(node)
        if node is not None and state.get(node) == 1:
            return [*path[path.index(node) :], node]
        for p in path:
            state[p] = 2
    return None


def hierarchy_cycles(org: Organisation) -> list[tuple[date, list[str]]]:
    """Every date on which the manager hierarchy has a cycle, with the cycle.

    The union of all versions' edges is checked first; only positions on a cycle of that union can be
    on a cycle on some date, so the per-date check is limited to them (cheap on 100k positions)."""
    union: dict[str, set[str]] = defaultdict(set)
    for v in org.positions:
        if v.manager_id is not None:
            union[v.position_id].add(v.manager_id)
    # Positions that can reach themselves in the union graph (Tarjan-free: repeated leaf pruning).
    nodes = set(union)
    for targets in union.values():
        nodes |= targets
    reverse: dict[str, set[str]] = defaultdict(set)
    for src, targets in union.items():
        for t in targets:
            reverse[t].add(src)
    outdeg = {n: len(union.get(n, ())) for n in nodes}
    stack = [n for n, d in outdeg.items() if d == 0]
    removed: set[str] = set()
    while stack:
        n = stack.pop()
        removed.add(n)
        for src in reverse.get(n, ()):
            outdeg[src] -= 1
            if outdeg[src] == 0:
                stack.append(src)
    suspects = nodes - removed
    if not suspects:
        return []
    dates = sorted({v.valid_from for v in org.positions if v.position_id in suspects})
    found: list[tuple[date, list[str]]] = []
    seen_cycles: set[frozenset[str]] = set()
    for day in dates:
        managers = {p: org.manager_as_of(p, day) for p in sorted(suspects)}
        cycle = _find_cycle(managers)
        if cycle and frozenset(cycle) not in seen_cycles:
            seen_cycles.add(frozenset(cycle))
            found.append((day, cycle))
    return found


def _overlapping(rows: list[tuple[date, date | None]]) -> bool:
    rows = sorted(rows, key=lambda r: r[0])
    return any(overlaps(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(rows))


def validate_organisation(org: Organisation) -> list[Violation]:
    """Every inconsistency: unknown ids, inverted or overlapping ranges, hierarchy cycles."""
    out: list[Violation] = []
    titles = {t.title_id for t in org.titles}
    positions = org.position_ids
    participants = org.participant_ids
    versions: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    for i, v in enumerate(org.positions):
        path = f"positions[{i}]"
        if v.title_id not in titles:
            out.append(Violation(f"{path}.title_id", f"unknown title {v.title_id!r}"))
        if v.manager_id is not None and v.manager_id not in positions:
            out.append(Violation(f"{path}.manager_id", f"unknown manager position {v.manager_id!r}"))
        if v.manager_id == v.position_id:
            out.append(Violation(f"{path}.manager_id", "a position cannot manage itself"))
        if v.valid_to is not None and v.valid_to <= v.valid_from:
            out.append(Violation(f"{path}.valid_to", "must be after valid_from"))
        versions[v.position_id].append((v.valid_from, v.valid_to))
    for pos, ranges in versions.items():
        if _overlapping(ranges):
            out.append(Violation("positions", f"versions of position {pos!r} overlap"))
    for day, cycle in hierarchy_cycles(org):
        out.append(Violation("positions", f"manager hierarchy has a cycle on {day}: {' -> '.join(cycle)}"))
    by_position: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    for i, a in enumerate(org.assignments):
        path = f"assignments[{i}]"
        if a.participant_id not in participants:
            out.append(Violation(f"{path}.participant_id", f"unknown participant {a.participant_id!r}"))
        if a.position_id not in positions:
            out.append(Violation(f"{path}.position_id", f"unknown position {a.position_id!r}"))
        if a.valid_to is not None and a.valid_to <= a.valid_from:
            out.append(Violation(f"{path}.valid_to", "must be after valid_from"))
        by_position[a.position_id].append((a.valid_from, a.valid_to))
    for pos, ranges in by_position.items():
        if _overlapping(ranges):
            out.append(Violation("assignments", f"position {pos!r} has two holders at the same time"))
    return out


def ensure_valid_organisation(org: Organisation) -> Organisation:
    violations = validate_organisation(org)
    if violations:
        raise OrganisationValidationError(violations)
    return org
