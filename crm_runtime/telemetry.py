"""OpenTelemetry set-up shared by all processes: one tracer provider per process, exporting over OTLP
when OTEL_EXPORTER_OTLP_ENDPOINT is set, and W3C trace context carried across HTTP, gRPC and Temporal."""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_provider: TracerProvider | None = None


def setup_tracing(service: str, extra_processor: SpanProcessor | None = None) -> TracerProvider:
    """Installs the process's tracer provider once; later calls return it (adding extra_processor)."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": f"crm-{service}"}))
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
    if extra_processor is not None:
        _provider.add_span_processor(extra_processor)
    return _provider


def instrument_engine(engine: object) -> None:
    """Traces every SQL statement of an async SQLAlchemy engine as a child of the current span.

    The instrumentor's public entry point works once per process; a process (or a test session) may
    own several engines, so each engine gets its own EngineTracer instead."""
    from opentelemetry import metrics
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = metrics.get_meter("opentelemetry.instrumentation.sqlalchemy").create_up_down_counter(
        name="db.client.connections.usage", unit="connections", description="Connections in use, by state."
    )
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[attr-defined]
