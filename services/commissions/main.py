"""Entry point of the commissions service (`crm serve commissions`)."""

from __future__ import annotations

from pathlib import Path

from crm_runtime.grpc_server import GrpcApp
from crm_runtime.service import serve_service, start_service
from crm_runtime.settings import Settings
from services.commissions import servicer
from services.commissions.app import CommissionsApp

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def start(settings: Settings, *, port: int | None = None) -> tuple[GrpcApp, CommissionsApp]:
    return await start_service("commissions", settings, CommissionsApp, servicer.register, port=port)


async def serve(settings: Settings, migrate: bool = False) -> None:
    await serve_service("commissions", settings, MIGRATIONS, start, migrate)
