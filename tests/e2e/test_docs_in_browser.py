"""A person opening the API docs: the gateway runs for real (uvicorn on a socket) and Debian's Chromium,
headless, renders /docs. Swagger UI builds the page in JavaScript from /openapi.json, so the rendered DOM
proves the assets load without a CDN and the spec parses."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crm_runtime.settings import Settings
from crmctl.infra import free_port
from gateway.main import serve
from tests.gateway.test_serve import wait_until_up

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=8000",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("Debian's chromium is required for browser tests (make test installs it)")
    pytest.skip("chromium is not installed; `make test` installs it (apt-get install chromium)")


async def test_the_docs_page_renders_in_a_real_browser(gateway_settings: Settings, tmp_path: Path) -> None:
    browser = chromium()
    port = free_port()
    settings = gateway_settings.model_copy(update={"gateway_port": port, "log_format": "text"})
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    shutdown = asyncio.Event()
    task = asyncio.create_task(serve(settings, shutdown=shutdown))
    try:
        await wait_until_up(f"http://127.0.0.1:{port}/healthz")
        url = f"http://127.0.0.1:{port}/docs"
        common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
        dom = await asyncio.to_thread(
            subprocess.run, [*common, "--dump-dom", url], capture_output=True, text=True, timeout=90
        )
        shot = tmp_path / "docs.png"
        await asyncio.to_thread(
            subprocess.run,
            [*common, f"--screenshot={shot}", "--window-size=1280,1600", url],
            capture_output=True,
            timeout=90,
        )
    finally:
        shutdown.set()
        await asyncio.wait_for(task, timeout=15)
        root.handlers[:] = handlers
        root.setLevel(level)
    html = dom.stdout
    assert "swagger-ui" in html, dom.stderr[-2000:]
    assert "CRM platform API" in html, "Swagger UI did not render the spec's title"
    assert "/api/v1/parties/{party_id}/card" in html, "the operations were not rendered"
    assert "cdn.jsdelivr.net" not in html, "the docs must not depend on a CDN"
    assert shot.exists() and shot.stat().st_size > 10_000
