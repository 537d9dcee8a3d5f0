"""Entry point of the parties service (`crm serve parties`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from crm_runtime import db
from crm_runtime.grpc_server import GrpcApp, serve_until_signalled, start_grpc_server
from crm_runtime.logs import configure_logging
from crm_runtime.metrics import start_metrics_server
from crm_runtime.settings import Settings
from crm_runtime.telemetry import instrument_engine, setup_tracing
from services.parties import servicer
from services.parties.app import PartiesApp

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger("crm.parties")


def temporal_connector(settings: Settings) -> Any:
    """A lazy, cached Temporal client: the service starts and serves reads even while Temporal is down."""
    client: Any = None
    lock = asyncio.Lock()

    async def connect() -> Any:
        nonlocal client
        async with lock:
            if client is None:
                from temporalio.client import Client
                from temporalio.contrib.opentelemetry import TracingInterceptor

                client = await asyncio.wait_for(
                    Client.connect(
                        settings.temporal_address,
                        namespace=settings.temporal_namespace,
                        interceptors=[TracingInterceptor()],
                    ),
                    timeout=5,
                )
        return client

    return connect


async def start(settings: Settings, *, port: int | None = None) -> tuple[GrpcApp, PartiesApp]:
    url = settings.service_database_url("parties")
    engine = db.create_engine(url, "parties", pool_size=settings.db_pool_size)
    instrument_engine(engine)
    app = PartiesApp(engine, temporal=temporal_connector(settings), settings=settings)
    grpc_app = await start_grpc_server(
        lambda server: servicer.register(server, app),
        host=settings.grpc_host,
        port=settings.grpc_port if port is None else port,
    )
    grpc_app.on_stop.append(engine.dispose)
    return grpc_app, app


async def serve(settings: Settings, migrate: bool = False) -> None:
    configure_logging("parties", settings.log_level, settings.log_format)
    setup_tracing("parties")
    if migrate:
        await db.migrate_async(MIGRATIONS, settings.service_database_url("parties"))
    metrics_port = start_metrics_server(settings.metrics_port, settings.metrics_host) if settings.metrics_port else None
    grpc_app, _ = await start(settings)
    log.info("parties service ready", extra={"grpc_port": grpc_app.port, "metrics_port": metrics_port})
    await serve_until_signalled(grpc_app)
