"""The Alembic environment every service uses: the service's own schema and its own version table, so
several services can share one database without touching each other's tables. A service's
`migrations/env.py` only names its schema."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import async_engine_from_config


def run_migrations(schema: str) -> None:
    """Runs the pending migrations of one service (Alembic calls env.py, env.py calls this)."""
    if context.is_offline_mode():
        raise SystemExit("offline migrations are not supported; run `crm migrate`")
    config = context.config

    def run(connection) -> None:  # type: ignore[no-untyped-def]
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        context.configure(connection=connection, version_table_schema=schema, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()
        await engine.dispose()

    asyncio.run(run_async())
