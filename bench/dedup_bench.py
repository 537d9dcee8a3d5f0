"""Duplicate-matching benchmark: the matcher against exact matching on normalized keys, same data, same run.

For each size it generates a labelled register (``bench.dedup_data``, seed 11: training uses seed 7),
normalizes it into ``MatchRecord``s, then runs

* the matcher: ``find_duplicates`` (blocking, Fellegi–Sunter scoring, clustering);
* the baseline: records joined when they share a normalized identifier, phone or e-mail, or (persons)
  the same normalized full name and birth date;
* the check on create: a ``BlockIndex`` of all but the last ``--checks`` records, then each of those
  checked against it, as the service does when a party is created;

and prints JSON: pairwise precision, recall and F1 over the true clusters, and seconds, for both.

    python -m bench.dedup_bench                       # 100,000 records
    python -m bench.dedup_bench --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.dedup_data import DedupData, RawParty
from services.parties.domain.matching import (
    BlockIndex,
    Decision,
    Features,
    Matcher,
    MatchModel,
    MatchRecord,
    find_duplicates,
)
from services.parties.domain.names import search_key

ROOT = Path(__file__).resolve().parent.parent
AIMS = {"f1_at_100k": 0.99, "batch_100k_s": 30, "batch_1m_s": 300, "check_per_candidate_us": "microseconds"}


def pairwise(labels: Sequence[int], clusters: Iterable[Sequence[int]]) -> dict[str, float | int]:
    """Pairwise precision, recall and F1 of predicted clusters (record indices) against true labels."""
    true_pairs = sum(n * (n - 1) // 2 for n in Counter(labels).values())
    predicted = correct = 0
    for members in clusters:
        k = len(members)
        predicted += k * (k - 1) // 2
        correct += sum(n * (n - 1) // 2 for n in Counter(labels[i] for i in members).values())
    precision = correct / predicted if predicted else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "true_pairs": true_pairs,
        "predicted_pairs": predicted,
        "correct_pairs": correct,
    }


def baseline(records: Sequence[MatchRecord]) -> list[list[int]]:
    """Clusters of records sharing an exact normalized key (what a unique index would catch)."""
    parent = list(range(len(records)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[tuple[str, ...], int] = {}
    for i, r in enumerate(records):
        keys: list[tuple[str, ...]] = [(r.kind, "t", p) for p in r.phones]
        keys += [(r.kind, "e", e) for e in r.emails]
        keys += [(r.kind, "i", t, v) for t, v in r.identifiers if t != "KPP"]
        if r.kind == "person" and r.birth_date and r.last_name and r.first_name:
            keys.append(("n", search_key(r.last_name, r.first_name, r.patronymic), r.birth_date.isoformat()))
        for key in keys:
            j = first.setdefault(key, i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(records)):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def single_checks(
    matcher: Matcher, records: Sequence[MatchRecord], labels: Sequence[int], checks: int
) -> dict[str, Any]:
    """Index all records but the last ``checks``, then check each of those as a party being created."""
    started = time.perf_counter()
    index = BlockIndex()
    register = records[: len(records) - checks]
    for record in register:
        index.add(record)
    built = time.perf_counter() - started
    in_register = Counter(labels[: len(register)])
    times: list[float] = []
    compared = 0
    found = should = false_alarms = strong = 0
    for i in range(len(register), len(records)):
        record = records[i]
        t = time.perf_counter()
        f = Features(record)
        result = matcher.check_in(f, index)
        times.append(time.perf_counter() - t)
        compared += result.compared
        has_true = in_register[labels[i]] > 0
        should += has_true
        best = result.pairs[0] if result.pairs else None
        if result.decision == Decision.DUPLICATE and best is not None:
            strong += 1
            same = labels[int(best.right_id[1:])] == labels[i]
            found += same
            false_alarms += not same
    total = sum(times)
    return {
        "register_records": len(register),
        "index_build_s": round(built, 2),
        "checks": checks,
        "mean_us": round(total / checks * 1e6, 1),
        "p50_us": round(percentile(times, 0.5) * 1e6, 1),
        "p99_us": round(percentile(times, 0.99) * 1e6, 1),
        "candidates_per_check": round(compared / checks, 2),
        "us_per_candidate": round(total / max(1, compared) * 1e6, 2),
        "with_true_duplicate_in_register": should,
        "refused_as_duplicate": strong,
        "refused_correctly": found,
        "refused_wrongly": false_alarms,
    }


def run(size: int, seed: int, checks: int, matcher: Matcher, quiet: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"records": size}

    def log(msg: str) -> None:
        if not quiet:
            print(f"[{size}] {msg}", file=sys.stderr, flush=True)

    t = time.perf_counter()
    parties: list[RawParty] = DedupData(seed=seed).generate(size)
    out["generate_s"] = round(time.perf_counter() - t, 2)
    log(f"generated in {out['generate_s']} s")
    t = time.perf_counter()
    records = [p.to_record() for p in parties]
    out["normalize_s"] = round(time.perf_counter() - t, 2)
    log(f"normalized in {out['normalize_s']} s")
    labels = [p.cluster for p in parties]
    index_of = {r.party_id: i for i, r in enumerate(records)}
    del parties

    stages: dict[str, float] = {}
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        stages.setdefault(stage, time.perf_counter())

    result = find_duplicates(records, matcher, progress=progress)
    elapsed = time.perf_counter() - started
    marks = [*sorted(stages.items(), key=lambda kv: kv[1]), ("end", started + elapsed)]
    clusters = [[index_of[m] for m in c.members] for c in result.clusters]
    true_in_possible = sum(
        1 for p in result.possible_pairs if labels[index_of[p.left_id]] == labels[index_of[p.right_id]]
    )
    out["matcher"] = {
        "seconds": round(elapsed, 2),
        "stage_seconds": {name: round(marks[k + 1][1] - at, 2) for k, (name, at) in enumerate(marks[:-1])},
        **pairwise(labels, clusters),
        "clusters": len(result.clusters),
        "candidate_pairs": result.stats["candidate_pairs"],
        "possible_pairs": len(result.possible_pairs),
        "possible_pairs_true": true_in_possible,
        "refused_cluster_edges": result.stats["refused_cluster_edges"],
        "oversized_blocks": len(result.oversized_blocks),
        "largest_oversized": [b.to_dict() for b in result.oversized_blocks[:5]],
    }
    log(f"matcher: {out['matcher']['seconds']} s, F1 {out['matcher']['f1']}")
    del result
    t = time.perf_counter()
    groups = baseline(records)
    out["baseline"] = {"seconds": round(time.perf_counter() - t, 2), **pairwise(labels, groups)}
    log(f"baseline: {out['baseline']['seconds']} s, F1 {out['baseline']['f1']}")
    if checks:
        out["check_on_create"] = single_checks(matcher, records, labels, min(checks, size // 10))
        log(f"check: {out['check_on_create']['mean_us']} us per record")
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000", help="comma-separated record counts")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--checks", type=int, default=2000, help="single-record checks per size (0: none)")
    parser.add_argument("--params", type=Path, default=None, help="another params.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/dedup.json")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    model = MatchModel.load(args.params) if args.params else MatchModel.load()
    matcher = Matcher(model)
    report: dict[str, Any] = {
        "benchmark": "dedup",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "aims": AIMS,
        "thresholds": {"match": matcher.thresholds.match, "possible": matcher.thresholds.possible},
        "runs": [],
    }
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        report["runs"].append(run(size, args.seed, args.checks, matcher, args.quiet))
    text = json.dumps(report, ensure_ascii=False, indent=1)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
