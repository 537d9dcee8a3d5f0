"""Shared fixtures: the real pieces of the platform started on free ports.

One embedded PostgreSQL cluster per test session; each test module gets a fresh database cloned from a
migrated template (fast, and tests never see each other's rows). The Temporal dev server is started
once, on first use."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from crm.parties.v1 import parties_pb2_grpc
from crm_runtime import db
from crm_runtime.settings import Settings
from crmctl.infra import LocalPostgres, LocalTemporal, free_port, start_postgres, start_temporal

ROOT = Path(__file__).resolve().parent.parent
PARTIES_MIGRATIONS = ROOT / "services" / "parties" / "migrations"
TEMPLATE = "crm_parties_template"
COMMISSIONS_MIGRATIONS = ROOT / "services" / "commissions" / "migrations"
COMMISSIONS_TEMPLATE = "crm_commissions_template"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    # A short path: PostgreSQL's Unix socket path must stay under ~100 bytes.
    base = Path(os.environ.get("CRM_TEST_PGDIR", "/tmp")) / f"crm-pg-{uuid.uuid4().hex[:8]}"
    base.mkdir(parents=True)
    pg = start_postgres(base / "data")
    pg.ensure_database(TEMPLATE)
    db.migrate(PARTIES_MIGRATIONS, pg.url(TEMPLATE))
    yield pg
    pg.stop()


@pytest.fixture(scope="module")
def parties_db_url(postgres: LocalPostgres) -> Iterator[str]:
    name = f"crm_parties_{uuid.uuid4().hex[:10]}"
    url = postgres.ensure_database(name, template=TEMPLATE)
    yield url
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def commissions_template(postgres: LocalPostgres) -> str:
    """A migrated template of the commissions schema, made on first use (the parties template is untouched)."""
    postgres.ensure_database(COMMISSIONS_TEMPLATE)
    db.migrate(COMMISSIONS_MIGRATIONS, postgres.url(COMMISSIONS_TEMPLATE))
    return COMMISSIONS_TEMPLATE


@pytest.fixture(scope="module")
def commissions_db_url(postgres: LocalPostgres, commissions_template: str) -> Iterator[str]:
    name = f"crm_commissions_{uuid.uuid4().hex[:10]}"
    url = postgres.ensure_database(name, template=commissions_template)
    yield url
    postgres.drop_database(name)


@pytest_asyncio.fixture(scope="module")
async def commissions_server(commissions_db_url: str) -> AsyncIterator[str]:
    """A real commissions gRPC server on a free port; yields its address."""
    from services.commissions.main import start

    settings = Settings(  # type: ignore[call-arg]
        commissions_database_url=commissions_db_url, temporal_address="127.0.0.1:1", grpc_port=0, db_pool_size=5
    )
    grpc_app, _ = await start(settings, port=0)
    yield f"127.0.0.1:{grpc_app.port}"
    await grpc_app.stop(grace=1)


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[LocalTemporal]:
    server = start_temporal(None, namespace="crm", port=free_port(), ui_port=None)
    yield server
    server.stop()


def make_settings(parties_db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "parties_database_url": parties_db_url,
        "temporal_address": "127.0.0.1:1",
        "grpc_port": 0,
        "db_pool_size": 5,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest_asyncio.fixture(scope="module")
async def parties_server(parties_db_url: str) -> AsyncIterator[str]:
    """A real parties gRPC server on a free port; yields its address."""
    from services.parties.main import start

    grpc_app, _ = await start(make_settings(parties_db_url), port=0)
    yield f"127.0.0.1:{grpc_app.port}"
    await grpc_app.stop(grace=1)


@pytest_asyncio.fixture(scope="module")
async def parties(parties_server: str) -> AsyncIterator[parties_pb2_grpc.PartiesServiceStub]:
    async with grpc.aio.insecure_channel(parties_server) as channel:
        yield parties_pb2_grpc.PartiesServiceStub(channel)
