"""How common each name is in a register: the input of term-frequency adjusted name weights.

Kept apart from the records because it is a property of the register, not of a pair: a batch run
counts its own records, an in-memory ``BlockIndex`` counts as records are added, and the service can
keep the same counts in its database (one row per name key) for the check on create.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from services.parties.domain.matching.features import Features
from services.parties.domain.matching.records import PERSON

PSEUDO_RECORDS = 5000


def name_keys(f: Features) -> list[str]:
    """The frequency keys of a record: its surname and first-name keys, or its organization name keys."""
    if f.kind == PERSON:
        keys = []
        if f.last_key:
            keys.append("last:" + f.last_key)
        if f.first_key:
            keys.append("first:" + f.first_key)
        return keys
    return ["org:" + key for _, key in f.org_names]


def shared_name_key(key_kind: str, a: Features, b: Features) -> str:
    """The frequency key of the name two records agree on ("" if none): the rarer of them for companies."""
    if key_kind == "last":
        return "last:" + a.last_key if a.last_key and a.last_key == b.last_key else ""
    if key_kind == "first":
        return "first:" + a.first_key if a.first_key and a.first_key == b.first_key else ""
    shared = {key for _, key in a.org_names} & {key for _, key in b.org_names}
    return "org:" + min(shared) if shared else ""


class NameFrequencies:
    """Counts of records per kind and per name key."""

    __slots__ = ("counts", "totals")

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()

    @classmethod
    def of(cls, features: Iterable[Features]) -> NameFrequencies:
        freq = cls()
        for f in features:
            freq.add(f)
        return freq

    def add(self, f: Features) -> None:
        self.totals[f.kind] += 1
        self.counts.update(name_keys(f))

    def total(self, kind: str) -> int:
        return self.totals[kind]

    def share(self, key: str, kind: str, average: float) -> float:
        """The share of the kind's records carrying ``key``, shrunk towards ``average``.

        ``PSEUDO_RECORDS`` records at the average share are added to the counts, so that a small batch
        (where two records of ten share any name) cannot make a name look common, and a name seen once
        in a large register is not treated as unique.
        """
        return (self.counts[key] + PSEUDO_RECORDS * average) / (self.totals[kind] + PSEUDO_RECORDS)
