"""The matcher: score a pair with an explanation, or check one record against its candidates.

This is what the parties service calls on create: it looks candidates up by the record's probe keys
(``blocking_keys``), loads them as ``MatchRecord`` and asks ``check``; a "duplicate" decision becomes
ALREADY_EXISTS, a "possible_duplicate" opens a review case.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from functools import lru_cache

from services.parties.domain.matching.blocking import BlockIndex
from services.parties.domain.matching.comparators import COMPARE
from services.parties.domain.matching.features import Features
from services.parties.domain.matching.frequencies import NameFrequencies
from services.parties.domain.matching.model import MatchModel, Scorer
from services.parties.domain.matching.records import MatchRecord
from services.parties.domain.matching.results import CheckResult, Decision, PairScore, Thresholds

KnownDistinct = Collection[frozenset[str]]


@lru_cache(maxsize=1)
def default_model() -> MatchModel:
    """The committed parameters, read once per process."""
    return MatchModel.load()


@lru_cache(maxsize=50_000)
def features_of(record: MatchRecord) -> Features:
    """Features of a record, cached: the same register records come back as candidates again and again."""
    return Features(record)


def _features(item: MatchRecord | Features) -> Features:
    return item if isinstance(item, Features) else features_of(item)


class Matcher:
    """A loaded model with the thresholds in force; immutable, so one instance serves every request."""

    __slots__ = ("model", "thresholds")

    def __init__(self, model: MatchModel | None = None, thresholds: Thresholds | None = None) -> None:
        self.model = model or default_model()
        self.thresholds = thresholds or self.model.thresholds

    def scorer(self, kind: str, frequencies: NameFrequencies | None = None) -> Scorer:
        """A scorer for one kind, adjusted to a register's name frequencies and size when given."""
        return Scorer(self.model.kinds[kind], frequencies)

    def compare(
        self, a: MatchRecord | Features, b: MatchRecord | Features, *, frequencies: NameFrequencies | None = None
    ) -> PairScore:
        """The full comparison of two records, whatever the decision (records of different kinds never match)."""
        fa, fb = _features(a), _features(b)
        if fa.kind != fb.kind:
            raise ValueError("a person and an organization are never compared")
        scorer = self.scorer(fa.kind, frequencies)
        levels = COMPARE[fa.kind](fa, fb)
        score = scorer.score(fa, fb, levels)
        return scorer.pair(fa, fb, levels, score, scorer.model.decide(self.thresholds, score, levels))

    def check(
        self,
        record: MatchRecord | Features,
        candidates: Iterable[MatchRecord | Features],
        *,
        known_distinct: KnownDistinct = (),
        frequencies: NameFrequencies | None = None,
    ) -> CheckResult:
        """Score ``record`` against each candidate; return the duplicates and possible duplicates, best first.

        Candidates of the other kind, the record itself and pairs listed in ``known_distinct`` (a
        steward already said they are different parties) are skipped, never reported. ``frequencies``
        of the register make rare names count for more than common ones (see ``Scorer``).
        """
        f = _features(record)
        scorer = self.scorer(f.kind, frequencies)
        compare = COMPARE[f.kind]
        possible = self.thresholds.possible
        pairs: list[PairScore] = []
        compared = 0
        for candidate in candidates:
            c = _features(candidate)
            if c.kind != f.kind or c.party_id == f.party_id:
                continue
            if known_distinct and frozenset((f.party_id, c.party_id)) in known_distinct:
                continue
            compared += 1
            levels = compare(f, c)
            score = scorer.score(f, c, levels)
            if score >= possible or scorer.model.shares_identifier(levels):
                pairs.append(scorer.pair(f, c, levels, score, scorer.model.decide(self.thresholds, score, levels)))
        pairs.sort(key=lambda p: (-p.score, p.right_id))
        decision = pairs[0].decision if pairs else Decision.DISTINCT
        return CheckResult(decision=decision, pairs=tuple(pairs), compared=compared)

    def check_in(
        self, record: MatchRecord | Features, index: BlockIndex, *, known_distinct: KnownDistinct = ()
    ) -> CheckResult:
        """``check`` against an in-memory ``BlockIndex``, reporting the oversized blocks it skipped."""
        f = _features(record)
        candidates, oversized = index.candidates(f)
        result = self.check(f, candidates, known_distinct=known_distinct, frequencies=index.frequencies)
        if not oversized:
            return result
        return CheckResult(result.decision, result.pairs, result.compared, tuple(b.key for b in oversized))
