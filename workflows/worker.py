"""The Temporal worker: one process polls the platform's task queue for every workflow and activity.

Tracing: the client carries `TracingInterceptor`, which the worker inherits, so a service's span that
starts a workflow is the parent of the workflow's and activities' spans, and the activities' gRPC client
interceptors carry it on to the called service. Metrics: the SDK's own Prometheus endpoint (task
latencies, schedule-to-start, failures) is served on `metrics_port` when it is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from crm_runtime.settings import Settings
from workflows.activities import PartiesActivities
from workflows.commissions_activities import CommissionsActivities
from workflows.dispute import DisputeWorkflow
from workflows.duplicate_review import DuplicateReviewWorkflow
from workflows.erasure import PartyErasureWorkflow
from workflows.plan_approval import PlanApprovalWorkflow
from workflows.plan_distribution import PlanDistributionWorkflow

log = logging.getLogger("crm.worker")

ALL_WORKFLOWS: Sequence[type] = (
    PartyErasureWorkflow,
    DuplicateReviewWorkflow,
    PlanApprovalWorkflow,
    PlanDistributionWorkflow,
    DisputeWorkflow,
)
#: How long running activities may take to finish after a stop request before they are cancelled.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)


def build_activities(settings: Settings) -> tuple[list[Any], list[PartiesActivities | CommissionsActivities]]:
    """The activity callables for a Worker, and the objects holding connections (to close on stop)."""
    parties = PartiesActivities(settings)
    commissions = CommissionsActivities(settings)
    return [
        parties.anonymize_party,
        parties.resolve_duplicate_case,
        parties.note_duplicate_case_sla,
        commissions.record_plan_step,
        commissions.record_dispute_step,
        commissions.recalculate_participant,
        commissions.submit_plan_batch,
    ], [parties, commissions]


def _runtime(settings: Settings) -> Runtime | None:
    """A runtime exporting the SDK's metrics to Prometheus; None keeps the default (no endpoint).

    A Runtime owns a thread pool and its metrics port, so a process creates at most one."""
    if not settings.metrics_port:
        return None
    address = f"{settings.metrics_host}:{settings.metrics_port}"
    # Prometheus naming conventions (counters end in _total, durations are seconds with the unit in the
    # name), so the SDK's metrics read like the platform's own in dashboards and alert rules.
    prometheus = PrometheusConfig(
        bind_address=address, counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        interceptors=[TracingInterceptor()],
        runtime=runtime,
    )


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Runs until `stop` is set or, when no event is given, until SIGTERM/SIGINT; then drains."""
    loop = asyncio.get_running_loop()
    own_signals = stop is None
    stop = stop or asyncio.Event()
    if own_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    client = await connect(settings, _runtime(settings))
    activities, holders = build_activities(settings)
    try:
        async with Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=list(ALL_WORKFLOWS),
            activities=activities,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        ):
            log.info(
                "worker polling",
                extra={"task_queue": settings.temporal_task_queue, "namespace": settings.temporal_namespace},
            )
            await stop.wait()
            log.info("stopping worker: finishing running activities")
    finally:
        for holder in holders:
            await holder.close()
        if own_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
