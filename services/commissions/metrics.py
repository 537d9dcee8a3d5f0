"""The commissions service's domain metrics, charted on its Grafana dashboard ("CRM / Commissions") and
watched by the Commissions* alerts.

Why these: the gRPC metrics every service exports (`crm_runtime.metrics`) say how fast and how often
each call answers, but not what the calls did. A calculation run is the service's expensive, rare and
consequential operation: operators need to know whether runs complete (``runs_total`` by outcome),
how long they take (a full run of a large organisation is minutes of CPU; ``run_duration_seconds``
goes up to 10 minutes) and whether incremental runs stay incremental (``run_participants_recomputed``:
an incremental run that recomputes everyone costs as much as a full one). Ingestion is the boundary
with the source systems: a feed that suddenly has most rows rejected is a broken export upstream
(``transactions_ingested_total``). Adjustments and finalizations are the money-moving actions finance
takes; their rates are the audit trail's pulse.

Label values are small fixed sets (never a period, participant or plan: those are unbounded), and
every combination is created at import with a zero, so a rate or an increase sees the first event
(a series that appears already at 1 has no increase) and the alerts can fire on it.

The domain core stays free of metrics: the application layer (`app.service`) records them, after the
transaction has committed and never for an idempotent replay of a stored answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import polars as pl
from prometheus_client import Counter, Histogram

from services.commissions.domain.inputs import OverpaymentClass
from services.commissions.domain.results import Treatment
from services.commissions.domain.transactions import IngestResult

if TYPE_CHECKING:
    from services.commissions.app.runs import RunOutcome

#: Run kinds: what the run was (an incremental request that had to run in full is FULL), or for a run
#: that failed, what was asked.
KINDS = ("FULL", "INCREMENTAL")
#: ok: the run was stored; failed_precondition: the stored data cannot be run (a finalized period, an
#: invalid plan book, figures that cannot be exact); error: anything else (the service's fault).
RUN_OUTCOMES = ("ok", "failed_precondition", "error")
INGEST_OUTCOMES = ("accepted", "duplicate", "rejected")
#: manual: recorded by AddAdjustment; prior_period: issued by a run for a late change to a finalized period.
ADJUSTMENT_SOURCES = ("manual", "prior_period")
TREATMENTS = tuple(t.value for t in Treatment)

RUNS = Counter(
    "crm_commissions_runs_total",
    "Calculation runs by kind (FULL, INCREMENTAL) and outcome (ok, failed_precondition, error).",
    ["kind", "outcome"],
)
RUN_DURATION = Histogram(
    "crm_commissions_run_duration_seconds",
    "Time a stored run took, from the call to its commit (waiting for the period's lock included), by kind.",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0),
)
PARTICIPANT_BUCKETS = (0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000)
RECOMPUTED_PARTICIPANTS = Histogram(
    "crm_commissions_run_participants_recomputed",
    "Participants an incremental run recomputed (the rest it took from the previous run).",
    buckets=PARTICIPANT_BUCKETS,
)
PAID_PARTICIPANTS = Histogram(
    "crm_commissions_run_participants_paid",
    "Participants with a payment line in a run, by kind.",
    ["kind"],
    buckets=PARTICIPANT_BUCKETS,
)
TRANSACTIONS_INGESTED = Counter(
    "crm_commissions_transactions_ingested_total",
    "Transaction rows received by IngestTransactions, by outcome (accepted, duplicate, rejected).",
    ["outcome"],
)
ADJUSTMENTS = Counter(
    "crm_commissions_adjustments_total",
    "Adjustments by source and treatment (PAID, RECOVERABLE, RECORDED). A manual adjustment is counted "
    "once, when recorded; a prior-period adjustment once, when the run that pays it is finalized (runs "
    "of the open period before that may issue it again).",
    ["source", "treatment"],
)
PERIODS_FINALIZED = Counter("crm_commissions_periods_finalized_total", "Periods finalized (their latest run frozen).")

for _kind in KINDS:
    RUN_DURATION.labels(_kind)
    PAID_PARTICIPANTS.labels(_kind)
    for _outcome in RUN_OUTCOMES:
        RUNS.labels(_kind, _outcome)
for _outcome in INGEST_OUTCOMES:
    TRANSACTIONS_INGESTED.labels(_outcome)
for _source in ADJUSTMENT_SOURCES:
    for _treatment in TREATMENTS:
        ADJUSTMENTS.labels(_source, _treatment)


def run_kind(incremental: bool) -> str:
    return "INCREMENTAL" if incremental else "FULL"


def run_stored(outcome: RunOutcome, seconds: float) -> None:
    """A run that was stored: its kind, duration and participants."""
    result = outcome.result
    kind = result.kind
    RUNS.labels(kind, "ok").inc()
    RUN_DURATION.labels(kind).observe(seconds)
    PAID_PARTICIPANTS.labels(kind).observe(result.payments.height)
    if kind == "INCREMENTAL":
        RECOMPUTED_PARTICIPANTS.observe(outcome.recomputed_participants)


def finalized(adjustments_frame: pl.DataFrame) -> None:
    """A period finalized: the prior-period adjustments its frozen run pays are counted now, once."""
    PERIODS_FINALIZED.inc()
    issued = adjustments_frame.filter(pl.col("origin_period").is_not_null())
    adjustments("prior_period", issued["treatment"].to_list())


def run_failed(kind: str, outcome: str) -> None:
    RUNS.labels(kind, outcome).inc()


def ingested(result: IngestResult) -> None:
    for outcome, rows in (
        ("accepted", result.accepted),
        ("duplicate", result.duplicates),
        ("rejected", result.rejected),
    ):
        if rows:
            TRANSACTIONS_INGESTED.labels(outcome).inc(len(rows))


def manual_adjustment(amount_minor: int, overpayment_class: OverpaymentClass | None) -> None:
    """A recorded manual adjustment, labelled with the treatment runs will give it (the rule of
    `engine_payments.adjustments_frame`; tests/commissions/test_metrics.py holds them to each other)."""
    if amount_minor >= 0:
        treatment = Treatment.PAID
    elif overpayment_class == OverpaymentClass.CALCULATION_ERROR:
        treatment = Treatment.RECOVERABLE
    else:
        treatment = Treatment.RECORDED
    ADJUSTMENTS.labels("manual", treatment.value).inc()


def adjustments(source: str, treatments: Iterable[str | None]) -> None:
    for treatment in treatments:
        if treatment:
            ADJUSTMENTS.labels(source, treatment).inc()
