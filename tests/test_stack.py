"""`crm up` as a user runs it: one process brings up PostgreSQL, Temporal, the parties and commissions
services, the worker and the gateway, prints the URLs, serves requests, and a Ctrl-C (SIGINT, twice even) stops all
of it, leaving no process behind. A second start finds the data of the first."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from crmctl.infra import free_port

ROOT = Path(__file__).resolve().parent.parent


def start(data_dir: Path, ports: dict[str, int], log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    args = [sys.executable, "-m", "crmctl.cli", "up", "--data-dir", str(data_dir)]
    for name, port in ports.items():
        args += [f"--{name.replace('_', '-')}", str(port)]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_up(proc: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "the platform is up" in text:
            return text
        assert proc.poll() is None, f"crm up exited early:\n{text[-3000:]}"
        time.sleep(0.3)
    raise AssertionError(f"crm up did not come up:\n{log.read_text(errors='replace')[-3000:]}")


def get(url: str, token: str = "") -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


def stop(proc: subprocess.Popen) -> list[psutil.Process]:
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # an impatient second Ctrl-C must not orphan anything
    assert proc.wait(90) == 0
    return [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_crm_up_runs_the_platform_and_stops_cleanly(tmp_path: Path) -> None:
    data = Path("/tmp") / f"crm-up-{os.getpid()}"  # short: the PostgreSQL socket path must stay short
    ports = {
        "gateway_port": free_port(), "parties_port": free_port(), "temporal_port": free_port(),
        "ui_port": free_port(), "parties_metrics_port": free_port(), "worker_metrics_port": free_port(),
        "commissions_port": free_port(), "commissions_metrics_port": free_port(),
    }  # fmt: skip
    log = tmp_path / "up.log"
    proc = start(data, ports, log)
    try:
        text = wait_up(proc, log)
        for url in (
            f"http://127.0.0.1:{ports['gateway_port']}/docs",
            f"http://127.0.0.1:{ports['gateway_port']}/metrics",
            f"http://127.0.0.1:{ports['parties_metrics_port']}/metrics",
            f"http://127.0.0.1:{ports['worker_metrics_port']}/metrics",
            f"http://127.0.0.1:{ports['commissions_metrics_port']}/metrics",
            f"http://127.0.0.1:{ports['ui_port']}",
        ):
            assert url.split("/metrics")[0].split("/docs")[0] in text, f"{url} is not printed"
            assert get(url)[0] == 200, url
        assert get(f"http://127.0.0.1:{ports['gateway_port']}/readyz")[0] == 200
        token = subprocess.run(
            [sys.executable, "-m", "crmctl.cli", "token", "--role", "admin"],
            cwd=ROOT, env={**os.environ, "CRM_STATE_DIR": str(data)}, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        status, body = get(f"http://127.0.0.1:{ports['gateway_port']}/api/v1/catalogue/role-types", token)
        assert status == 200 and b"customer" in body
    finally:
        leftovers = stop(proc)
    assert not leftovers, f"processes left running: {[p.cmdline() for p in leftovers]}"
    assert (data / "postgres" / "PG_VERSION").exists() and (data / "temporal.db").exists()

    proc = start(data, ports, log)
    try:
        wait_up(proc, log)
    finally:
        assert not stop(proc)
        shutil.rmtree(data, ignore_errors=True)
