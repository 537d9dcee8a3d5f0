"""The shared runtime every process uses: RPC metrics by method and code, health that turns NOT_SERVING
before a graceful stop, JSON logs that carry the trace id, and settings that fail fast."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from prometheus_client import REGISTRY
from pydantic import ValidationError

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.grpc_server import start_grpc_server
from crm_runtime.logs import configure_logging
from crm_runtime.settings import Settings
from crm_runtime.telemetry import setup_tracing


def handled(method: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "crm_grpc_server_handled_total",
        {"grpc_service": "crm.parties.v1.PartiesService", "grpc_method": method, "grpc_code": code},
    )
    return value or 0.0


async def test_rpc_metrics_count_calls_by_method_and_code(parties) -> None:
    before = {code: handled("GetParty", code) for code in ("OK", "NOT_FOUND", "INVALID_ARGUMENT")}
    latency_before = (
        REGISTRY.get_sample_value(
            "crm_grpc_server_handling_seconds_count",
            {"grpc_service": "crm.parties.v1.PartiesService", "grpc_method": "GetParty", "grpc_code": "NOT_FOUND"},
        )
        or 0.0
    )
    for party_id in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(grpc.aio.AioRpcError):
            await parties.GetParty(pb.GetPartyRequest(party_id=party_id))
    assert handled("GetParty", "NOT_FOUND") == before["NOT_FOUND"] + 1
    assert handled("GetParty", "INVALID_ARGUMENT") == before["INVALID_ARGUMENT"] + 1
    assert handled("GetParty", "OK") == before["OK"]
    latency_after = REGISTRY.get_sample_value(
        "crm_grpc_server_handling_seconds_count",
        {"grpc_service": "crm.parties.v1.PartiesService", "grpc_method": "GetParty", "grpc_code": "NOT_FOUND"},
    )
    assert latency_after == latency_before + 1


async def test_health_reports_not_serving_while_draining_then_stops() -> None:
    app = await start_grpc_server(lambda server: [], port=0)
    address = f"127.0.0.1:{app.port}"
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert (await health.Check(health_pb2.HealthCheckRequest())).status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(app.stop(grace=1, drain=1.0))
        await asyncio.sleep(0.3)
        status = (await health.Check(health_pb2.HealthCheckRequest())).status
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING, "load balancers must see it drain"
        await stopping
    async with grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_json_logs_carry_the_trace_id(capfd: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("test", "INFO", "json")
        setup_tracing("test")
        with trace.get_tracer("test").start_as_current_span("work") as span:
            logging.getLogger("crm.test").info("inside a span", extra={"party_id": "p-1"})
        line = capfd.readouterr().err.strip().splitlines()[-1]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    record = json.loads(line)
    assert record["message"] == "inside a span"
    assert record["service"] == "test" and record["level"] == "INFO" and record["party_id"] == "p-1"
    assert record["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_settings_fail_fast_naming_the_variable() -> None:
    with pytest.raises(ValidationError) as err:
        Settings(database_url="mysql://db/crm")
    assert "database_url" in str(err.value)
    env = {**os.environ, "CRM_GRPC_PORT": "seventy"}
    result = subprocess.run(
        [sys.executable, "-m", "crmctl.cli", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "CRM_GRPC_PORT" in result.stderr
