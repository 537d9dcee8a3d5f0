"""Entry point of the worker process (`crm worker`)."""

from __future__ import annotations

from crm_runtime.logs import configure_logging
from crm_runtime.settings import Settings
from crm_runtime.telemetry import setup_tracing
from workflows.worker import run_worker


async def serve(settings: Settings) -> None:
    configure_logging("worker", settings.log_level, settings.log_format)
    setup_tracing("worker")
    await run_worker(settings)
