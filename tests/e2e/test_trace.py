"""One request, one trace: the gateway's HTTP span, the gRPC client and server spans of the parties
service and the SQL statements it ran all share a trace id and form one parent chain."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from crm_runtime.telemetry import setup_tracing
from tests.gateway.conftest import TokenFactory, person_body


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


async def test_gateway_request_reaches_the_service_and_the_database_in_one_trace(
    client: httpx.AsyncClient, auth: TokenFactory
) -> None:
    exporter = InMemorySpanExporter()
    setup_tracing("e2e", extra_processor=SimpleSpanProcessor(exporter))
    created = await client.post("/api/v1/parties", json=person_body("Трассировкин", "Олег"), headers=auth("agent"))
    assert created.status_code == 201, created.text

    spans = exporter.get_finished_spans()
    http_root = next(s for s in spans if s.attributes.get("http.route") == "/api/v1/parties" and s.parent is None)
    in_trace = [s for s in spans if s.context.trace_id == http_root.context.trace_id]
    by_id = {s.context.span_id: s for s in in_trace}
    server = [s for s in in_trace if s.name.endswith("PartiesService/CreateParty") and s.kind.name == "SERVER"]
    client_side = [s for s in in_trace if s.name.endswith("PartiesService/CreateParty") and s.kind.name == "CLIENT"]
    sql = [s for s in in_trace if s.attributes.get("db.system") == "postgresql"]
    assert server and client_side, [s.name for s in in_trace]
    assert any("INSERT INTO parties.party" in str(s.attributes.get("db.statement", "")) for s in sql)
    for statement in sql:
        chain = ancestors(statement, by_id)
        assert server[0] in chain, f"{statement.name} is not under the RPC server span"
        assert http_root in chain
    assert client_side[0] in ancestors(server[0], by_id)
