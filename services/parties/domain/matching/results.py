"""What the matcher answers: decisions, scores and their explanations, as plain serializable values.

Every result has ``to_dict()`` returning only str/int/float/bool/list/dict, because the same answer goes
into a gRPC response, a review case opened by a workflow, a log line and a benchmark report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.parties.domain.errors import DomainValueError


class Decision(StrEnum):
    """What to do with a pair: refuse the create, open a review case, or nothing."""

    DUPLICATE = "duplicate"
    POSSIBLE_DUPLICATE = "possible_duplicate"
    DISTINCT = "distinct"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score cut-offs in bits of evidence (the log2 likelihood ratio plus the prior log-odds).

    A score of 0 is a 50% match probability, every further bit doubles the odds: 10 bits is about
    1000:1. They come from configuration; ``params.json`` carries the defaults the training chose.
    """

    match: float
    possible: float

    def __post_init__(self) -> None:
        if self.possible > self.match:
            raise DomainValueError("the possible-match threshold must not exceed the match threshold")

    def decide(
        self, score: float, *, shares_identifier: bool = False, conflicting_identifier: bool = False
    ) -> Decision:
        """The decision for a score, with two rules on unique identifiers that no score overrides.

        A pair sharing a unique identifier is at least a possible duplicate, and a pair with two
        different values of one (two INNs) is at most one. Both are data a steward must look at: one INN
        on two different names, or one name and birth date on two INNs, is an error whichever way it
        goes, and the score alone would file the first as distinct and the second as a duplicate.
        """
        if score >= self.match and not conflicting_identifier:
            return Decision.DUPLICATE
        if score >= self.possible or shares_identifier or score >= self.match:
            return Decision.POSSIBLE_DUPLICATE
        return Decision.DISTINCT


@dataclass(frozen=True, slots=True)
class FieldComparison:
    """One line of an explanation: how a field agreed and how much evidence that is (bits, signed)."""

    field: str
    level: str
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "level": self.level, "weight": round(self.weight, 3)}


@dataclass(frozen=True, slots=True)
class PairScore:
    """A compared pair with its total score, match probability, decision and per-field explanation."""

    left_id: str
    right_id: str
    kind: str
    score: float
    probability: float
    decision: Decision
    comparisons: tuple[FieldComparison, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "left_id": self.left_id,
            "right_id": self.right_id,
            "kind": self.kind,
            "score": round(self.score, 3),
            "probability": self.probability,
            "decision": self.decision.value,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer for one record checked against the register: the strongest decision and its pairs.

    ``pairs`` are the duplicates and possible duplicates, best first; ``compared`` counts candidates
    actually scored, ``oversized_blocks`` the blocking keys skipped because too many records share them.
    """

    decision: Decision
    pairs: tuple[PairScore, ...]
    compared: int
    oversized_blocks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "pairs": [p.to_dict() for p in self.pairs],
            "compared": self.compared,
            "oversized_blocks": list(self.oversized_blocks),
        }


@dataclass(frozen=True, slots=True)
class OversizedBlock:
    """A blocking key shared by more records than the cap: its pairs were not generated."""

    key: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size}


@dataclass(frozen=True, slots=True)
class Cluster:
    """Records found to be one party: members (party ids, sorted) and the match pairs that joined them."""

    members: tuple[str, ...]
    pairs: tuple[PairScore, ...]

    @property
    def min_score(self) -> float:
        return min(p.score for p in self.pairs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "members": list(self.members),
            "min_score": round(self.min_score, 3),
            "pairs": [p.to_dict() for p in self.pairs],
        }


@dataclass(frozen=True, slots=True)
class DedupResult:
    """The outcome of a batch run.

    ``clusters`` hold strong duplicates (two or more members each); ``possible_pairs`` are pairs for a
    data steward, between records not already in one cluster (including match pairs that were refused
    as cluster edges because they would have joined records known or scored to be different).
    """

    clusters: tuple[Cluster, ...]
    possible_pairs: tuple[PairScore, ...]
    oversized_blocks: tuple[OversizedBlock, ...]
    stats: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clusters": [c.to_dict() for c in self.clusters],
            "possible_pairs": [p.to_dict() for p in self.possible_pairs],
            "oversized_blocks": [b.to_dict() for b in self.oversized_blocks],
            "stats": dict(self.stats),
        }
