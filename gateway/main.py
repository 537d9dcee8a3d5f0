"""Entry point of the gateway (`crm gateway`): uvicorn run programmatically, with JSON logs, tracing
and a graceful shutdown (in-flight requests finish, then the gRPC channels close)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from crm_runtime.logs import configure_logging
from crm_runtime.settings import Settings
from crm_runtime.telemetry import setup_tracing
from gateway.app import create_app

log = logging.getLogger("crm.gateway")
GRACEFUL_SHUTDOWN_SECONDS = 10


def build_server(settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        lifespan="on",
        log_config=None,  # keep the process's JSON logging
        log_level=settings.log_level.lower(),
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return uvicorn.Server(config)


async def serve(settings: Settings, shutdown: asyncio.Event | None = None) -> None:
    """Serves until SIGINT/SIGTERM, or until shutdown is set (for embedding, e.g. `crm up` and tests)."""
    configure_logging("gateway", settings.log_level, settings.log_format)
    setup_tracing("gateway")
    server = build_server(settings)
    log.info("gateway starting", extra={"address": f"http://{settings.gateway_host}:{settings.gateway_port}"})

    async def stop_when_asked() -> None:
        assert shutdown is not None
        await shutdown.wait()
        server.should_exit = True

    watcher = asyncio.create_task(stop_when_asked()) if shutdown is not None else None
    try:
        await server.serve()
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    log.info("gateway stopped")
