"""A lazy, cached Temporal client for services that start workflows: the service starts and serves
reads even while Temporal is down, and connects on the first call that needs it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from crm_runtime.settings import Settings

TemporalConnector = Callable[[], Awaitable[Any]]


def temporal_connector(settings: Settings) -> TemporalConnector:
    client: Any = None
    lock = asyncio.Lock()

    async def connect() -> Any:
        nonlocal client
        async with lock:
            if client is None:
                from temporalio.client import Client
                from temporalio.contrib.opentelemetry import TracingInterceptor

                client = await asyncio.wait_for(
                    Client.connect(
                        settings.temporal_address,
                        namespace=settings.temporal_namespace,
                        interceptors=[TracingInterceptor()],
                    ),
                    timeout=5,
                )
        return client

    return connect
