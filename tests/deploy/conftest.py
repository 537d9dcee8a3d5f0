"""The running platform the deployment checks compare against: `crm up` on free ports, driven through its
public APIs until every kind of metric the dashboards and alerts chart has been produced (calls that
succeed and fail, a search, an import, a merge and an unmerge, an erasure that completes and a workflow
that fails; commission runs full, incremental and refused, ingestion, adjustments and a finalization),
then scraped on each role's /metrics endpoint."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from temporalio.client import Client

from crm.commissions.v1 import commissions_pb2_grpc
from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from crmctl.infra import free_port
from tests.deploy.commissions_traffic import drive_commissions
from tests.workflows.support import CTX, create_person

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "crm"


@dataclass(frozen=True)
class RunningPlatform:
    #: role -> URL of its /metrics endpoint, as the chart's ServiceMonitors would scrape them.
    metrics_urls: dict[str, str]
    gateway_url: str
    parties_address: str
    commissions_address: str
    temporal_address: str

    def scrape(self, role: str) -> str:
        with urllib.request.urlopen(self.metrics_urls[role], timeout=10) as resp:
            return resp.read().decode()


def _get(url: str, token: str = "") -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


async def _drive_parties(address: str) -> str:
    """Successful and failed calls, a search, an import and an erasure; returns the erased party's id."""
    async with grpc.aio.insecure_channel(address) as channel:
        parties = parties_pb2_grpc.PartiesServiceStub(channel)
        person = await create_person(parties)
        await parties.SearchParties(pb.SearchPartiesRequest(query="Смирнова"))
        row = pb.ImportRow(
            row_ref="1",
            party=pb.CreatePartyRequest(
                request_id=f"deploy-{uuid.uuid4()}",
                person=pb.Person(name=pb.PersonName(last_name="Орлов", first_name="Павел")),
                context=CTX,
            ),
        )
        await parties.ImportParties(iter([pb.ImportPartiesRequest(rows=[row, pb.ImportRow(row_ref="2")])]))
        for bad in (pb.GetPartyRequest(party_id="not-a-uuid"), pb.GetPartyRequest(party_id=str(uuid.uuid4()))):
            with pytest.raises(grpc.aio.AioRpcError):
                await parties.GetParty(bad)
        # A merge and its undoing (the parties dashboard charts both).
        other = await create_person(parties)
        merged = await parties.MergeParties(
            pb.MergePartiesRequest(
                request_id=f"deploy-{uuid.uuid4()}",
                survivor_party_id=person.party_id,
                merged_party_id=other.party_id,
                context=CTX,
            )
        )
        await parties.UnmergeParties(
            pb.UnmergePartiesRequest(request_id=f"deploy-{uuid.uuid4()}", merge_id=merged.merge.merge_id, context=CTX)
        )
        await parties.RequestErasure(
            pb.RequestErasureRequest(
                party_id=person.party_id, grace_period=duration_pb2.Duration(seconds=0), context=CTX
            )
        )
        return person.party_id


async def _drive_commissions(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        await drive_commissions(commissions_pb2_grpc.CommissionsServiceStub(channel))


async def _fail_a_workflow(temporal_address: str) -> None:
    """An erasure of a party that does not exist: the activity's NOT_FOUND fails the workflow, which is
    what the workflow-failure alert and panels watch."""
    client = await Client.connect(temporal_address, namespace="crm")
    handle = await client.start_workflow(
        "PartyErasureWorkflow",
        {
            "party_id": str(uuid.uuid4()),
            "grace_seconds": 0,
            "actor": "user:deploy-tests",
            "source": "tests",
            "reason": "a workflow that must fail",
            "requested_at": datetime.now(UTC).isoformat(),
        },
        id=f"party-erasure/deploy-{uuid.uuid4()}",
        task_queue="crm-workflows",
    )
    with pytest.raises(Exception, match="failed"):
        await handle.result()


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def running_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    data = Path("/tmp") / f"crm-deploy-{uuid.uuid4().hex[:8]}"  # short: PostgreSQL's socket path limit
    ports = {
        "gateway_port": free_port(), "parties_port": free_port(), "temporal_port": free_port(),
        "ui_port": free_port(), "parties_metrics_port": free_port(), "worker_metrics_port": free_port(),
        "commissions_port": free_port(), "commissions_metrics_port": free_port(),
    }  # fmt: skip
    log = tmp_path_factory.mktemp("deploy") / "up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    args = [sys.executable, "-m", "crmctl.cli", "up", "--data-dir", str(data)]
    for name, port in ports.items():
        args += [f"--{name.replace('_', '-')}", str(port)]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    platform = RunningPlatform(
        metrics_urls={
            "parties": f"http://127.0.0.1:{ports['parties_metrics_port']}/metrics",
            "commissions": f"http://127.0.0.1:{ports['commissions_metrics_port']}/metrics",
            "worker": f"http://127.0.0.1:{ports['worker_metrics_port']}/metrics",
            "gateway": f"http://127.0.0.1:{ports['gateway_port']}/metrics",
        },
        gateway_url=f"http://127.0.0.1:{ports['gateway_port']}",
        parties_address=f"127.0.0.1:{ports['parties_port']}",
        commissions_address=f"127.0.0.1:{ports['commissions_port']}",
        temporal_address=f"127.0.0.1:{ports['temporal_port']}",
    )
    try:
        _wait_for(
            lambda: "the platform is up" in log.read_text(errors="replace") or proc.poll() is not None,
            "crm up",
            timeout=120,
        )
        assert proc.poll() is None, f"crm up exited:\n{log.read_text(errors='replace')[-3000:]}"
        token = subprocess.run(
            [sys.executable, "-m", "crmctl.cli", "token", "--role", "admin"],
            cwd=ROOT, env={**env, "CRM_STATE_DIR": str(data)}, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert _get(f"{platform.gateway_url}/api/v1/catalogue/role-types", token) == 200
        assert _get(f"{platform.gateway_url}/api/v1/catalogue/role-types") == 401
        assert _get(f"{platform.gateway_url}/no-such-page") == 404
        assert _get(f"{platform.gateway_url}/api/v1/parties/{uuid.uuid4()}", token) == 404  # an upstream error
        asyncio.run(_drive_parties(platform.parties_address))
        asyncio.run(_drive_commissions(platform.commissions_address))
        asyncio.run(_fail_a_workflow(platform.temporal_address))
        _wait_for(
            lambda: (
                "temporal_workflow_failed_total" in platform.scrape("worker")
                and "temporal_workflow_completed_total" in platform.scrape("worker")
            ),
            "the worker's workflow metrics",
        )
        yield platform
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(data, ignore_errors=True)
