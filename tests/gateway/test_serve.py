"""The gateway as it runs in production: uvicorn on a real port (gateway.main.serve), called over a
socket, then shut down gracefully."""

from __future__ import annotations

import asyncio
import logging

import httpx

from crm_runtime.settings import Settings
from crmctl.infra import free_port
from gateway.auth import issue_token
from gateway.main import serve
from tests.gateway.conftest import person_body


async def wait_until_up(url: str) -> None:
    async with asyncio.timeout(10), httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def test_serve_over_a_real_socket(gateway_settings: Settings) -> None:
    port = free_port()
    settings = gateway_settings.model_copy(update={"gateway_port": port, "log_format": "text"})
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # serve() configures the process's logging
    shutdown = asyncio.Event()
    task = asyncio.create_task(serve(settings, shutdown=shutdown))
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(f"{base}/healthz")
        token = issue_token(settings, "socket-user", ["agent"])
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            assert (await http.get("/readyz")).status_code == 200
            created = await http.post("/api/v1/parties", json=person_body("Сокетов", "Степан"))
            assert created.status_code == 201, created.text
            got = await http.get(f"/api/v1/parties/{created.json()['party_id']}")
            assert got.json()["display_name"] == "Сокетов Степан"
            assert "server" not in got.headers
    finally:
        shutdown.set()
        await asyncio.wait_for(task, timeout=15)
        root.handlers[:] = handlers
        root.setLevel(level)
    async with httpx.AsyncClient() as http:
        try:
            await http.get(f"{base}/healthz")
            raise AssertionError("the gateway still answers after shutdown")
        except httpx.TransportError:
            pass
