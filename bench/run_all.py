"""`make bench`: runs every benchmark and writes their JSON under bench/results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = [
    ["bench.parties_bench", "--out", "bench/results/parties.json"],
    ["bench.dedup_bench", "--sizes", "100000,1000000", "--out", "bench/results/dedup.json"],
    ["bench.commissions_bench", "--out", "bench/results/commissions.json"],
    ["bench.what_if_bench", "--out", "bench/results/what_if.json"],
    ["bench.commissions_service_bench", "--out", "bench/results/commissions_service.json"],
    ["bench.distribution_bench", "--out", "bench/results/distribution.json"],
]


def main() -> int:
    extra = sys.argv[1:]
    failed = 0
    for module, *args in BENCHES:
        print(f"== {module}", flush=True)
        failed |= subprocess.call([sys.executable, "-m", module, *args, *extra], cwd=ROOT)
    return failed


if __name__ == "__main__":
    sys.exit(main())
