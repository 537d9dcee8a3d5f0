"""Entry point of the commissions service (`crm serve commissions`)."""

from __future__ import annotations

import logging
from pathlib import Path

from crm_runtime import db
from crm_runtime.grpc_server import GrpcApp, serve_until_signalled, start_grpc_server
from crm_runtime.logs import configure_logging
from crm_runtime.metrics import start_metrics_server
from crm_runtime.settings import Settings
from crm_runtime.telemetry import instrument_engine, setup_tracing
from services.commissions import servicer
from services.commissions.app import CommissionsApp

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger("crm.commissions")


async def start(settings: Settings, *, port: int | None = None) -> tuple[GrpcApp, CommissionsApp]:
    url = settings.service_database_url("commissions")
    engine = db.create_engine(url, "commissions", pool_size=settings.db_pool_size)
    instrument_engine(engine)
    app = CommissionsApp(engine)
    grpc_app = await start_grpc_server(
        lambda server: servicer.register(server, app),
        host=settings.grpc_host,
        port=settings.grpc_port if port is None else port,
    )
    grpc_app.on_stop.append(engine.dispose)
    return grpc_app, app


async def serve(settings: Settings, migrate: bool = False) -> None:
    configure_logging("commissions", settings.log_level, settings.log_format)
    setup_tracing("commissions")
    if migrate:
        await db.migrate_async(MIGRATIONS, settings.service_database_url("commissions"))
    metrics_port = start_metrics_server(settings.metrics_port, settings.metrics_host) if settings.metrics_port else None
    grpc_app, _ = await start(settings)
    log.info("commissions service ready", extra={"grpc_port": grpc_app.port, "metrics_port": metrics_port})
    await serve_until_signalled(grpc_app)
