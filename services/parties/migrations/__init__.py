"""Alembic migrations of the parties schema (a package so that they ship with the service)."""
