"""Async SQLAlchemy engines for PostgreSQL and Alembic migrations per service.

Each service owns one database (or schema) and its own migration history; this module only knows how
to reach a URL and run a service's Alembic folder against it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from crm_runtime.metrics import DB_POOL_CHECKED_OUT, DB_POOL_MAX, DB_POOL_SIZE


def async_url(url: str) -> str:
    """postgresql://... -> postgresql+asyncpg://..., keeping a Unix-socket host= query parameter."""
    parts = urlsplit(url)
    scheme = "postgresql+asyncpg"
    query = dict(parse_qsl(parts.query))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def create_engine(url: str, service: str, pool_size: int = 10) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,  # crm_db_pool_max_connections below must follow
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": f"crm-{service}"}},
    )
    DB_POOL_SIZE.labels(service).set(pool_size)
    DB_POOL_MAX.labels(service).set(pool_size * 2)
    gauge = DB_POOL_CHECKED_OUT.labels(service)
    event.listen(engine.sync_engine, "checkout", lambda *_: gauge.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: gauge.dec())
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(migrations_dir: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return cfg


def migrate(migrations_dir: Path, url: str, revision: str = "head") -> None:
    """Upgrades the service's database to `revision`. Safe to run on every start (no-op when current)."""
    command.upgrade(alembic_config(migrations_dir, url), revision)


async def migrate_async(migrations_dir: Path, url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrate, migrations_dir, url, revision)
