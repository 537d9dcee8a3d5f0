"""Estimate the matcher's Fellegi–Sunter parameters and write services/parties/domain/matching/params.json.

Two methods, both run every time (one writes the parameters, the other is reported next to it):

* ``--method labelled`` (the default, and what params.json holds): m (level frequencies among pairs of
  *one* party) and the pair rate (duplicate pairs per record, which gives the prior for any register
  size) from the labelled candidate pairs of the generator (``bench.dedup_data``, seed 7; the benchmark
  uses seed 11); u (level frequencies among *different* parties) from random record pairs of different
  parties.
* ``--method em``, no labels at all: m and the mixing weight by expectation-maximisation on the blocked
  candidate pairs with m, u and the weight free; u for the weights from random pairs, each weighted by
  its EM posterior of being a non-match (so the rare true pair in the sample does not set u of "same
  INN"). This is what to run on a real register.

Why labelled is the default: on the generated register both give the same F1 (0.9915 and 0.9914 on
100,000 records), and EM reproduces most m within 0.01-0.05, but it overstates exactly the levels the
matcher must be surest about: companies' "different INN" (m 0.068 against a true 0.000, so -3.9 bits
instead of -14) and "different name". A wrong m there shows in every explanation a steward reads.

Why not the textbook shortcuts. EM with u fixed to the random-pair values does not find "same party" on
blocked pairs: relatives and namesakes brought together by blocking look nothing like random pairs, so
EM absorbs them into the match class (prior 0.87 for persons and 1.0 for companies against a true 0.21
and 0.17; "em_u_fixed" in the report). And the u that EM estimates on its own is the u of *blocked*
non-matches, the wrong u for the weights: companies are blocked mostly by name, so among them "different
name" is rarer than "same name" and would weigh *for* a match. Hence m from EM or labels, u from random
pairs, always.

The labels also set the default thresholds, which the service reads from configuration: "match" is the
score that maximises the pairwise F1 of the clusters formed on the training register; "possible" is the
lowest score at which the review band (possible up to match) still holds ``--review-precision`` (default
0.2) true duplicates: every pair there opens a review case, so one real duplicate in five reviewed pairs
is where the band stops.

    python -m bench.train_matcher --records 200000 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.dedup_data import DedupData
from services.parties.domain.matching.blocking import DEFAULT_MAX_BLOCK_SIZE, candidate_pairs
from services.parties.domain.matching.comparators import COMPARE, FIELDS, MISSING
from services.parties.domain.matching.estimation import (
    EMResult,
    Pattern,
    expectation_maximisation,
    level_frequencies,
    posterior,
    starting_m,
)
from services.parties.domain.matching.features import Features
from services.parties.domain.matching.frequencies import NameFrequencies
from services.parties.domain.matching.model import PARAMS_PATH, KindModel, MatchModel, Scorer
from services.parties.domain.matching.results import Thresholds


def random_patterns(feats: Sequence[Features], kind: str, count: int, rng: random.Random) -> Counter[Pattern]:
    """Level patterns of ``count`` random pairs of one kind: the u sample (before weighting)."""
    pool = [f for f in feats if f.kind == kind]
    compare = COMPARE[kind]
    out: Counter[Pattern] = Counter()
    for _ in range(count):
        a, b = rng.sample(pool, 2)
        out[compare(a, b)] += 1
    return out


def random_patterns_of_non_matches(
    feats: Sequence[Features], labels: Sequence[int], kind: str, count: int, rng: random.Random
) -> Counter[Pattern]:
    """Like ``random_patterns`` but skipping pairs of one true party (for ``--method labelled``)."""
    pool = [i for i, f in enumerate(feats) if f.kind == kind]
    compare = COMPARE[kind]
    out: Counter[Pattern] = Counter()
    while count:
        i, j = rng.sample(pool, 2)
        if labels[i] != labels[j]:
            out[compare(feats[i], feats[j])] += 1
            count -= 1
    return out


def non_match_weighted(sample: Counter[Pattern], fields: Sequence[Any], em: EMResult) -> dict[Pattern, float]:
    """The random-pair sample with each pattern weighted by its EM posterior of being a non-match."""
    return {p: c * (1.0 - posterior(p, fields, em.m, em.u, em.prior)) for p, c in sample.items()}


def cluster_f1(n: int, labels: Sequence[int], edges: Sequence[tuple[float, int, int]], threshold: float) -> float:
    """Pairwise F1 of the clusters that the edges at or above ``threshold`` form (union-find)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for score, i, j in edges:
        if score >= threshold:
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    predicted = correct = 0
    for members in groups.values():
        predicted += len(members) * (len(members) - 1) // 2
        correct += sum(c * (c - 1) // 2 for c in Counter(labels[i] for i in members).values())
    true_pairs = sum(c * (c - 1) // 2 for c in Counter(labels).values())
    return 2 * correct / (predicted + true_pairs) if predicted + true_pairs else 1.0


def choose_thresholds(
    n: int, labels: Sequence[int], edges: Sequence[tuple[float, int, int]], review_precision: float
) -> tuple[float, float, float]:
    """(match, possible, F1 at match) from labelled candidate pairs; see the module docstring.

    The match threshold is searched on whole-bit steps and then refined, on the F1 of the clusters the
    matches form (not of the pairs): transitive closure turns one wrong pair into several.
    """

    def f1(t: float) -> float:
        return cluster_f1(n, labels, edges, t)

    coarse = max(range(-5, 21), key=f1)
    match = max((coarse + k / 4 for k in range(-4, 5)), key=f1)
    # Lower the possible threshold while the review band [possible, match) stays precise enough.
    band = sorted(((s, labels[i] == labels[j]) for s, i, j in edges if s < match), key=lambda e: -e[0])
    possible, true = match, 0
    for k, (score, same) in enumerate(band, start=1):
        true += same
        if true / k >= review_precision:
            possible = score
    return round(match, 2), round(possible, 2), round(f1(match), 5)


def _round_table(table: list[list[float]], fields: Sequence[Any]) -> dict[str, dict[str, float]]:
    return {
        spec.name: {lv: round(table[f][i], 4) for i, lv in enumerate(spec.levels) if lv != MISSING}
        for f, spec in enumerate(fields)
    }


def train(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    parties = DedupData(seed=args.seed).generate(args.records)
    feats = [Features(p.to_record()) for p in parties]
    cluster = [p.cluster for p in parties]
    left, right, oversized = candidate_pairs(feats, args.max_block_size)
    frequencies = NameFrequencies.of(feats)
    rng = random.Random(args.seed)

    kinds: dict[str, KindModel] = {}
    diagnostics: dict[str, Any] = {}
    edges: list[tuple[float, int, int]] = []
    for kind, fields in FIELDS.items():
        compare = COMPARE[kind]
        candidates: list[tuple[int, int, Pattern]] = []
        same_patterns: Counter[Pattern] = Counter()
        all_patterns: Counter[Pattern] = Counter()
        for i, j in zip(left, right, strict=True):
            if feats[i].kind != kind:
                continue
            pattern = compare(feats[i], feats[j])
            candidates.append((i, j, pattern))
            all_patterns[pattern] += 1
            if cluster[i] == cluster[j]:
                same_patterns[pattern] += 1
        size = frequencies.total(kind)
        by_cluster = Counter(c for c, f in zip(cluster, feats, strict=True) if f.kind == kind)
        true_pairs = sum(n * (n - 1) // 2 for n in by_cluster.values())
        sample = random_patterns(feats, kind, args.random_pairs, rng)
        u_random = level_frequencies(sample, fields)
        em_fixed = expectation_maximisation(all_patterns, fields, starting_m(fields), u_random, prior=0.1)
        em = expectation_maximisation(all_patterns, fields, starting_m(fields), u_random, prior=0.1, fix_u=False)
        m_labelled = level_frequencies(same_patterns, fields)
        if args.method == "em":
            m, pair_rate = em.m, em.prior * len(candidates) / size
            u = level_frequencies(non_match_weighted(sample, fields, em), fields)
        else:
            m, pair_rate = m_labelled, true_pairs / size
            u = level_frequencies(random_patterns_of_non_matches(feats, cluster, kind, args.random_pairs, rng), fields)
        model = KindModel(kind, pair_rate=pair_rate, reference_size=size, m=m, u=u)
        kinds[kind] = model
        scorer = Scorer(model, frequencies)
        edges += [(scorer.score(feats[i], feats[j], p), i, j) for i, j, p in candidates]
        diagnostics[kind] = {
            "records": size,
            "true_pairs": true_pairs,
            "candidate_pairs": len(candidates),
            "true_pairs_blocked": sum(same_patterns.values()),
            "pair_rate": {"used": round(pair_rate, 4), "labelled": round(true_pairs / size, 4)},
            "em_u_fixed": {"prior": round(em_fixed.prior, 4), "converged": em_fixed.converged},
            "em": {
                "prior": round(em.prior, 4),
                "prior_labelled": round(sum(same_patterns.values()) / max(1, len(candidates)), 4),
                "iterations": em.iterations,
                "converged": em.converged,
                "largest_m_error": round(
                    max(
                        abs(em.m[f][lv] - m_labelled[f][lv])
                        for f, spec in enumerate(fields)
                        for lv, level in enumerate(spec.levels)
                        if level != MISSING
                    ),
                    4,
                ),
            },
            "m_em": _round_table(em.m, fields),
            "m_labelled": _round_table(m_labelled, fields),
        }
    match, possible, f1 = choose_thresholds(len(feats), cluster, edges, args.review_precision)
    info = {
        "method": (
            "Fellegi-Sunter with term-frequency adjusted name weights; "
            + (
                "m and pair rate by EM on unlabelled candidate pairs, u from random pairs weighted by the EM "
                "non-match posterior"
                if args.method == "em"
                else "m and pair rate from labelled pairs, u from random pairs of different parties"
            )
            + "; default thresholds from the labelled training register (see bench/train_matcher.py)"
        ),
        "trained_on": {
            "generator": "bench.dedup_data",
            "seed": args.seed,
            "method": args.method,
            "records": args.records,
            "random_pairs_per_kind": args.random_pairs,
            "max_block_size": args.max_block_size,
            "oversized_blocks": len(oversized),
            "review_precision": args.review_precision,
        },
    }
    model = MatchModel(kinds, Thresholds(match=match, possible=possible), info)
    report = {
        "seconds": round(time.perf_counter() - started, 1),
        "thresholds": {"match": match, "possible": possible, "training_f1": f1},
        "weights": {
            kind: {
                spec.name: dict(zip(spec.levels, (round(w, 2) for w in km.weights[f]), strict=True))
                for f, spec in enumerate(km.fields)
            }
            for kind, km in kinds.items()
        },
        "diagnostics": diagnostics,
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return model.to_dict()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--method", choices=("labelled", "em"), default="labelled")
    parser.add_argument("--seed", type=int, default=7, help="the benchmark uses other seeds")
    parser.add_argument("--random-pairs", type=int, default=2_000_000)
    parser.add_argument("--max-block-size", type=int, default=DEFAULT_MAX_BLOCK_SIZE)
    parser.add_argument("--review-precision", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=PARAMS_PATH)
    args = parser.parse_args(argv)
    params = train(args)
    args.out.write_text(json.dumps(params, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
