"""Operational surface: health, readiness against the live and a dead service, metrics labelled by
route template, the OpenAPI document, and one trace across HTTP and gRPC."""

from __future__ import annotations

import uuid

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from crm_runtime.settings import Settings
from crm_runtime.telemetry import setup_tracing
from crmctl.infra import free_port
from gateway.app import create_app
from tests.gateway.conftest import TokenFactory, person_body


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"parties": "SERVING", "commissions": "SERVING"}}


async def _with_dead(gateway_settings: Settings, *dead: str) -> tuple[httpx.Response, httpx.Response]:
    """/healthz and /readyz of a gateway whose dead upstreams' addresses lead nowhere."""
    update = {f"{name}_address": f"127.0.0.1:{free_port()}" for name in dead}
    app = create_app(gateway_settings.model_copy(update=update))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            return await http.get("/healthz"), await http.get("/readyz")


@pytest.mark.parametrize(
    ("dead", "checks"),
    [
        (("parties",), {"parties": "UNAVAILABLE", "commissions": "SERVING"}),
        (("commissions",), {"parties": "SERVING", "commissions": "UNAVAILABLE"}),
        (("parties", "commissions"), {"parties": "UNAVAILABLE", "commissions": "UNAVAILABLE"}),
    ],
)
async def test_not_ready_when_a_service_is_down(
    gateway_settings: Settings, dead: tuple[str, ...], checks: dict[str, str]
) -> None:
    live, response = await _with_dead(gateway_settings, *dead)
    assert live.status_code == 200  # liveness never looks at the upstreams
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"] == checks
    assert body["detail"] == "; ".join(f"{name}: UNAVAILABLE" for name in checks if name in dead)


async def test_metrics_use_route_templates(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    party_id = str(uuid.uuid4())
    await client.get(f"/api/v1/parties/{party_id}", headers=auth())
    await client.get(f"/no/such/{party_id}")
    text = (await client.get("/metrics")).text
    assert 'crm_http_requests_total{method="GET",route="/api/v1/parties/{party_id}",status="404"}' in text
    assert 'crm_http_request_seconds_bucket{le="0.1",method="GET",route="/api/v1/parties/{party_id}"}' in text
    assert 'route="<unmatched>"' in text
    assert party_id not in text
    assert 'crm_gateway_upstream_errors_total{code="NOT_FOUND",service="parties"}' in text


async def test_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"] == {
        "title": "CRM platform API",
        "version": "v1",
        "description": spec["info"]["description"],
    }
    assert "/api/v1/parties/{party_id}/card" in spec["paths"]
    conflict = spec["paths"]["/api/v1/parties/{party_id}"]["patch"]["responses"]["409"]
    assert list(conflict["content"]) == ["application/problem+json"]
    assert (await client.get("/docs")).status_code == 200


async def test_one_trace_from_http_to_the_service(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    exporter = InMemorySpanExporter()
    setup_tracing("gateway", extra_processor=SimpleSpanProcessor(exporter))
    created = await client.post("/api/v1/parties", json=person_body("Трассов", "Тимур"), headers=auth())
    assert created.status_code == 201
    missing = await client.get(f"/api/v1/parties/{uuid.uuid4()}", headers=auth())

    spans = exporter.get_finished_spans()
    http_spans = [s for s in spans if s.attributes.get("http.route") == "/api/v1/parties" and s.parent is None]
    rpc_server = [
        s for s in spans if s.name == "/crm.parties.v1.PartiesService/CreateParty" and s.kind.name == "SERVER"
    ]
    assert http_spans and rpc_server
    assert rpc_server[-1].context.trace_id == http_spans[-1].context.trace_id
    trace_ids = {format(s.context.trace_id, "032x") for s in spans}
    assert missing.json()["trace_id"] in trace_ids


async def test_cors_is_off_by_default_and_allows_configured_origins(gateway_settings) -> None:
    """Browsers on another origin are refused unless CRM_CORS_ORIGINS names that origin."""
    from gateway.app import create_app

    async def preflight(origins: str) -> httpx.Response:
        app = create_app(gateway_settings.model_copy(update={"cors_origins": origins}))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
        ):
            return await http.options(
                "/api/v1/parties",
                headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
            )

    assert "access-control-allow-origin" not in (await preflight("")).headers
    allowed = await preflight("https://app.example, https://admin.example")
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
