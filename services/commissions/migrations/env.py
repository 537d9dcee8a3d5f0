"""Alembic environment of the commissions service: its schema, via the environment every service shares."""

from crm_runtime.migrations_env import run_migrations

run_migrations("commissions")
