"""Entry point of the commissions service (`crm serve commissions`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_runtime.grpc_server import GrpcApp
from crm_runtime.service import serve_service, start_service
from crm_runtime.settings import Settings
from crm_runtime.temporal import temporal_connector
from services.commissions import servicer
from services.commissions.app import CommissionsApp

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def start(settings: Settings, *, port: int | None = None) -> tuple[GrpcApp, CommissionsApp]:
    def make_app(engine: Any) -> CommissionsApp:
        return CommissionsApp(engine, temporal=temporal_connector(settings), settings=settings)

    return await start_service("commissions", settings, make_app, servicer.register, port=port)


async def serve(settings: Settings, migrate: bool = False) -> None:
    await serve_service("commissions", settings, MIGRATIONS, start, migrate)
