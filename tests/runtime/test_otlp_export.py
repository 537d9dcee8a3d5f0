"""With OTEL_EXPORTER_OTLP_ENDPOINT set, a process exports its spans over OTLP/gRPC: a real OTLP
receiver (the collector's own service definition) on loopback gets them, with the service's name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from crmctl.infra import free_port


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request, context):
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_spans_are_exported_over_otlp_when_an_endpoint_is_set() -> None:
    receiver = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    script = textwrap.dedent(
        """
        from opentelemetry import trace
        from crm_runtime.telemetry import setup_tracing
        setup_tracing("otlp-probe")
        with trace.get_tracer("probe").start_as_current_span("otlp-probe-span"):
            pass
        """
    )
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    finally:
        server.stop(1)
    spans = [
        (rs.resource, span)
        for req in receiver.requests
        for rs in req.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    names = {span.name for _, span in spans}
    assert "otlp-probe-span" in names, names
    services = {a.value.string_value for res, _ in spans for a in res.attributes if a.key == "service.name"}
    assert services == {"crm-otlp-probe"}
