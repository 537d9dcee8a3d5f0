"""Commissions engine benchmark: a full period run at scale, the row-by-row oracle against the engine
on the same subset (with their results compared), an incremental run for one participant, and the
dashboard call, each measured in this run on this machine. Prints JSON.

    python -m bench.commissions_bench                      # 100,000 participants, 10,000,000 transactions
    python -m bench.commissions_bench --participants 20000 --transactions 1000000   # a quick look
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import psutil

from bench.commissions_data import generate, participant_of_rep, rep_position
from services.commissions.domain.dashboard import DashboardIndex
from services.commissions.domain.engine import calculate_incremental, calculate_period, prepare_context
from services.commissions.domain.payroll import payroll_csv
from services.commissions.domain.reference import reference_run
from services.commissions.domain.results import differences
from services.commissions.domain.transactions import Transaction, transactions_frame

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "full_run_s": 60.0,
    "full_run_peak_rss_gb": 4.0,
    "speedup_vs_reference": 20.0,
    "incremental_one_participant_s": 1.0,
    "dashboard_p99_ms": 50.0,
}


class PeakRss:
    """Samples the process's resident memory every 10 ms while the block runs."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(0.01)

    def __enter__(self) -> PeakRss:
        self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def seconds(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def reference_comparison(args: argparse.Namespace) -> dict[str, Any]:
    """The oracle and the engine on the same subset; the speed ratio and whether they agree."""
    inputs = generate(args.subset_participants, args.subset_transactions, args.seed)
    engine_times = []
    engine_result = None
    for _ in range(3):
        t, engine_result = seconds(lambda: calculate_period(inputs))
        engine_times.append(t)
    reference_s, expected = seconds(lambda: reference_run(inputs))
    assert engine_result is not None
    diff = differences(engine_result, expected)
    return {
        "participants": args.subset_participants,
        "transactions": inputs.transactions.height,
        "engine_s_first": round(engine_times[0], 3),
        "engine_s_best": round(min(engine_times), 3),
        "reference_s": round(reference_s, 2),
        "speedup_vs_reference": round(reference_s / min(engine_times), 1),
        "speedup_vs_reference_first_engine_run": round(reference_s / engine_times[0], 1),
        "results_agree_to_the_kopeck": diff == [],
        "first_differences": diff[:5],
    }


def changed_sales(inputs: Any, rep: int) -> tuple[Any, str]:
    """The same inputs with one representative's sales changed: one sale dropped, one added."""
    position = rep_position(rep)
    tx = inputs.transactions
    mine = tx.filter(pl.col("seller_position_id") == position, pl.col("original_id").is_null())
    reversed_ids = set(tx.get_column("original_id").drop_nulls().to_list())
    drop = next(t for t in mine.get_column("transaction_id").to_list() if t not in reversed_ids)
    new = transactions_frame(
        [
            Transaction(
                "LATE-1",
                date(2026, 3, 20),
                date(2026, 3, 20),
                4_200_000,
                "RUB",
                position,
                "loan",
                "region01",
                "online",
                "mass",
            )
        ]
    )
    new = new.cast(tx.schema)  # type: ignore[arg-type]
    changed = pl.concat([tx.filter(pl.col("transaction_id") != drop), new])
    return replace(inputs, transactions=changed), participant_of_rep(rep)


def full_scale(args: argparse.Namespace, out: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The full run, the payroll file, the incremental run and the dashboards at full scale; returns
    what the incremental check needs (so that this run's result is freed before the check reruns)."""
    gen_s, inputs = seconds(lambda: generate(args.participants, args.transactions, args.seed))
    gc.collect()
    with PeakRss() as memory:
        context_s, context = seconds(lambda: prepare_context(inputs))
        run_s, result = seconds(lambda: calculate_period(inputs, context))
    out["full_run"] = {
        "participants": args.participants,
        "positions": len(inputs.org.position_ids),
        "transactions": inputs.transactions.height,
        "generation_s": round(gen_s, 2),
        "prepare_context_s": round(context_s, 2),
        "run_s": round(run_s, 2),
        "total_s": round(context_s + run_s, 2),
        "peak_rss_gb": round(memory.peak / 1e9, 3),
        "payees": result.payees.height,
        "payout_lines": result.payouts.height,
        "total_payment_rub": str(result.payments.get_column("payment_minor").sum() / 100),
    }
    csv_s, csv_text = seconds(lambda: payroll_csv(result))
    out["payroll_export"] = {"rows": csv_text.count("\n") - 1, "seconds": round(csv_s, 2)}

    changed, who = changed_sales(inputs, rep=4242)
    incremental_s, incremental = seconds(lambda: calculate_incremental(changed, result, [who], context))
    cold_s, _ = seconds(lambda: calculate_incremental(changed, result, [who]))
    out["incremental"] = {
        "participant": who,
        "seconds_with_cached_context": round(incremental_s, 3),
        "seconds_including_prepare_context": round(cold_s, 3),
    }
    build_s, index = seconds(lambda: DashboardIndex(result, inputs.plans))
    rng = random.Random(args.seed)
    people = result.payments.get_column("participant_id").to_list()
    sample = [rng.choice(people) for _ in range(args.dashboards)]
    latencies = []
    for pid in sample:
        t, _ = seconds(lambda pid=pid: index.dashboard(pid))
        latencies.append(t * 1000)
    team_s, team = seconds(lambda: index.team(inputs.org, "V000042"))
    out["dashboard"] = {
        "index_build_s": round(build_s, 2),
        "calls": len(latencies),
        "p50_ms": round(pct(latencies, 0.5), 3),
        "p99_ms": round(pct(latencies, 0.99), 3),
        "max_ms": round(max(latencies), 3),
        "mean_ms": round(statistics.mean(latencies), 3),
        "team_view_ms": round(team_s * 1000, 1),
        "team_size": len(team),
    }
    return changed, context, incremental


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--subset-participants", type=int, default=2_000)
    parser.add_argument("--subset-transactions", type=int, default=200_000)
    parser.add_argument("--dashboards", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-incremental-check", action="store_true", help="do not rerun in full to check it")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "commissions.json")
    args = parser.parse_args()

    out: dict[str, Any] = {
        "machine": {"cpus": psutil.cpu_count(), "polars": pl.__version__, "threads": pl.thread_pool_size()}
    }
    out["targets"] = TARGETS
    out["reference_vs_engine"] = reference_comparison(args)
    gc.collect()

    changed, context, incremental = full_scale(args, out)
    gc.collect()
    if not args.skip_incremental_check:
        full_s, full = seconds(lambda: calculate_period(changed, context))
        out["incremental"]["equals_full_rerun"] = differences(incremental, full, credits=False) == []
        out["incremental"]["full_rerun_s"] = round(full_s, 2)
        del full
    out["process_max_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3)
    out["verdict"] = {
        "full_run_s": out["full_run"]["total_s"] <= TARGETS["full_run_s"],
        "full_run_peak_rss_gb": out["full_run"]["peak_rss_gb"] <= TARGETS["full_run_peak_rss_gb"],
        "speedup_vs_reference": out["reference_vs_engine"]["speedup_vs_reference"] >= TARGETS["speedup_vs_reference"],
        "reference_agrees": out["reference_vs_engine"]["results_agree_to_the_kopeck"],
        "incremental_one_participant_s": out["incremental"]["seconds_with_cached_context"]
        <= TARGETS["incremental_one_participant_s"],
        "dashboard_p99_ms": out["dashboard"]["p99_ms"] <= TARGETS["dashboard_p99_ms"],
    }
    text = json.dumps(out, indent=2, ensure_ascii=False)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
