"""Commissions service benchmark: the service as users call it, over gRPC, with PostgreSQL storage.

An embedded PostgreSQL cluster and the real commissions gRPC server are started in this process, the
way the tests start them (`crmctl.infra.start_postgres`, the service's Alembic migrations,
`services.commissions.main.start`). A world from `bench.commissions_data` is loaded through the public
API only (SaveOrganisation, SavePlan, AssignPlan, SetVariableOverride, IngestTransactions), then a full
run, an incremental run for one representative after one new sale, a full rerun (which must pay what
the incremental run paid), dashboards, statements, team views and the payroll export are measured.
The same world is then computed directly with the pure engine, so the JSON shows what storage and gRPC
add on top of the engine. Where the server spends its time is measured by timing wrappers installed
around the service's own functions in this process (no service code is changed): `server_breakdown`.

    python -m bench.commissions_service_bench                                  # 10,000 / 1,000,000
    python -m bench.commissions_service_bench --participants 500 --transactions 20000   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import inspect
import json
import os
import random
import resource
import shutil
import signal
import statistics
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import polars as pl
import psutil

from bench.commissions_bench import PeakRss, pct
from bench.commissions_data import (
    PERIOD,
    Layout,
    organisation,
    participant_of_rep,
    plan_book,
    rep_position,
    transactions,
)
from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2
from crm_runtime import db
from crm_runtime.settings import Settings
from crmctl.infra import LocalPostgres, start_postgres
from services.commissions.domain.dashboard import DashboardIndex
from services.commissions.domain.engine import calculate_incremental, calculate_period, prepare_context
from services.commissions.domain.inputs import RunInputs
from services.commissions.domain.org import Organisation
from services.commissions.domain.payroll import payroll_csv
from services.commissions.domain.plans import PlanBook
from services.commissions.domain.results import RunResult
from services.commissions.domain.transactions import Transaction, transactions_frame
from services.commissions.main import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "incremental_one_participant_s": 1.0,
    "dashboard_p99_ms": 50.0,
}
PERIOD_TEXT = str(PERIOD)
DATABASE = "crm_commissions_bench"
MAX_CLIENT_MESSAGE = 256 * 1024 * 1024
Payments = list[tuple[str, int, int]]


# -- where the server's time goes ------------------------------------------------------------------


class Probe:
    """Wraps functions of the service (in this process) to add up calls and seconds per function."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, list[float]] = {}

    def _add(self, label: str, elapsed: float) -> None:
        with self._lock:
            entry = self._totals.setdefault(label, [0, 0.0])
            entry[0] += 1
            entry[1] += elapsed

    def wrap(self, owner: Any, name: str, label: str) -> None:
        fn = getattr(owner, name, None)
        if fn is None or getattr(fn, "__bench_probe__", False):
            return  # renamed or gone (the service changes under this bench): nothing to time
        probe = self
        if inspect.iscoroutinefunction(fn):

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    probe._add(label, time.perf_counter() - started)

        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                started = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    probe._add(label, time.perf_counter() - started)

        functools.update_wrapper(wrapper, fn)
        wrapper.__bench_probe__ = True  # type: ignore[attr-defined]
        setattr(owner, name, wrapper)

    def take(self) -> dict[str, dict[str, float]]:
        """What was timed since the last call, slowest first (nested timings overlap)."""
        with self._lock:
            totals, self._totals = self._totals, {}
        ordered = sorted(totals.items(), key=lambda kv: -kv[1][1])
        return {label: {"calls": int(n), "s": round(s, 3)} for label, (n, s) in ordered}


def install_probe() -> Probe:
    from services.commissions import servicer
    from services.commissions.app import runs, service
    from services.commissions.domain import results
    from services.commissions.store import repository

    probe = Probe()
    for name in (
        "organisation",
        "plan_book",
        "variable_overrides",
        "transactions_by_id",
        "reversed_minor",
        "add_transactions",
        "transactions_between",
        "transactions_of_sellers",
        "sellers_new_since",
        "add_run",
        "run",
        "run_state",
        "frames",
        "participant_names",
        "add_organisation",
    ):
        probe.wrap(repository.Repository, name, f"repository.{name}")
    # Frame (de)serialisation, whatever the storage format is called now (frame_to_json, frame_to_ipc...).
    for name in dir(repository):
        if name.startswith("frame_") and name != "frame_schema" and callable(getattr(repository, name)):
            probe.wrap(repository, name, f"repository.{name}")
    for name in ("prepare_context", "calculate_period", "calculate_incremental", "transactions_frame"):
        probe.wrap(runs, name, f"engine.{name}" if name != "transactions_frame" else "runs.transactions_frame")
    probe.wrap(runs, "rebuild_result", "runs.rebuild_result")
    probe.wrap(service, "ingest", "domain.ingest (row validation)")
    probe.wrap(service, "validate_plan_book", "domain.validate_plan_book")
    probe.wrap(service, "validate_organisation", "domain.validate_organisation")
    probe.wrap(service, "rebuild_result", "service.rebuild_result")
    probe.wrap(results.RunResult, "credit_lines", "RunResult.credit_lines")
    probe.wrap(DashboardIndex, "__init__", "DashboardIndex build")
    for name in ("payroll_csv", "participant_statement", "credits_behind"):
        probe.wrap(servicer, name, f"servicer.{name}")
    for name in ("ingest_transactions", "run_period", "stored_run", "team", "transactions"):
        probe.wrap(service.CommissionsApp, name, f"app.{name}")
    return probe


# -- the world as wire messages --------------------------------------------------------------------


def day(value: date | None) -> common_pb2.Date | None:
    return None if value is None else common_pb2.Date(year=value.year, month=value.month, day=value.day)


def organisation_request(org: Organisation) -> pb.SaveOrganisationRequest:
    return pb.SaveOrganisationRequest(
        request_id="bench-org",
        titles=[pb.Title(title_id=t.title_id, name=t.name) for t in org.titles],
        positions=[
            pb.PositionVersion(
                position_id=v.position_id,
                title_id=v.title_id,
                manager_position_id=v.manager_id or "",
                valid_from=day(v.valid_from),
                valid_to=day(v.valid_to),
            )
            for v in org.positions
        ],
        participants=[pb.Participant(participant_id=p.participant_id, name=p.name) for p in org.participants],
        assignments=[
            pb.Assignment(
                participant_id=a.participant_id,
                position_id=a.position_id,
                valid_from=day(a.valid_from),
                valid_to=day(a.valid_to),
            )
            for a in org.assignments
        ],
    )


def wire_frame(tx: pl.DataFrame) -> pl.DataFrame:
    """The generated transactions as TransactionRow fields (strings; amounts as major-unit decimals)."""
    minor = pl.col("amount_minor")
    amount = pl.concat_str(
        [
            pl.when(minor < 0).then(pl.lit("-")).otherwise(pl.lit("")),
            (minor.abs() // 100).cast(pl.String),
            pl.lit("."),
            (minor.abs() % 100).cast(pl.String).str.zfill(2),
        ]
    )
    return tx.select(
        pl.col("transaction_id"),
        pl.col("booking_date").dt.strftime("%Y-%m-%d").alias("date"),
        amount.alias("amount"),
        pl.col("currency").cast(pl.String),
        pl.col("seller_position_id").cast(pl.String).alias("position_id"),
        *(pl.col(c).cast(pl.String) for c in ("product", "territory", "channel", "segment")),
        pl.col("original_id").fill_null(""),
    )


def chunk_messages(rows: pl.DataFrame, chunk_rows: int) -> list[pb.IngestTransactionsRequest]:
    out = []
    for start in range(0, rows.height, chunk_rows):
        part = rows.slice(start, chunk_rows)
        out.append(
            pb.IngestTransactionsRequest(
                currency="RUB" if start == 0 else "",
                rows=[
                    pb.TransactionRow(
                        transaction_id=t,
                        date=d,
                        amount=a,
                        currency=c,
                        position_id=p,
                        product=pr,
                        territory=te,
                        channel=ch,
                        segment=s,
                        original_id=o,
                    )
                    for t, d, a, c, p, pr, te, ch, s, o in part.iter_rows()
                ],
            )
        )
    return out


async def stream(messages: Sequence[pb.IngestTransactionsRequest]) -> AsyncIterator[pb.IngestTransactionsRequest]:
    for m in messages:
        yield m


def payments_of(response: pb.RunPeriodResponse) -> Payments:
    return sorted((p.participant_id, p.earnings.minor_units, p.payment.minor_units) for p in response.payments)


def engine_payments(result: RunResult) -> Payments:
    frame = result.payments.select("participant_id", "earnings_minor", "payment_minor").sort("participant_id")
    return [(p, int(e), int(pay)) for p, e, pay in frame.iter_rows()]


def first_difference(a: Payments, b: Payments) -> str:
    if len(a) != len(b):
        return f"{len(a)} payment lines vs {len(b)}"
    for x, y in zip(a, b, strict=True):
        if x != y:
            return f"{x} vs {y}"
    return ""


def latency_figures(samples_ms: list[float]) -> dict[str, float]:
    return {
        "calls": len(samples_ms),
        "p50_ms": round(pct(samples_ms, 0.5), 2),
        "p95_ms": round(pct(samples_ms, 0.95), 2),
        "p99_ms": round(pct(samples_ms, 0.99), 2),
        "max_ms": round(max(samples_ms), 2),
        "mean_ms": round(statistics.mean(samples_ms), 2),
    }


async def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = await call
    return time.perf_counter() - started, value


def load_average() -> float:
    """The machine's 1-minute load average: above the CPU count, other work was competing with this run."""
    return round(os.getloadavg()[0], 2)


def max_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3)


# -- the benchmark ---------------------------------------------------------------------------------


class World:
    def __init__(self, args: argparse.Namespace) -> None:
        self.layout = Layout.of(args.participants)
        self.org = organisation(self.layout)
        self.book: PlanBook = plan_book(self.layout)
        self.tx = transactions(self.layout, self.org, args.transactions, args.seed)
        rep = 4242 % self.layout.reps
        if rep % 100 == 0:  # a mover's position changes mid-period: take a representative who stays
            rep += 1
        self.rep = rep
        self.who = participant_of_rep(rep)
        self.late = Transaction(
            "BENCH-LATE-1",
            date(2026, 3, 20),
            date(2026, 3, 20),
            4_200_000,
            "RUB",
            rep_position(rep),
            "loan",
            "region01",
            "online",
            "mass",
        )

    def inputs(self, tx: pl.DataFrame | None = None) -> RunInputs:
        return RunInputs(period=PERIOD, org=self.org, plans=self.book, transactions=self.tx if tx is None else tx)

    def late_row(self) -> pb.TransactionRow:
        t = self.late
        return pb.TransactionRow(
            transaction_id=t.transaction_id,
            date=t.booking_date.isoformat(),
            amount=f"{t.amount_minor // 100}.{t.amount_minor % 100:02d}",
            currency=t.currency,
            position_id=t.seller_position_id,
            product=t.product,
            territory=t.territory,
            channel=t.channel,
            segment=t.segment,
        )


async def load(
    api: commissions_pb2_grpc.CommissionsServiceStub,
    world: World,
    args: argparse.Namespace,
    probe: Probe,
    breakdown: dict[str, Any],
) -> dict:
    out: dict[str, Any] = {}
    request = organisation_request(world.org)
    seconds, _ = await timed(api.SaveOrganisation(request))
    out["save_organisation"] = {
        "positions": len(request.positions),
        "participants": len(request.participants),
        "assignments": len(request.assignments),
        "request_mb": round(request.ByteSize() / 1e6, 2),
        "seconds": round(seconds, 2),
    }
    breakdown["load.save_organisation"] = probe.take()

    started = time.perf_counter()
    for plan in world.book.plans:
        data = json.loads(plan.model_dump_json())
        data.pop("version", None)
        await api.SavePlan(pb.SavePlanRequest(request_id=f"bench-plan-{plan.plan_id}", plan_json=json.dumps(data)))
    out["save_plans"] = {"plans": len(world.book.plans), "seconds": round(time.perf_counter() - started, 3)}

    started = time.perf_counter()
    for i, a in enumerate(world.book.assignments):
        await api.AssignPlan(
            pb.AssignPlanRequest(
                request_id=f"bench-assign-{i}",
                plan_id=a.plan_id,
                title_id=a.title_id or "",
                position_id=a.position_id or "",
                valid_from=day(a.valid_from),
                valid_to=day(a.valid_to),
            )
        )
    out["assign_plans"] = {
        "assignments": len(world.book.assignments),
        "seconds": round(time.perf_counter() - started, 3),
    }
    breakdown["load.plans_and_assignments"] = probe.take()

    latencies = []
    started = time.perf_counter()
    for i, o in enumerate(world.book.overrides):
        seconds, _ = await timed(
            api.SetVariableOverride(
                pb.SetVariableOverrideRequest(
                    request_id=f"bench-override-{i}",
                    plan_id=o.plan_id,
                    variable=o.variable,
                    value=str(o.value),
                    title_id=o.title_id or "",
                    position_id=o.position_id or "",
                    valid_from=day(o.valid_from),
                    valid_to=day(o.valid_to),
                )
            )
        )
        latencies.append(seconds * 1000)
        if args.progress and (i + 1) % 1000 == 0:
            print(f"  {i + 1} overrides, last call {latencies[-1]:.0f} ms", flush=True)
    overrides: dict[str, Any] = {
        "overrides": len(latencies),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if latencies:
        head, tail = latencies[:100], latencies[-100:]
        block = max(1, len(latencies) // 10)
        overrides |= {
            "first_100_mean_ms": round(statistics.mean(head), 1),
            "last_100_mean_ms": round(statistics.mean(tail), 1),
            "mean_ms_by_tenth_of_the_calls": [
                round(statistics.mean(latencies[i : i + block]), 1) for i in range(0, len(latencies), block)
            ],
        }
    out["set_variable_overrides"] = overrides
    breakdown["load.set_variable_overrides"] = probe.take()

    rows = wire_frame(world.tx)
    build_s = call_s = 0.0
    accepted = duplicates = 0
    rejected: list[str] = []
    streams = 0
    for start in range(0, rows.height, args.stream_rows):
        t0 = time.perf_counter()
        messages = chunk_messages(rows.slice(start, args.stream_rows), args.chunk_rows)
        t1 = time.perf_counter()
        answer = await api.IngestTransactions(stream(messages))
        t2 = time.perf_counter()
        build_s += t1 - t0
        call_s += t2 - t1
        streams += 1
        accepted += answer.accepted
        duplicates += answer.duplicates
        rejected += [f"{r.transaction_id} {r.field}: {r.reason}" for r in answer.rejected[:3]]
        del messages
        if args.progress and streams % 10 == 0:
            print(f"  ingested {start + args.stream_rows:,} rows, {call_s:.1f}s in calls", flush=True)
    out["ingest"] = {
        "rows": rows.height,
        "streams": streams,
        "rows_per_stream": args.stream_rows,
        "rows_per_message": args.chunk_rows,
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": len(rejected),
        "first_rejections": rejected[:5],
        "client_message_build_s": round(build_s, 2),
        "rpc_s": round(call_s, 2),
        "rows_per_s": round(rows.height / call_s),
        "rows_per_s_including_client_build": round(rows.height / (call_s + build_s)),
        "load_average_1m": load_average(),
    }
    breakdown["load.ingest"] = probe.take()
    assert accepted == rows.height, f"only {accepted:,} of {rows.height:,} rows accepted: {rejected[:5]}"
    return out


def storage(pg: LocalPostgres) -> dict[str, Any]:
    sizes = pg.psql(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'commissions' AND c.relkind = 'r' ORDER BY 2 DESC",
        database=DATABASE,
    )
    frames = pg.psql(
        "SELECT name, pg_column_size(f.*) FROM commissions.run_frames f WHERE run_version = 1 ORDER BY 2 DESC",
        database=DATABASE,
    )

    def table(text: str) -> dict[str, float]:
        out = {}
        for line in text.splitlines():
            name, size = line.split("|")
            out[name] = round(int(size) / 1e6, 2)
        return out

    return {"tables_mb": table(sizes), "run_1_frames_mb_stored": table(frames)}


async def service_part(
    world: World, args: argparse.Namespace, out: dict[str, Any], pg: LocalPostgres, probe: Probe
) -> tuple[Payments, Payments, list[str]]:
    from services.commissions.main import start

    settings = Settings(  # type: ignore[call-arg]
        commissions_database_url=pg.url(DATABASE), temporal_address="127.0.0.1:1", grpc_port=0, db_pool_size=5
    )
    grpc_app, _ = await start(settings, port=0)
    breakdown: dict[str, Any] = {}
    out["server_breakdown"] = breakdown
    try:
        options = [("grpc.max_receive_message_length", MAX_CLIENT_MESSAGE)]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_app.port}", options=options) as channel:
            api = commissions_pb2_grpc.CommissionsServiceStub(channel)
            print("loading the world through the API...", flush=True)
            out["load"] = await load(api, world, args, probe, breakdown)
            print(json.dumps(out["load"]), flush=True)
            gc.collect()

            print("full run...", flush=True)
            with PeakRss() as memory:
                full_s, full = await timed(
                    api.RunPeriod(pb.RunPeriodRequest(request_id="bench-run-1", period=PERIOD_TEXT))
                )
            out["full_run"] = {
                "seconds": round(full_s, 2),
                "peak_rss_gb_during_run": round(memory.peak / 1e9, 3),
                "process_max_rss_gb_after_run": max_rss_gb(),
                "run_version": full.run_version,
                "kind": full.kind,
                "payees": full.payees,
                "payment_lines": len(full.payments),
                "total_payment_rub": str(full.total_payment.minor_units / 100),
                "response_mb": round(full.ByteSize() / 1e6, 2),
                "load_average_1m": load_average(),
            }
            breakdown["full_run"] = probe.take()
            print(json.dumps(out["full_run"]), flush=True)
            first_payments = payments_of(full)
            payees = [p.participant_id for p in full.payments]
            del full
            gc.collect()

            print("incremental run...", flush=True)
            ingest_s, answer = await timed(
                api.IngestTransactions(stream([pb.IngestTransactionsRequest(currency="RUB", rows=[world.late_row()])]))
            )
            assert answer.accepted == 1, answer
            breakdown["ingest_one"] = probe.take()
            with PeakRss() as memory:
                inc_s, inc = await timed(
                    api.RunPeriod(
                        pb.RunPeriodRequest(request_id="bench-run-2", period=PERIOD_TEXT, mode=pb.RUN_MODE_INCREMENTAL)
                    )
                )
            breakdown["incremental_run"] = probe.take()
            out["incremental"] = {
                "participant": world.who,
                "ingest_one_transaction_ms": round(ingest_s * 1000, 1),
                "seconds": round(inc_s, 3),
                "peak_rss_gb_during_run": round(memory.peak / 1e9, 3),
                "kind": inc.kind,
                "recomputed_participants": inc.recomputed_participants,
                "note": inc.note,
                "run_version": inc.run_version,
                "load_average_1m": load_average(),
            }
            print(json.dumps(out["incremental"]), flush=True)
            assert inc.kind == "INCREMENTAL", f"the incremental run ran {inc.kind}: {inc.note}"
            assert 1 <= inc.recomputed_participants <= 10, inc.recomputed_participants
            inc_payments = payments_of(inc)
            del inc

            print("full rerun (the check of the incremental run)...", flush=True)
            rerun_s, rerun = await timed(
                api.RunPeriod(pb.RunPeriodRequest(request_id="bench-run-3", period=PERIOD_TEXT, mode=pb.RUN_MODE_FULL))
            )
            breakdown["full_rerun"] = probe.take()
            rerun_payments = payments_of(rerun)
            out["incremental"]["full_rerun_s"] = round(rerun_s, 2)
            out["incremental"]["equals_full_rerun"] = inc_payments == rerun_payments
            out["incremental"]["first_difference"] = first_difference(inc_payments, rerun_payments)
            out["incremental"]["payment_lines_changed"] = len(set(rerun_payments) - set(first_payments))
            assert rerun.kind == "FULL", rerun.kind
            assert inc_payments == rerun_payments, first_difference(inc_payments, rerun_payments)
            del rerun
            gc.collect()

            rng = random.Random(args.seed)
            await dashboards(api, payees, rng, args, out, probe, breakdown)
            await statements(api, payees, rng, args, out, probe, breakdown)
            await teams(api, world, rng, args, out, probe, breakdown)

            print("payroll export...", flush=True)
            export_s, export = await timed(api.ExportPayroll(pb.ExportPayrollRequest(period=PERIOD_TEXT)))
            out["payroll_export"] = {
                "seconds": round(export_s, 3),
                "rows": export.csv.count("\n") - 1,
                "csv_mb": round(len(export.csv) / 1e6, 2),
            }
            breakdown["payroll_export"] = probe.take()
    finally:
        await grpc_app.stop(grace=1)
    out["storage"] = storage(pg)
    out["process_max_rss_gb_after_service"] = max_rss_gb()
    return first_payments, inc_payments, payees


async def dashboards(
    api: commissions_pb2_grpc.CommissionsServiceStub,
    payees: list[str],
    rng: random.Random,
    args: argparse.Namespace,
    out: dict[str, Any],
    probe: Probe,
    breakdown: dict[str, Any],
) -> None:
    print("dashboards...", flush=True)
    sample = [rng.choice(payees) for _ in range(args.dashboards)]
    first_s, _ = await timed(api.GetDashboard(pb.GetDashboardRequest(participant_id=sample[0], period=PERIOD_TEXT)))
    breakdown["dashboard_first_call"] = probe.take()
    latencies = []
    for pid in sample:
        seconds, _ = await timed(api.GetDashboard(pb.GetDashboardRequest(participant_id=pid, period=PERIOD_TEXT)))
        latencies.append(seconds * 1000)
    breakdown["dashboards"] = probe.take()
    out["dashboard"] = {"first_call_ms (loads the run, builds the index)": round(first_s * 1000, 1)}
    out["dashboard"] |= latency_figures(latencies) | {"load_average_1m": load_average()}
    print(json.dumps(out["dashboard"]), flush=True)


async def statements(
    api: commissions_pb2_grpc.CommissionsServiceStub,
    payees: list[str],
    rng: random.Random,
    args: argparse.Namespace,
    out: dict[str, Any],
    probe: Probe,
    breakdown: dict[str, Any],
) -> None:
    print("statements...", flush=True)
    sample = [rng.choice(payees) for _ in range(args.statements)]
    errors: dict[str, int] = {}
    traces: list[int] = []

    async def call(pid: str) -> float:
        started = time.perf_counter()
        try:
            answer = await api.GetStatement(pb.GetStatementRequest(participant_id=pid, period=PERIOD_TEXT))
            traces.append(sum(len(m.credits) for m in answer.measurements))
        except grpc.aio.AioRpcError as exc:
            key = f"{pid}: {exc.code().name}"
            errors[key] = errors.get(key, 0) + 1
        return time.perf_counter() - started

    first_s = await call(sample[0])
    breakdown["statement_first_call"] = probe.take()
    latencies = [await call(pid) * 1000 for pid in sample]
    breakdown["statements"] = probe.take()
    out["statement"] = {"first_call_ms (loads the run with its credit lines)": round(first_s * 1000, 1)}
    out["statement"] |= latency_figures(latencies)
    out["statement"] |= {
        "credit_traces_mean": round(statistics.mean(traces), 1) if traces else 0,
        "credit_traces_max": max(traces, default=0),
        "errors": errors,
    }
    print(json.dumps(out["statement"]), flush=True)

    # Leaders' statements trace every credit of their team: the largest answers the service gives.
    leaders: dict[str, Any] = {}
    for title, pid in (("manager", "V000000"), ("director", "W00000"), ("key_account_overlay", "KAM0")):
        started = time.perf_counter()
        try:
            answer = await api.GetStatement(pb.GetStatementRequest(participant_id=pid, period=PERIOD_TEXT))
            outcome: dict[str, Any] = {
                "status": "OK",
                "credit_traces": sum(len(m.credits) for m in answer.measurements),
                "response_mb": round(answer.ByteSize() / 1e6, 2),
            }
        except grpc.aio.AioRpcError as exc:
            outcome = {"status": exc.code().name, "details": (exc.details() or "")[:200]}
        leaders[title] = {"participant": pid, "ms": round((time.perf_counter() - started) * 1000, 1)} | outcome
    out["statement"]["leaders"] = leaders
    breakdown["statements_of_leaders"] = probe.take()
    print(json.dumps(leaders), flush=True)


async def teams(
    api: commissions_pb2_grpc.CommissionsServiceStub,
    world: World,
    rng: random.Random,
    args: argparse.Namespace,
    out: dict[str, Any],
    probe: Probe,
    breakdown: dict[str, Any],
) -> None:
    print("team views...", flush=True)
    managers = [f"V{j:06d}" for j in range(world.layout.managers)]
    sample = [rng.choice(managers) for _ in range(args.teams)]
    latencies = []
    sizes = []
    for manager in sample:
        seconds, answer = await timed(api.GetTeam(pb.GetTeamRequest(manager_id=manager, period=PERIOD_TEXT)))
        latencies.append(seconds * 1000)
        sizes.append(len(answer.members))
    breakdown["teams"] = probe.take()
    out["team"] = latency_figures(latencies) | {"team_size_mean": round(statistics.mean(sizes), 1)}
    print(json.dumps(out["team"]), flush=True)


def baseline(
    world: World, args: argparse.Namespace, service_payments: Payments, service_inc: Payments, payees: list[str]
) -> dict[str, Any]:
    """The same full run, incremental run, dashboards and payroll file with the pure engine in memory."""
    print("baseline: the pure engine on the same data...", flush=True)
    inputs = world.inputs()
    gc.collect()
    with PeakRss() as memory:
        started = time.perf_counter()
        context = prepare_context(inputs)
        context_s = time.perf_counter() - started
        result = calculate_period(inputs, context)
        full_s = time.perf_counter() - started
    engine_full = engine_payments(result)
    late = transactions_frame([world.late]).cast(world.tx.schema)  # type: ignore[arg-type]
    changed = world.inputs(pl.concat([world.tx, late]))
    started = time.perf_counter()
    incremental = calculate_incremental(changed, result, [world.who], context)
    inc_s = time.perf_counter() - started
    engine_inc = engine_payments(incremental)
    started = time.perf_counter()
    index = DashboardIndex(incremental, world.book)
    index_s = time.perf_counter() - started
    rng = random.Random(args.seed)
    latencies = []
    for pid in (rng.choice(payees) for _ in range(args.dashboards)):
        t0 = time.perf_counter()
        index.dashboard(pid)
        latencies.append((time.perf_counter() - t0) * 1000)
    started = time.perf_counter()
    payroll_csv(incremental)
    payroll_s = time.perf_counter() - started
    return {
        "load_average_1m": load_average(),
        "full_run_s": round(full_s, 2),
        "full_run_prepare_context_s": round(context_s, 2),
        "full_run_peak_rss_gb": round(memory.peak / 1e9, 3),
        "full_run_equals_service_full_run": engine_full == service_payments,
        "full_run_first_difference": first_difference(engine_full, service_payments),
        "incremental_s_with_cached_context": round(inc_s, 3),
        "incremental_equals_service_incremental": engine_inc == service_inc,
        "dashboard_index_build_s": round(index_s, 3),
        "dashboard_p50_ms": round(pct(latencies, 0.5), 3),
        "dashboard_p99_ms": round(pct(latencies, 0.99), 3),
        "payroll_csv_s": round(payroll_s, 3),
    }


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 1) if b else None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "machine": {
            "cpus": psutil.cpu_count(),
            "polars": pl.__version__,
            "threads": pl.thread_pool_size(),
            "load_average_1m_at_start": load_average(),
        }
    }
    started = time.perf_counter()
    world = World(args)
    out["scale"] = {
        "participants": args.participants,
        "positions": len(world.org.position_ids),
        "transactions": world.tx.height,
        "plans": len(world.book.plans),
        "variable_overrides": len(world.book.overrides),
        "generation_s": round(time.perf_counter() - started, 2),
    }
    out["targets"] = TARGETS

    base = Path(args.pgdir or os.environ.get("CRM_TEST_PGDIR", "/tmp")) / f"crm-bench-{uuid.uuid4().hex[:8]}"
    base.mkdir(parents=True)
    started = time.perf_counter()
    pg = start_postgres(base / "data")
    try:
        pg.ensure_database(DATABASE)
        await db.migrate_async(MIGRATIONS, pg.url(DATABASE))
        out["setup_s (postgres, migrations)"] = round(time.perf_counter() - started, 2)
        probe = install_probe()
        service_payments, service_inc, payees = await service_part(world, args, out, pg, probe)
    finally:
        pg.stop()
        if not args.keep_db:
            shutil.rmtree(base, ignore_errors=True)
    gc.collect()

    out["baseline_engine"] = baseline(world, args, service_payments, service_inc, payees)
    b = out["baseline_engine"]
    out["service_over_engine"] = {
        "full_run_x": ratio(out["full_run"]["seconds"], b["full_run_s"]),
        "full_run_extra_s": round(out["full_run"]["seconds"] - b["full_run_s"], 2),
        "incremental_x": ratio(out["incremental"]["seconds"], b["incremental_s_with_cached_context"]),
        "dashboard_p99_x": ratio(out["dashboard"]["p99_ms"], b["dashboard_p99_ms"]),
        "payroll_export_x": ratio(out["payroll_export"]["seconds"], b["payroll_csv_s"]),
    }
    out["process_max_rss_gb"] = max_rss_gb()
    out["verdict"] = {
        "incremental_one_participant_s": out["incremental"]["seconds"] <= TARGETS["incremental_one_participant_s"],
        "dashboard_p99_ms": out["dashboard"]["p99_ms"] <= TARGETS["dashboard_p99_ms"],
        "incremental_equals_full_rerun": out["incremental"]["equals_full_rerun"],
        "service_equals_engine": b["full_run_equals_service_full_run"] and b["incremental_equals_service_incremental"],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=5_000, help="rows per IngestTransactions message")
    parser.add_argument("--stream-rows", type=int, default=20_000, help="rows per IngestTransactions stream")
    parser.add_argument("--dashboards", type=int, default=500)
    parser.add_argument("--statements", type=int, default=100)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pgdir", type=Path, default=None, help="where the PostgreSQL cluster goes (default /tmp)")
    parser.add_argument("--keep-db", action="store_true", help="leave the cluster's folder behind")
    parser.add_argument("--progress", action="store_true", help="print progress of the long loading steps")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "commissions_service.json")
    args = parser.parse_args()

    # Stopped from outside: unwind normally, so that the PostgreSQL cluster is stopped and removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out = asyncio.run(run(args))
    text = json.dumps(out, indent=2, ensure_ascii=False)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
