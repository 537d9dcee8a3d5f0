"""Batch duplicate detection: block, score, and join strong matches into clusters.

Clusters are connected components of *match* pairs only (possible matches go to review, never into a
cluster), built strongest pair first by union-find. A pair is refused as a cluster edge when it would
put into one cluster two records that must stay apart: a pair a steward marked as not duplicates, or a
pair the model scored as clearly different (below ``cannot_link_below``). That is what stops one weak
or wrong link from chaining two big clusters: their members' own comparisons veto it, and the refused
pair is reported for review instead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from services.parties.domain.matching.blocking import (
    DEFAULT_MAX_BLOCK_SIZE,
    DEFAULT_MAX_NAME_BLOCK_SIZE,
    candidate_pairs,
)
from services.parties.domain.matching.comparators import COMPARE
from services.parties.domain.matching.features import Features
from services.parties.domain.matching.frequencies import NameFrequencies
from services.parties.domain.matching.matcher import Matcher
from services.parties.domain.matching.records import MatchRecord
from services.parties.domain.matching.results import Cluster, Decision, DedupResult, PairScore

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``; stages are "features", "blocking", "scoring", "clustering"."""

_PROGRESS_EVERY = 50_000


def _noop(stage: str, done: int, total: int) -> None:
    pass


class _UnionFind:
    """Union-find over record indices, with the member list of each root and cannot-link vetoes."""

    def __init__(self, size: int, cannot_link: dict[int, set[int]]) -> None:
        self.parent = list(range(size))
        self.members: dict[int, list[int]] = {}
        self.cannot_link = cannot_link

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> bool:
        """Join the components of a and b unless a cannot-link pair would end up inside; True if joined."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        small, large = self.members.get(ra, [ra]), self.members.get(rb, [rb])
        if len(small) > len(large):
            small, large, ra, rb = large, small, rb, ra
        cannot = self.cannot_link
        for x in small:
            for y in cannot.get(x, ()):
                if self.find(y) == rb:
                    return False
        self.parent[ra] = rb
        large.extend(small)
        self.members[rb] = large
        self.members.pop(ra, None)
        return True


def find_duplicates(
    records: Sequence[MatchRecord],
    matcher: Matcher | None = None,
    *,
    known_distinct: Collection[frozenset[str]] = (),
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    max_name_block_size: int = DEFAULT_MAX_NAME_BLOCK_SIZE,
    cannot_link_below: float | None = None,
    frequencies: NameFrequencies | None = None,
    progress: ProgressCallback | None = None,
) -> DedupResult:
    """Find the duplicate clusters and the possible duplicates in ``records`` (a register or a file).

    ``known_distinct`` pairs of party ids are never reported and never end up in one cluster.
    ``cannot_link_below`` (bits; default minus twice the match threshold: as sure the two differ as a
    match is twice over sure they agree) is the score under which a compared
    pair vetoes any cluster containing both records. Name weights and the prior follow ``frequencies``
    (by default those of ``records`` themselves; pass the register's when checking an incoming file).
    ``progress`` is called regularly with (stage, done, total), cheap enough to forward to a stream.
    """
    matcher = matcher or Matcher()
    report = progress or _noop
    thresholds = matcher.thresholds
    veto = -2 * abs(thresholds.match) if cannot_link_below is None else cannot_link_below
    n = len(records)

    feats: list[Features] = []
    for i, record in enumerate(records):
        feats.append(Features(record))
        if i % _PROGRESS_EVERY == 0:
            report("features", i, n)
    report("features", n, n)

    report("blocking", 0, n)
    left, right, oversized = candidate_pairs(feats, max_block_size, max_name_block_size)
    total = len(left)
    report("blocking", n, n)

    index_of = {f.party_id: i for i, f in enumerate(feats)}
    known = {k for k in known_distinct if len(k) == 2 and all(p in index_of for p in k)}
    cannot_link: dict[int, set[int]] = {}
    for pair in known:
        x, y = (index_of[p] for p in pair)
        cannot_link.setdefault(x, set()).add(y)
        cannot_link.setdefault(y, set()).add(x)

    freq = frequencies if frequencies is not None else NameFrequencies.of(feats)
    scorers = {kind: matcher.scorer(kind, freq) for kind in matcher.model.kinds}
    match_at, possible_at = thresholds.match, thresholds.possible
    kept: list[tuple[float, int, int, tuple[int, ...]]] = []
    skipped_known = 0
    for done, (i, j) in enumerate(zip(left, right, strict=True)):
        if done % _PROGRESS_EVERY == 0:
            report("scoring", done, total)
        a, b = feats[i], feats[j]
        levels = COMPARE[a.kind](a, b)
        model = scorers[a.kind].model
        score = scorers[a.kind].score(a, b, levels)
        if score < veto or model.conflicts(levels):
            # Clearly different, or two values of one unique identifier: never in one cluster.
            cannot_link.setdefault(i, set()).add(j)
            cannot_link.setdefault(j, set()).add(i)
        if score >= possible_at or model.shares_identifier(levels):
            if known and frozenset((a.party_id, b.party_id)) in known:
                skipped_known += 1
                continue
            kept.append((score, i, j, levels))
    report("scoring", total, total)
    del left, right

    kept.sort(key=lambda item: (-item[0], item[1], item[2]))
    uf = _UnionFind(n, cannot_link)
    refused: set[tuple[int, int]] = set()
    for done, (score, i, j, _) in enumerate(kept):
        if done % _PROGRESS_EVERY == 0:
            report("clustering", done, len(kept))
        if score >= match_at and not uf.union(i, j):
            refused.add((i, j))
    report("clustering", len(kept), len(kept))

    edges: dict[int, list[PairScore]] = {}
    possible: list[PairScore] = []
    for score, i, j, levels in kept:
        ri, rj = uf.find(i), uf.find(j)
        a, b = feats[i], feats[j]
        if score >= match_at and ri == rj:
            edges.setdefault(ri, []).append(scorers[a.kind].pair(a, b, levels, score, Decision.DUPLICATE))
        elif ri != rj:
            # A refused match is reviewed like a possible one: the batch did not decide it.
            model = scorers[a.kind].model
            decision = Decision.POSSIBLE_DUPLICATE if (i, j) in refused else model.decide(thresholds, score, levels)
            possible.append(scorers[a.kind].pair(a, b, levels, score, decision))
    clusters = sorted(
        (
            Cluster(members=tuple(sorted(feats[x].party_id for x in uf.members[root])), pairs=tuple(pairs))
            for root, pairs in edges.items()
        ),
        key=lambda c: c.members[0],
    )
    stats = {
        "records": n,
        "candidate_pairs": total,
        "pairs_compared": total,
        "match_pairs": sum(1 for item in kept if item[0] >= match_at),
        "possible_pairs": len(possible),
        "refused_cluster_edges": len(refused),
        "known_distinct_skipped": skipped_known,
        "clusters": len(clusters),
        "clustered_records": sum(len(c.members) for c in clusters),
        "oversized_blocks": len(oversized),
    }
    return DedupResult(
        clusters=tuple(clusters), possible_pairs=tuple(possible), oversized_blocks=tuple(oversized), stats=stats
    )
