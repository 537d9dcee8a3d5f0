"""Erasure end to end on the real Temporal dev server: the parties service's RPCs start, query and signal
the workflow, the worker (run_worker) executes it and its activity calls the same parties service back.

The module uses its own task queue so that workers of other test modules sharing the session's dev server
never pick up these workflows (their activities would call another parties server)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import grpc
import pytest
import pytest_asyncio
from google.protobuf import duration_pb2
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from temporalio.client import Client, WorkflowExecution

from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from crm_runtime.telemetry import setup_tracing
from crmctl.infra import LocalTemporal, free_port
from tests.conftest import make_settings
from tests.workflows.support import CTX, create_person, get_party
from workflows.worker import run_worker

T = TypeVar("T")


@dataclass
class Stack:
    parties: parties_pb2_grpc.PartiesServiceStub
    client: Client


@pytest_asyncio.fixture(scope="module")
async def stack(parties_db_url: str, temporal_server: LocalTemporal) -> AsyncIterator[Stack]:
    from services.parties.main import start

    queue = f"erasure-dev-{uuid.uuid4().hex[:8]}"
    service_settings = make_settings(
        parties_db_url, temporal_address=temporal_server.address, temporal_task_queue=queue
    )
    grpc_app, _ = await start(service_settings, port=0)
    address = f"127.0.0.1:{grpc_app.port}"
    worker_settings = make_settings(
        parties_db_url, temporal_address=temporal_server.address, temporal_task_queue=queue, parties_address=address
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(worker_settings, stop=stop))
    client = await Client.connect(temporal_server.address, namespace=temporal_server.namespace)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield Stack(parties=parties_pb2_grpc.PartiesServiceStub(channel), client=client)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=20)
        await grpc_app.stop(grace=1)


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within: float = 15.0) -> T:
    """Polls until ok(value) holds (the workflow runs and visibility catches up asynchronously)."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if ok(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def status(stack: Stack, party_id: str) -> pb.GetErasureStatusResponse:
    return await stack.parties.GetErasureStatus(pb.GetErasureStatusRequest(party_id=party_id))


async def listed(stack: Stack, query: str) -> list[WorkflowExecution]:
    return [wf async for wf in stack.client.list_workflows(query)]


async def test_erasure_waits_then_completes(stack: Stack) -> None:
    party = await create_person(stack.parties)
    requested = datetime.now(UTC)

    resp = await stack.parties.RequestErasure(
        pb.RequestErasureRequest(party_id=party.party_id, grace_period=duration_pb2.Duration(seconds=2), context=CTX)
    )

    assert resp.erasure_id == f"party-erasure/{party.party_id}"
    scheduled = resp.scheduled_for.ToDatetime(tzinfo=UTC)
    assert requested + timedelta(seconds=2) <= scheduled <= requested + timedelta(seconds=4)
    waiting = await status(stack, party.party_id)
    assert waiting.state == pb.ERASURE_STATE_WAITING_GRACE_PERIOD
    assert waiting.scheduled_for == resp.scheduled_for
    assert (await get_party(stack.parties, party.party_id)).status == pb.PARTY_STATUS_ACTIVE

    done = await eventually(lambda: status(stack, party.party_id), lambda s: s.state == pb.ERASURE_STATE_COMPLETED)
    assert done.state == pb.ERASURE_STATE_COMPLETED
    assert done.erasure_id == resp.erasure_id
    assert done.completed_at.ToDatetime(tzinfo=UTC) >= scheduled
    assert (await get_party(stack.parties, party.party_id)).status == pb.PARTY_STATUS_ERASED

    query = f'CrmPartyId = "{party.party_id}" AND CrmKind = "party-erasure" AND CrmStatus = "completed"'
    found = await eventually(lambda: listed(stack, query), lambda wfs: len(wfs) == 1)
    assert [wf.id for wf in found] == [resp.erasure_id]

    # Nothing is left to cancel or to erase.
    with pytest.raises(grpc.aio.AioRpcError) as cancel:
        await stack.parties.CancelErasure(pb.CancelErasureRequest(party_id=party.party_id, context=CTX))
    assert cancel.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stack.parties.RequestErasure(pb.RequestErasureRequest(party_id=party.party_id, context=CTX))
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_erasure_cancelled_during_grace_period(stack: Stack) -> None:
    party = await create_person(stack.parties)
    await stack.parties.RequestErasure(
        pb.RequestErasureRequest(party_id=party.party_id, grace_period=duration_pb2.Duration(seconds=60), context=CTX)
    )
    query = f'CrmPartyId = "{party.party_id}" AND CrmStatus = "waiting_grace_period"'
    assert len(await eventually(lambda: listed(stack, query), lambda wfs: len(wfs) == 1)) == 1

    resp = await stack.parties.CancelErasure(pb.CancelErasureRequest(party_id=party.party_id, context=CTX))

    assert resp.state == pb.ERASURE_STATE_CANCELLED
    cancelled = await eventually(lambda: status(stack, party.party_id), lambda s: s.state == pb.ERASURE_STATE_CANCELLED)
    assert cancelled.state == pb.ERASURE_STATE_CANCELLED
    assert not cancelled.HasField("completed_at")
    untouched = await get_party(stack.parties, party.party_id)
    assert untouched.status == pb.PARTY_STATUS_ACTIVE
    assert untouched.person.name.last_name == "Смирнова"
    query = f'CrmPartyId = "{party.party_id}" AND CrmStatus = "cancelled"'
    assert len(await eventually(lambda: listed(stack, query), lambda wfs: len(wfs) == 1)) == 1


async def test_worker_exports_sdk_metrics(parties_db_url: str, temporal_server: LocalTemporal) -> None:
    port = free_port()
    settings = make_settings(
        parties_db_url,
        temporal_address=temporal_server.address,
        temporal_task_queue=f"metrics-{uuid.uuid4().hex[:8]}",
        metrics_port=port,
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop=stop))
    try:

        async def scrape() -> str:
            try:
                return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return ""

        # The SDK publishes each metric once it first records it: wait for the slot gauge itself.
        body = await eventually(scrape, lambda text: "temporal_worker_task_slots_available" in text)
        assert "temporal_worker_task_slots_available" in body
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=20)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return resp.read().decode()


class _Capture(SpanProcessor):
    """Keeps finished spans while a test listens (the tracer provider is global to the test process)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] | None = None

    def on_end(self, span: ReadableSpan) -> None:
        if self.spans is not None:
            self.spans.append(span)


async def test_one_trace_from_request_to_anonymization(stack: Stack) -> None:
    capture = _Capture()
    setup_tracing("tests", extra_processor=capture)
    capture.spans = []
    try:
        party = await create_person(stack.parties)
        await stack.parties.RequestErasure(
            pb.RequestErasureRequest(
                party_id=party.party_id, grace_period=duration_pb2.Duration(seconds=1), context=CTX
            )
        )
        await eventually(lambda: status(stack, party.party_id), lambda s: s.state == pb.ERASURE_STATE_COMPLETED)
        spans = list(capture.spans)
    finally:
        capture.spans = None
    by_id = {span.context.span_id: span for span in spans}
    (anonymize,) = [
        span for span in spans if span.name.endswith("/AnonymizeParty") and span.kind == trace.SpanKind.SERVER
    ]
    chain = [anonymize.name]
    span = anonymize
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span.name)
    assert chain == [
        "/crm.parties.v1.PartiesService/AnonymizeParty",
        "/crm.parties.v1.PartiesService/AnonymizeParty",  # the activity's gRPC client span
        "RunActivity:anonymize_party",
        # TracingInterceptor parents a workflow's spans on the span that started it (replay-safe).
        "StartActivity:anonymize_party",
        "StartWorkflow:PartyErasureWorkflow",
        "/crm.parties.v1.PartiesService/RequestErasure",
    ]
