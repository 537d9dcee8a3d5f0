"""Plan distribution benchmark: DistributePlanDocuments for a whole plan population on the real Temporal
dev server, with the commissions service and the worker in their own processes, as deployed.

Started here: an embedded PostgreSQL cluster (`crmctl.infra.start_postgres`, the commissions
migrations), the Temporal dev server with the platform's search attributes (`start_temporal`, its own
free port), then `crm serve commissions` and `crm worker` as subprocesses configured by CRM_*
variables only (batch size and concurrency through CRM_DISTRIBUTION_BATCH_SIZE and
CRM_DISTRIBUTION_CONCURRENCY). A world of representatives in teams under managers under a director,
with one plan "rep" assigned by title, is loaded through the public gRPC API.

Measured from the DistributePlanDocuments call, polling every 0.5 s: when the distribution workflow
completes (every document drafted and submitted), and when every approval workflow is waiting for its
first approver: ListPlanDocuments' by_status counts all documents IN_APPROVAL *and* each document's
"submitted" step is recorded (the approval workflow's first activity; counted in the bench's own
database). Where the time goes: CPU seconds of each process over the distribution, per-RPC server
times and the worker's Temporal SDK latencies (both scraped from the processes' Prometheus endpoints),
the cost of each drafting step measured in this process on the same data (render_pdf alone is the CPU
floor: N x its time), and with --profile a stack-sampling profile of the server and the worker.
A run that has not finished after --max-seconds (default 20 minutes) stops there and reports the rate
so far and the time the whole distribution would take at the rate of its last two minutes.

    python -m bench.distribution_bench                                      # 10,000 participants
    python -m bench.distribution_bench --participants 200                   # a quick look
    python -m bench.distribution_bench --participants 2000 --profile        # where the time goes
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import json
import logging
import os
import platform
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import psutil

from crm.commissions.v1 import commissions_pb2 as pb
from crm.commissions.v1 import commissions_pb2_grpc
from crm.common.v1 import common_pb2
from crm_runtime import db
from crm_runtime.settings import Settings
from crmctl.infra import LocalPostgres, LocalTemporal, free_port, start_postgres, start_temporal, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "services" / "commissions" / "migrations"
DATABASE = "crm_commissions_distribution_bench"
PERIOD = "2026-03"
VALID_FROM = common_pb2.Date(year=2026, month=1, day=1)
AUTHOR = "bench-compensation"
PLAN_ID = "rep"
POLL_S = 0.5
#: argv[1] of a child started under the stack sampler (see `sampled_child`).
SAMPLED_CHILD = "--sampled-child"
MAX_MESSAGE = 64 * 1024 * 1024

REP_PLAN = {
    "plan_id": PLAN_ID,
    "name": "Representatives 2026",
    "variables": {"quota": "100000", "target_incentive": "120000"},
    "measurements": [{"measurement_id": "revenue", "filter": {"credit_types": "DIRECT"}}],
    "credit_rules": [{"rule_id": "all", "rollup_levels": None}],
    "incentives": [
        {
            "kind": "RATE_TABLE",
            "incentive_id": "commission",
            "base": "revenue",
            "basis": "ATTAINMENT",
            "quota": "quota",
            "tiers": [{"lower": "0", "upper": "1", "rate": "0.02"}, {"lower": "1", "rate": "0.04"}],
        }
    ],
}
FIRST = ("Анна", "Борис", "Вера", "Глеб", "Дарья", "Егор", "Жанна", "Зоя", "Иван", "Карина", "Лев", "Мария")
LAST = ("Смирнов", "Иванов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов", "Новиков", "Морозов", "Петров")


# -- the world ---------------------------------------------------------------------------------------


def rep_id(i: int) -> str:
    return f"rep{i:05d}"


def manager_id(j: int) -> str:
    return f"mgr{j:03d}"


def person(i: int) -> str:
    return f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}"


@dataclass(frozen=True)
class Layout:
    participants: int
    team_size: int

    @property
    def managers(self) -> int:
        return max(1, -(-self.participants // self.team_size))

    def manager_of(self, i: int) -> int:
        return i // self.team_size


def organisation_requests(layout: Layout, chunk: int) -> list[pb.SaveOrganisationRequest]:
    """The director and the managers first, then the representatives in chunks (each call is checked
    against the whole organisation stored so far)."""
    head = pb.SaveOrganisationRequest(
        request_id="bench-org-head",
        titles=[pb.Title(title_id=t, name=n) for t, n in (("DIR", "Director"), ("MGR", "Manager"), ("REP", "Rep"))],
        positions=[
            pb.PositionVersion(position_id="D1", title_id="DIR", valid_from=VALID_FROM),
            *(
                pb.PositionVersion(
                    position_id=f"M{j:03d}", title_id="MGR", manager_position_id="D1", valid_from=VALID_FROM
                )
                for j in range(layout.managers)
            ),
        ],
        participants=[
            pb.Participant(participant_id="director", name="Глеб Орлов"),
            *(pb.Participant(participant_id=manager_id(j), name=person(j + 7)) for j in range(layout.managers)),
        ],
        assignments=[
            pb.Assignment(participant_id="director", position_id="D1", valid_from=VALID_FROM),
            *(
                pb.Assignment(participant_id=manager_id(j), position_id=f"M{j:03d}", valid_from=VALID_FROM)
                for j in range(layout.managers)
            ),
        ],
    )
    requests = [head]
    for start in range(0, layout.participants, chunk):
        ids = range(start, min(layout.participants, start + chunk))
        requests.append(
            pb.SaveOrganisationRequest(
                request_id=f"bench-org-{start}",
                positions=[
                    pb.PositionVersion(
                        position_id=f"R{i:05d}",
                        title_id="REP",
                        manager_position_id=f"M{layout.manager_of(i):03d}",
                        valid_from=VALID_FROM,
                    )
                    for i in ids
                ],
                participants=[pb.Participant(participant_id=rep_id(i), name=person(i)) for i in ids],
                assignments=[
                    pb.Assignment(participant_id=rep_id(i), position_id=f"R{i:05d}", valid_from=VALID_FROM) for i in ids
                ],
            )
        )
    return requests


async def build_world(api: commissions_pb2_grpc.CommissionsServiceStub, layout: Layout, chunk: int) -> dict[str, Any]:
    started = time.perf_counter()
    calls = []
    for request in organisation_requests(layout, chunk):
        t0 = time.perf_counter()
        await api.SaveOrganisation(request, timeout=600)
        calls.append(round(time.perf_counter() - t0, 2))
    org_s = time.perf_counter() - started
    t0 = time.perf_counter()
    await api.SavePlan(pb.SavePlanRequest(request_id="bench-plan-rep", plan_json=json.dumps(REP_PLAN)))
    await api.AssignPlan(
        pb.AssignPlanRequest(request_id="bench-assign-rep", plan_id=PLAN_ID, title_id="REP", valid_from=VALID_FROM)
    )
    return {
        "representatives": layout.participants,
        "managers": layout.managers,
        "team_size": layout.team_size,
        "save_organisation_calls": len(calls),
        "save_organisation_s": round(org_s, 2),
        "save_organisation_s_per_call": calls,
        "save_plan_and_assign_s": round(time.perf_counter() - t0, 3),
    }


# -- processes ----------------------------------------------------------------------------------------


@dataclass
class Child:
    """A platform process started by the bench (`crm serve commissions`, `crm worker`)."""

    name: str
    proc: subprocess.Popen
    log: Path
    profile: Path | None = None
    exit_code: int | None = None

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: the service drains, the worker finishes activities
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.exit_code = self.proc.returncode
        return self.exit_code


def spawn(name: str, crm_args: list[str], env: dict[str, str], work: Path, profile: bool) -> Child:
    log = work / f"{name}.log"
    samples = work / f"{name}.profile.json" if profile else None
    if samples is not None:
        command = [sys.executable, "-m", "bench.distribution_bench", SAMPLED_CHILD, str(samples), *crm_args]
    else:
        command = [sys.executable, "-m", "crmctl.cli", *crm_args]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Child(name, proc, log, samples)


def child_env(args: argparse.Namespace, db_url: str, temporal: LocalTemporal, queue: str, grpc_port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "OTEL_"))}
    return env | {
        "PYTHONUNBUFFERED": "1",
        "CRM_COMMISSIONS_DATABASE_URL": db_url,
        "CRM_TEMPORAL_ADDRESS": temporal.address,
        "CRM_TEMPORAL_NAMESPACE": temporal.namespace,
        "CRM_TEMPORAL_TASK_QUEUE": queue,
        "CRM_COMMISSIONS_ADDRESS": f"127.0.0.1:{grpc_port}",
        "CRM_PARTIES_ADDRESS": "127.0.0.1:1",  # not used by the commissions workflows
        "CRM_DISTRIBUTION_BATCH_SIZE": str(args.batch_size),
        "CRM_DISTRIBUTION_CONCURRENCY": str(args.concurrency),
        "CRM_DB_POOL_SIZE": str(args.db_pool_size),
        "CRM_LOG_LEVEL": args.log_level,
        "CRM_LOG_FORMAT": "json",
    }


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def wait_for_pollers(client: Any, queue: str, child: Child, limit_s: float = 90.0) -> float:
    """Seconds until the worker polls the task queue for both workflow and activity tasks."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    started = time.perf_counter()
    kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    while time.perf_counter() - started < limit_s:
        if child.proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {child.proc.returncode}:\n{tail(child.log)}")
        polled = 0
        for kind in kinds:
            answer = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
                )
            )
            polled += bool(answer.pollers)
        if polled == len(kinds):
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no worker polls {queue} after {limit_s:.0f}s:\n{tail(child.log)}")


# -- resources: CPU and memory of each process --------------------------------------------------------


def postmaster(pg: LocalPostgres) -> psutil.Process:
    pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


@dataclass
class Watch:
    """CPU seconds and peak memory of process trees (a root and its descendants)."""

    roots: dict[str, psutil.Process]
    pss: set[str] = field(default_factory=set)  # trees whose memory is summed as PSS (shared buffers)
    alone: set[str] = field(default_factory=set)  # the process without its children (the bench itself)
    peak_mb: dict[str, float] = field(default_factory=dict)

    def _tree(self, name: str) -> list[psutil.Process]:
        root = self.roots[name]
        if name in self.alone:
            return [root]
        with contextlib.suppress(psutil.Error):
            return [root, *root.children(recursive=True)]
        return []

    def cpu(self) -> dict[str, float]:
        """Per tree: user + system seconds of the live processes and of the root's reaped children."""
        out = {}
        for name, root in self.roots.items():
            total = 0.0
            for p in self._tree(name):
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
                    if p is root and name not in self.alone:
                        total += t.children_user + t.children_system
            out[name] = total
        return out

    def sample(self) -> None:
        for name in self.roots:
            total = 0
            for p in self._tree(name):
                with contextlib.suppress(psutil.Error):
                    total += p.memory_full_info().pss if name in self.pss else p.memory_info().rss
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), total / 1e6)


# -- Prometheus endpoints of the server and the worker ------------------------------------------------


def scrape(port: int) -> list[tuple[str, dict[str, str], float]]:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        body = answer.read().decode()
    return [
        (s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(body) for s in family.samples
    ]


async def scrape_async(port: int) -> list[tuple[str, dict[str, str], float]]:
    try:
        return await asyncio.to_thread(scrape, port)
    except OSError:
        return []


def histograms(samples: list[tuple[str, dict[str, str], float]], prefix: str, keys: tuple[str, ...]) -> dict:
    """{metric: {label value: {"count", "sum", "le=<bound>"...}}} of the histograms named prefix*, keyed by
    the first label in keys."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, labels, value in samples:
        if not name.startswith(prefix) or not name.endswith(("_count", "_sum", "_bucket")):
            continue
        base, _, kind = name.rpartition("_")
        key = next((labels[k] for k in keys if labels.get(k)), "")
        if labels.get("grpc_code") not in (None, "OK"):
            key += f" [{labels['grpc_code']}]"
        entry = out.setdefault(base, {}).setdefault(key, {})
        field_name = f"le={labels.get('le')}" if kind == "bucket" else kind
        entry[field_name] = entry.get(field_name, 0.0) + value
    return out


def histogram_delta(before: dict, after: dict) -> dict[str, dict[str, dict[str, Any]]]:
    """Calls, total and mean seconds between two scrapes, and the bucket bound under which 95% fell."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for metric, by_key in after.items():
        for key, entry in by_key.items():
            old = before.get(metric, {}).get(key, {})
            n = entry.get("count", 0.0) - old.get("count", 0.0)
            s = entry.get("sum", 0.0) - old.get("sum", 0.0)
            if n <= 0:
                continue
            figures: dict[str, Any] = {"count": int(n), "total_s": round(s, 2), "mean_ms": round(s / n * 1000, 2)}
            bounds = sorted(
                (float(k[3:]), v - old.get(k, 0.0)) for k, v in entry.items() if k.startswith("le=") and k != "le=+Inf"
            )
            p95 = next((b for b, c in bounds if c >= 0.95 * n), None)
            figures["p95_under_s"] = p95 if p95 is not None else f"> {bounds[-1][0]}" if bounds else None
            out.setdefault(metric, {})[key] = figures
    return out


def gauge(samples: list[tuple[str, dict[str, str], float]], name: str) -> float | None:
    values = [v for n, _, v in samples if n == name]
    return sum(values) if values else None


# -- a stack-sampling profiler for the child processes ------------------------------------------------

IDLE = (
    ("selectors.py", "select"),
    ("threading.py", "wait"),
    ("threading.py", "_wait_for_tstate_lock"),
    ("concurrent/futures/thread.py", "_worker"),
    ("queue.py", "get"),
    ("socketserver.py", "serve_forever"),
    # A thread whose innermost Python frame is Thread.run runs a C target: gRPC's and Temporal's pollers.
    ("threading.py", "run"),
)


def _label(code: Any) -> str:
    path = code.co_filename
    if path.startswith(str(ROOT)) and "/.venv/" not in path:
        where = path[len(str(ROOT)) + 1 :]
    elif "site-packages/" in path:
        where = path.split("site-packages/", 1)[1]
    else:
        where = Path(path).name
    return f"{where}:{getattr(code, 'co_qualname', code.co_name)}"


def _project(code: Any) -> bool:
    path = code.co_filename
    return path.startswith(str(ROOT)) and "/.venv/" not in path and "/bench/" not in path


class StackSampler:
    """Samples every Python thread's stack every `interval` seconds: the share of samples in which a
    function of the platform is on a busy thread's stack (inclusive), and the innermost Python
    function (where C code called from Python counts too). Idle threads (event loop waiting in select,
    pool threads waiting for work) are counted apart."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.ticks = 0
        self.busy: collections.Counter[str] = collections.Counter()
        self.inclusive: collections.Counter[str] = collections.Counter()
        self.leaf: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _thread_name(ident: int) -> str:
        # Not cached: a finished thread's id is reused (the metrics endpoint starts a thread per scrape).
        found = threading._active.get(ident)  # type: ignore[attr-defined]
        name = found.name if found is not None else "unnamed"
        if name.startswith("Thread-") and "(" in name:
            return name.split("(", 1)[1].rstrip(")")  # "Thread-7 (process_request_thread)": by its target
        return name.rstrip("0123456789").rstrip("_-") or name

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            self.ticks += 1
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                leaf = frame.f_code
                if any(leaf.co_filename.endswith(f) and leaf.co_name == n for f, n in IDLE):
                    continue
                self.busy[self._thread_name(ident)] += 1
                self.leaf[_label(leaf)] += 1
                seen = set()
                f: Any = frame
                while f is not None:
                    if _project(f.f_code):
                        label = _label(f.f_code)
                        if label not in seen:
                            seen.add(label)
                            self.inclusive[label] += 1
                    f = f.f_back

    def report(self, top: int = 30) -> dict[str, Any]:
        busy = sum(self.busy.values()) or 1
        return {
            "interval_ms": self.interval * 1000,
            "ticks": self.ticks,
            "busy_share_of_wall_by_thread": {k: round(v / max(self.ticks, 1), 3) for k, v in self.busy.most_common()},
            "inclusive_share_of_busy_samples": {k: round(v / busy, 3) for k, v in self.inclusive.most_common(top)},
            "innermost_share_of_busy_samples": {k: round(v / busy, 3) for k, v in self.leaf.most_common(top)},
        }


def sampled_child(out: Path, argv: list[str]) -> int:
    """Runs `crm <argv>` in this process under the stack sampler; writes the profile when it stops."""
    sampler = StackSampler()
    sampler.start()
    code = 0
    try:
        from crmctl.cli import app

        app(args=argv, prog_name="crm", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sampler.stop()
        out.write_text(json.dumps(sampler.report()))
    return code


# -- the baseline: each drafting step on its own, in this process -------------------------------------


class _Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1


def with_service_logging(fn: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """``fn`` timed under the services' logging (`configure_logging` at INFO, JSON, to /dev/null), and
    the log records it emits (fontTools logs its font subsetting at INFO)."""
    from crm_runtime.logs import configure_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    counter = _Counting()
    with open(os.devnull, "w") as sink:
        with contextlib.redirect_stderr(sink):
            configure_logging("bench", "INFO", "json")
        root.addHandler(counter)
        try:
            timed = timings_ms(fn, repeat)
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
    return timed | {"log_records_per_call": counter.records // max(repeat, 1)}


#: Parts of render_pdf, by (file, function name) in the profile.
RENDER_PARTS = {
    "fpdf add_font (parses both TTF files, on every call)": ("fpdf/fpdf.py", "add_font"),
    "layout (_Writer.write)": ("plan_documents.py", "write"),
    "fpdf output (font subsetting, serialisation)": ("fpdf/fpdf.py", "output"),
    "  of which font subsetting (output._add_fonts)": ("fpdf/output.py", "_add_fonts"),
}


def render_breakdown(fn: Callable[[], Any], repeat: int = 5) -> dict[str, float]:
    """Shares of render_pdf's time under cProfile (which inflates pure-Python code: indicative)."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeat):
        fn()
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(ct for (_, _, name), (_, _, _, ct, _) in stats.items() if name == "render_pdf")
    out = {}
    for label, (where, name) in RENDER_PARTS.items():
        ct = sum(v[3] for (path, _, fname), v in stats.items() if fname == name and path.endswith(where))
        out[label] = round(ct / total, 3) if total else 0.0
    return out


def timings_ms(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "min_ms": round(min(samples), 2), "runs": repeat}


async def baseline(engine: Any, layout: Layout, args: argparse.Namespace) -> dict[str, Any]:
    """What DraftPlanDocument and SubmitPlanDocument do for one participant, step by step, on the same
    database: the organisation and plan book loads (both calls do them), the terms, the PDF, the chain."""
    from fpdf import FPDF

    from services.commissions.domain.approvals import approval_chain
    from services.commissions.domain.periods import Period
    from services.commissions.domain.plan_documents import (
        DocumentFonts,
        content_hash,
        plan_document_terms,
        render_pdf,
    )
    from services.commissions.store import Repository

    period = Period.parse(PERIOD)
    pid = rep_id(layout.participants // 2)
    loads, book_loads, colds = [], [], []
    async with engine.connect() as conn:
        repo = Repository(conn)
        for _ in range(3):
            t0 = time.perf_counter()
            org = await repo.organisation()
            loads.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            book = await repo.plan_book(period)
            book_loads.append((time.perf_counter() - t0) * 1000)
            # Cold: a freshly loaded Organisation builds its indices on first use, as each request's does.
            t0 = time.perf_counter()
            terms = plan_document_terms(org, book, pid, period)
            colds.append((time.perf_counter() - t0) * 1000)
    cold_ms = statistics.median(colds)
    threshold = Decimal(str(Settings().plan_approval_director_threshold))
    issued = datetime.now(UTC).date()

    def pdf() -> bytes:
        return render_pdf(terms, document_id=f"plan-doc/{PERIOD}/{pid}", version=1, issued_on=issued, language="ru")

    def fonts() -> None:
        doc = FPDF()
        doc.add_font("DocSans", "", str(DocumentFonts().regular))
        doc.add_font("DocSans", "B", str(DocumentFonts().bold))

    size = len(pdf())
    render = timings_ms(pdf, args.pdf_samples)
    logged = with_service_logging(pdf, max(3, args.pdf_samples // 4))
    render_floor = render["min_ms"]  # a floor: the least it took (other processes share the cores)
    org_ms = statistics.median(loads)
    per_call_org = org_ms + statistics.median(book_loads) + cold_ms
    return {
        "participant": pid,
        "render_pdf": render | {"pdf_bytes": size},
        "render_pdf_under_service_logging (INFO, JSON)": logged,
        "render_pdf_shares (cProfile)": render_breakdown(pdf),
        "font_files_parse (2 x add_font)": timings_ms(fonts, 5),
        "pdf_cpu_floor_s (N x render_pdf min)": round(layout.participants * render_floor / 1000, 1),
        "organisation_load_ms": round(org_ms, 1),
        "plan_book_load_ms": round(statistics.median(book_loads), 2),
        "plan_document_terms_cold_ms (indexes the fresh organisation)": round(cold_ms, 2),
        "plan_document_terms_warm": timings_ms(lambda: plan_document_terms(org, book, pid, period), 20),
        "approval_chain": timings_ms(lambda: approval_chain(org, terms, threshold), 20),
        "content_hash": timings_ms(lambda: content_hash(terms), 20),
        "per_document_estimate_ms": {
            "organisation_and_terms (Draft and Submit each load it)": round(2 * per_call_org, 1),
            "render_pdf": render_floor,
            "sum": round(2 * per_call_org + render_floor, 1),
        },
        "cpu_floor_estimate_s (N x sum)": round(layout.participants * (2 * per_call_org + render_floor) / 1000, 1),
    }


# -- measuring the distribution -----------------------------------------------------------------------


async def scalar(engine: Any, sql: str, **params: Any) -> Any:
    from sqlalchemy import text

    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def rows(engine: Any, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).mappings())


SUBMITTED_RECORDED = (
    "SELECT count(DISTINCT participant_id) FROM commissions.plan_document_events "
    "WHERE period = :p AND action = 'submitted'"
)
STATUS_COUNTS = (
    "SELECT count(*) AS drafted, count(*) FILTER (WHERE status = 'IN_APPROVAL') AS in_approval "
    "FROM commissions.plan_documents WHERE period = :p"
)
VISIBLE = "CrmKind = 'plan-approval' AND CrmStep = 'manager' AND ExecutionStatus = 'Running'"


@dataclass
class Progress:
    t: float
    distributed: int
    drafted: int
    in_approval: int
    recorded: int
    visible: int | None

    def row(self) -> list[Any]:
        return [round(self.t, 1), self.distributed, self.drafted, self.in_approval, self.recorded, self.visible]


async def count_visible(client: Any) -> int | None:
    try:
        return int((await client.count_workflows(VISIBLE)).count)
    except Exception:  # visibility is a side figure: never fail the run on it
        return None


def steady_rate(timeline: list[Progress], total: int) -> float | None:
    """Documents per second while 10% to 90% of the submissions were recorded (start-up and tail left out)."""
    lo = next((p for p in timeline if p.recorded >= 0.1 * total), None)
    hi = next((p for p in timeline if p.recorded >= 0.9 * total), None)
    if lo is None or hi is None or hi.t <= lo.t:
        return None
    return round((hi.recorded - lo.recorded) / (hi.t - lo.t), 2)


async def measure(
    api: commissions_pb2_grpc.CommissionsServiceStub,
    client: Any,
    engine: Any,
    watch: Watch,
    server_metrics: int,
    args: argparse.Namespace,
    n: int,
) -> dict[str, Any]:
    pool_in_use: list[float] = []
    started_at = datetime.now(UTC)
    t0 = time.perf_counter()
    answer = await api.DistributePlanDocuments(
        pb.DistributePlanDocumentsRequest(request_id="bench-distribute", period=PERIOD, plan_id=PLAN_ID, author=AUTHOR),
        timeout=120,
    )
    call_ms = (time.perf_counter() - t0) * 1000
    total = answer.total
    timeline: list[Progress] = []
    done_s = waiting_s = visible_s = None
    progress = answer
    last_key: tuple = ()
    last_change = 0.0
    next_print = 10.0
    stalled = timed_out = False
    poll = 0
    in_approval = 0
    while True:
        tick = time.perf_counter()
        now = tick - t0
        # This database every 0.5 s (no load on the server); the API every 2 s, and every 0.5 s once every
        # submission is recorded, so that the bench's own calls stay a small share of the server's work.
        recorded = int(await scalar(engine, SUBMITTED_RECORDED, p=PERIOD))
        counts = (await rows(engine, STATUS_COUNTS, p=PERIOD))[0]
        if poll % 4 == 0 or recorded >= total:
            progress = await api.GetDistribution(pb.GetDistributionRequest(period=PERIOD, plan_id=PLAN_ID), timeout=60)
            listing = await api.ListPlanDocuments(pb.ListPlanDocumentsRequest(period=PERIOD, page_size=1), timeout=60)
            in_approval = listing.by_status.get("IN_APPROVAL", 0)
        visible = await count_visible(client) if poll % 4 == 0 or waiting_s is not None else None
        point = Progress(now, progress.submitted, counts["drafted"], counts["in_approval"], recorded, visible)
        timeline.append(point)
        if poll % 4 == 0:
            watch.sample()
        if poll % 20 == 0:
            in_use = gauge(await scrape_async(server_metrics), "crm_db_pool_connections_in_use")
            if in_use is not None:
                pool_in_use.append(in_use)
        poll += 1
        if done_s is None and progress.status in ("completed", "failed"):
            done_s = now
        # The criterion: the API counts every document IN_APPROVAL and each one's "submitted" is recorded.
        if waiting_s is None and in_approval >= total and recorded >= total:
            waiting_s = now
        if visible_s is None and visible is not None and visible >= total:
            visible_s = now
        key = (progress.submitted, progress.failed, counts["drafted"], recorded)
        if key != last_key:
            last_key, last_change = key, now
        if now >= next_print:
            next_print += 10.0
            print(
                f"  {now:6.0f}s  distribution {progress.submitted}/{total} ({progress.status}), "
                f"drafted {counts['drafted']}, IN_APPROVAL {counts['in_approval']}, submitted recorded {recorded}, "
                f"visible {visible}",
                flush=True,
            )
        if done_s is not None and waiting_s is not None and (visible_s is not None or now - waiting_s > 30):
            break
        if done_s is not None and now - last_change > args.stall_seconds:
            stalled = True  # some documents failed: the rest will never arrive
            break
        if now > args.max_seconds:
            timed_out = True
            break
        await asyncio.sleep(max(0.0, POLL_S - (time.perf_counter() - tick)))

    end = timeline[-1]
    out: dict[str, Any] = {
        "participants_on_plan": total,
        "distribute_call_ms": round(call_ms, 1),
        "distribution_completed_s (all drafted and submitted)": None if done_s is None else round(done_s, 1),
        "all_waiting_for_first_approver_s": None if waiting_s is None else round(waiting_s, 1),
        "all_visible_in_temporal_s": None if visible_s is None else round(visible_s, 1),
        "documents_per_s": round(total / waiting_s, 2) if waiting_s else None,
        "documents_per_s_steady (10%..90%)": steady_rate(timeline, total),
        "status": progress.status,
        "submitted": progress.submitted,
        "failed": progress.failed,
        "failures": list(progress.failures)[:10],
        "stalled": stalled,
        "timed_out_after_s": round(end.t, 1) if timed_out else None,
        "db_pool_in_use": {
            "max": max(pool_in_use, default=None),
            "mean": round(statistics.mean(pool_in_use), 1) if pool_in_use else None,
            "pool_size": args.db_pool_size,
            "max_with_overflow": 2 * args.db_pool_size,
        },
    }
    with contextlib.suppress(Exception):  # a side figure, exact to the millisecond
        described = await client.get_workflow_handle(answer.workflow_id).describe()
        if described.close_time is not None:
            seconds = (described.close_time - described.start_time).total_seconds()
            out["distribution_workflow_s (Temporal start to close)"] = round(seconds, 2)
    if timed_out or stalled:
        rate = end.recorded / end.t if end.t else 0
        back = next((p for p in reversed(timeline) if p.t <= end.t - 120), timeline[0])
        recent = (end.recorded - back.recorded) / (end.t - back.t) if end.t > back.t else 0
        out["partial"] = {
            "recorded_at_stop": end.recorded,
            "documents_per_s_so_far": round(rate, 2),
            "documents_per_s_last_2_min": round(recent, 2),
            "estimated_total_s_at_the_last_2_min_rate": round(end.t + (total - end.recorded) / recent)
            if recent
            else None,
        }
    step = max(1.0, round(end.t / 60))
    shown, mark = [], -step
    for p in timeline:
        if p.t >= mark + step or p is end:
            shown.append(p.row())
            mark = p.t
    out["timeline (t_s, distribution_submitted, drafted, in_approval, submitted_recorded, visible)"] = shown
    out |= await database_figures(engine, started_at)
    return out


async def database_figures(engine: Any, started_at: datetime) -> dict[str, Any]:
    """From the bench's own database: when the first and last documents appeared, and how long each
    waited from its draft to its approval workflow recording "submitted"."""
    span = (
        await rows(
            engine,
            "SELECT count(*) AS n, min(created_at) AS first, max(created_at) AS last, avg(length(pdf)) AS pdf "
            "FROM commissions.plan_documents WHERE period = :p",
            p=PERIOD,
        )
    )[0]
    latency = (
        await rows(
            engine,
            "WITH d AS (SELECT participant_id, min(at) AS at FROM commissions.plan_document_events "
            "  WHERE period = :p AND action = 'drafted' GROUP BY 1), "
            "s AS (SELECT participant_id, min(at) AS at FROM commissions.plan_document_events "
            "  WHERE period = :p AND action = 'submitted' GROUP BY 1), "
            "x AS (SELECT extract(epoch FROM s.at - d.at)::float8 AS dt FROM d JOIN s USING (participant_id)) "
            "SELECT count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY dt) AS p50, "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY dt) AS p95, max(dt) AS max, "
            "(SELECT max(at) FROM s) AS last FROM x",
            p=PERIOD,
        )
    )[0]
    sizes = await rows(
        engine,
        "SELECT c.relname AS name, pg_total_relation_size(c.oid) AS size FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'commissions' AND c.relkind = 'r' "
        "AND c.relname IN ('plan_documents', 'plan_document_events', 'notifications', 'request_log', 'responses')",
    )

    def after(moment: datetime | None) -> float | None:
        return None if moment is None else round((moment - started_at).total_seconds(), 2)

    return {
        "database": {
            "documents": span["n"],
            "first_document_drafted_after_s": after(span["first"]),
            "last_document_drafted_after_s": after(span["last"]),
            "last_submitted_recorded_after_s": after(latency["last"]),
            "mean_pdf_kb": round(float(span["pdf"] or 0) / 1000, 1),
            "drafted_to_submitted_recorded_s": {
                "documents": latency["n"],
                "p50": None if latency["p50"] is None else round(latency["p50"], 2),
                "p95": None if latency["p95"] is None else round(latency["p95"], 2),
                "max": None if latency["max"] is None else round(latency["max"], 2),
            },
            "tables_mb": {r["name"]: round(int(r["size"]) / 1e6, 2) for r in sizes},
        }
    }


async def sample_check(
    api: commissions_pb2_grpc.CommissionsServiceStub, engine: Any, layout: Layout
) -> list[dict[str, Any]]:
    """A few documents through GetPlanDocument (the first, middle and last of those drafted): in
    approval, waiting for their own manager, with the drafted and submitted steps in the history."""
    drafted = [
        r["participant_id"]
        for r in await rows(
            engine,
            "SELECT participant_id FROM commissions.plan_documents WHERE period = :p ORDER BY 1",
            p=PERIOD,
        )
    ]
    picks = sorted({drafted[0], drafted[len(drafted) // 2], drafted[-1]}) if drafted else []
    out = []
    for i in (int(pid.removeprefix("rep")) for pid in picks):
        try:
            doc = await api.GetPlanDocument(pb.GetPlanDocumentRequest(participant_id=rep_id(i), period=PERIOD))
        except grpc.aio.AioRpcError as exc:
            out.append({"participant": rep_id(i), "error": exc.code().name})
            continue
        d = doc.document
        first = d.chain[0] if d.chain else None
        out.append(
            {
                "participant": d.participant_id,
                "status": pb.PlanDocumentStatus.Name(d.status),
                "current_step": d.current_step,
                "first_approver": first.assignee if first else "",
                "first_approver_is_manager": first is not None and first.assignee == manager_id(layout.manager_of(i)),
                "history": [e.action for e in doc.history],
            }
        )
    return out


# -- the benchmark ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    from temporalio.client import Client

    layout = Layout(args.participants, args.team_size)
    out: dict[str, Any] = {
        "machine": {
            "cpus": psutil.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": {
            "participants": args.participants,
            "managers": layout.managers,
            "batch_size (CRM_DISTRIBUTION_BATCH_SIZE)": args.batch_size,
            "concurrency (CRM_DISTRIBUTION_CONCURRENCY)": args.concurrency,
            "db_pool_size (CRM_DB_POOL_SIZE)": args.db_pool_size,
            "log_level": args.log_level,
            "poll_s": POLL_S,
            "processes": "crm serve commissions, crm worker: one process each",
            "temporal": "temporal server start-dev (in-memory SQLite)",
            "profiled (stack sampler in server and worker)": args.profile,
        },
    }
    work = Path(args.workdir or "/tmp") / f"crm-dist-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    if not args.keep:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
    print(f"working in {work}", flush=True)

    started = time.perf_counter()
    pg = start_postgres(work / "pg")
    stack.callback(pg.stop)
    pg.ensure_database(DATABASE)
    db_url = pg.url(DATABASE)
    await db.migrate_async(MIGRATIONS, db_url)
    postgres_s = time.perf_counter() - started
    t0 = time.perf_counter()
    temporal = start_temporal(
        None, namespace=args.namespace, port=free_port(), ui_port=None, log_file=work / "temporal.log"
    )
    stack.callback(temporal.stop)
    temporal_s = time.perf_counter() - t0

    queue = f"crm-bench-{uuid.uuid4().hex[:6]}"
    grpc_port, server_metrics, worker_metrics = free_port(), free_port(), free_port()
    env = child_env(args, db_url, temporal, queue, grpc_port)
    t0 = time.perf_counter()
    server = spawn(
        "commissions",
        ["serve", "commissions"],
        env | {"CRM_GRPC_PORT": str(grpc_port), "CRM_METRICS_PORT": str(server_metrics)},
        work,
        args.profile,
    )
    stack.callback(server.stop)
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", grpc_port, 120, server.proc)
    except (RuntimeError, TimeoutError) as exc:
        raise RuntimeError(f"{exc}\n{tail(server.log)}") from None
    server_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    worker = spawn("worker", ["worker"], env | {"CRM_METRICS_PORT": str(worker_metrics)}, work, args.profile)
    stack.callback(worker.stop)
    client = await Client.connect(temporal.address, namespace=temporal.namespace)
    await wait_for_pollers(client, queue, worker)
    out["setup_s"] = {
        "postgres_and_migrations": round(postgres_s, 2),
        "temporal_dev_server": round(temporal_s, 2),
        "commissions_server": round(server_s, 2),
        "worker_polling": round(time.perf_counter() - t0, 2),
    }
    watch = Watch(
        {
            "commissions_server": psutil.Process(server.proc.pid),
            "worker": psutil.Process(worker.proc.pid),
            "temporal": psutil.Process(temporal.process.pid),
            "postgres": postmaster(pg),
            "bench (client, polling)": psutil.Process(),
        },
        pss={"postgres"},
        alone={"bench (client, polling)"},
    )
    engine = db.create_engine(db_url, "bench", pool_size=2)
    options = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}", options=options) as channel:
            api = commissions_pb2_grpc.CommissionsServiceStub(channel)
            print(f"building the world ({args.participants:,} representatives)...", flush=True)
            out["world"] = await build_world(api, layout, args.org_chunk)
            print(json.dumps(out["world"]), flush=True)

            print("baseline: each drafting step in this process...", flush=True)
            out["baseline_in_process"] = await baseline(engine, layout, args)
            print(json.dumps(out["baseline_in_process"]), flush=True)

            print("distributing...", flush=True)
            server_before = histograms(
                await scrape_async(server_metrics), "crm_grpc_server_handling_seconds", ("grpc_method",)
            )
            worker_keys = ("activity_type", "workflow_type", "operation")
            worker_before = histograms(await scrape_async(worker_metrics), "temporal_", worker_keys)
            cpu_before = watch.cpu()
            t0 = time.perf_counter()
            out["distribution"] = await measure(api, client, engine, watch, server_metrics, args, args.participants)
            wall = time.perf_counter() - t0
            cpu_after = watch.cpu()
            watch.sample()
            server_after = histograms(
                await scrape_async(server_metrics), "crm_grpc_server_handling_seconds", ("grpc_method",)
            )
            worker_after = histograms(await scrape_async(worker_metrics), "temporal_", worker_keys)
            cpu = {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 1) for k in cpu_after}
            n = max(out["distribution"]["database"]["documents"], 1)  # drafted: each rendered one PDF
            out["cpu_during_distribution"] = {
                "wall_s": round(wall, 1),
                "cpu_s": cpu,
                "cores_busy (cpu_s / wall_s)": {k: round(v / wall, 2) for k, v in cpu.items()},
                "all_processes_cores_busy": round(sum(cpu.values()) / wall, 2),
                "cores_available": psutil.cpu_count(),
                "documents_drafted": n,
                "cpu_ms_per_document": {k: round(v / n * 1000, 1) for k, v in cpu.items()},
            }
            out["server_rpcs_during_distribution"] = histogram_delta(server_before, server_after).get(
                "crm_grpc_server_handling_seconds", {}
            )
            out["worker_temporal_sdk_during_distribution"] = histogram_delta(worker_before, worker_after)
            out["sample_check"] = await sample_check(api, engine, layout)
    finally:
        await engine.dispose()
    out["peak_memory_mb (rss; postgres: pss summed over backends)"] = {k: round(v) for k, v in watch.peak_mb.items()}

    # Stopped here (not only on exit) so that the profiles are written before they are read.
    worker.stop()
    server.stop()
    out["exit_codes"] = {"commissions_server": server.exit_code, "worker": worker.exit_code}
    if args.profile:
        out["profile"] = {}
        for child in (server, worker):
            assert child.profile is not None
            with contextlib.suppress(OSError, ValueError):
                out["profile"][child.name] = json.loads(child.profile.read_text())
    b = out["baseline_in_process"]
    d = out["distribution"]
    c = out["cpu_during_distribution"]
    per_doc = c["cpu_ms_per_document"]["commissions_server"]
    estimate = b["per_document_estimate_ms"]
    partial = d.get("partial") or {}
    out["summary"] = {
        "participants": args.participants,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "all_waiting_for_first_approver_s": d["all_waiting_for_first_approver_s"],
        "distribution_completed_s": d["distribution_completed_s (all drafted and submitted)"],
        "documents_per_s": d["documents_per_s"] or partial.get("documents_per_s_last_2_min"),
        "complete": d["all_waiting_for_first_approver_s"] is not None,
        "estimated_total_s (partial run)": partial.get("estimated_total_s_at_the_last_2_min_rate"),
        "server_cpu_ms_per_document": per_doc,
        "server_cores_busy": c["cores_busy (cpu_s / wall_s)"]["commissions_server"],
        "other_processes_cores_busy": round(
            sum(v for k, v in c["cores_busy (cpu_s / wall_s)"].items() if k != "commissions_server"), 2
        ),
        "render_pdf_ms (min, in-process)": b["render_pdf"]["min_ms"],
        "pdf_share_of_server_cpu": round(estimate["render_pdf"] / per_doc, 2) if per_doc else None,
        "organisation_reload_share_of_server_cpu": round(
            estimate["organisation_and_terms (Draft and Submit each load it)"] / per_doc, 2
        )
        if per_doc
        else None,
    }
    if args.keep:
        out["kept_workdir"] = str(work)
    return out


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == SAMPLED_CHILD:
        sys.exit(sampled_child(Path(sys.argv[2]), sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=10_000, help="representatives on the plan")
    parser.add_argument("--team-size", type=int, default=100, help="representatives per manager")
    parser.add_argument("--batch-size", type=int, default=100, help="CRM_DISTRIBUTION_BATCH_SIZE")
    parser.add_argument("--concurrency", type=int, default=8, help="CRM_DISTRIBUTION_CONCURRENCY")
    parser.add_argument("--db-pool-size", type=int, default=10, help="CRM_DB_POOL_SIZE of the server and worker")
    parser.add_argument("--org-chunk", type=int, default=2000, help="representatives per SaveOrganisation call")
    parser.add_argument("--pdf-samples", type=int, default=20, help="render_pdf repetitions for the baseline")
    parser.add_argument("--namespace", default="crm")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument(
        "--max-seconds", type=float, default=1200, help="stop waiting after this long: partial figures and an estimate"
    )
    parser.add_argument("--stall-seconds", type=float, default=60, help="stop when nothing moves this long")
    parser.add_argument("--profile", action="store_true", help="stack-sample the server and the worker")
    parser.add_argument("--workdir", type=Path, default=None, help="where the cluster and logs go (default /tmp)")
    parser.add_argument("--keep", action="store_true", help="leave the working folder (logs, cluster) behind")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "distribution.json")
    args = parser.parse_args()

    # Stopped from outside: unwind normally, so that every process started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with contextlib.ExitStack() as stack:
        out = asyncio.run(run(args, stack))
    text = json.dumps(out, indent=2, ensure_ascii=False)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
