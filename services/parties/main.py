"""Entry point of the parties service (`crm serve parties`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_runtime.grpc_server import GrpcApp
from crm_runtime.service import serve_service, start_service
from crm_runtime.settings import Settings
from crm_runtime.temporal import temporal_connector
from services.parties import servicer
from services.parties.app import PartiesApp

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def start(settings: Settings, *, port: int | None = None) -> tuple[GrpcApp, PartiesApp]:
    def make_app(engine: Any) -> PartiesApp:
        return PartiesApp(engine, temporal=temporal_connector(settings), settings=settings)

    return await start_service("parties", settings, make_app, servicer.register, port=port)


async def serve(settings: Settings, migrate: bool = False) -> None:
    await serve_service("parties", settings, MIGRATIONS, start, migrate)
