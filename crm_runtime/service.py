"""How every gRPC service process starts and serves: its database engine (traced, pool metrics), its
application object, the gRPC server, and `crm serve <service>` (logs, tracing, optional migrations, the
metrics endpoint, serving until SIGTERM). A service's main.py only says what is its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_runtime import db
from crm_runtime.grpc_server import GrpcApp, serve_until_signalled, start_grpc_server
from crm_runtime.logs import configure_logging
from crm_runtime.metrics import start_metrics_server
from crm_runtime.settings import Settings
from crm_runtime.telemetry import instrument_engine, setup_tracing

App = TypeVar("App")


async def start_service(
    name: str,
    settings: Settings,
    make_app: Callable[[AsyncEngine], App],
    register: Callable[[grpc.aio.Server, App], list[str]],
    *,
    port: int | None = None,
) -> tuple[GrpcApp, App]:
    """The service's engine, app and gRPC server (port 0 picks a free one); the engine closes on stop."""
    engine = db.create_engine(settings.service_database_url(name), name, pool_size=settings.db_pool_size)
    instrument_engine(engine)
    app = make_app(engine)
    grpc_app = await start_grpc_server(
        lambda server: register(server, app),
        host=settings.grpc_host,
        port=settings.grpc_port if port is None else port,
    )
    grpc_app.on_stop.append(engine.dispose)
    return grpc_app, app


async def serve_service(
    name: str, settings: Settings, migrations: Path, start: Callable[[Settings], Any], migrate: bool = False
) -> None:
    """`crm serve <name>`: runs until SIGTERM/SIGINT, then drains (health NOT_SERVING first)."""
    configure_logging(name, settings.log_level, settings.log_format)
    setup_tracing(name)
    if migrate:
        await db.migrate_async(migrations, settings.service_database_url(name))
    metrics_port = start_metrics_server(settings.metrics_port, settings.metrics_host) if settings.metrics_port else None
    grpc_app, _ = await start(settings)
    logging.getLogger(f"crm.{name}").info(
        f"{name} service ready", extra={"grpc_port": grpc_app.port, "metrics_port": metrics_port}
    )
    await serve_until_signalled(grpc_app)
