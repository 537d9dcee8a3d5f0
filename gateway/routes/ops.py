"""Operational endpoints: liveness, readiness and Prometheus metrics. Unauthenticated, outside /api."""

from __future__ import annotations

import asyncio

import grpc
from fastapi import APIRouter, Request, Response
from grpc_health.v1 import health_pb2
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from crm.commissions.v1 import commissions_pb2
from crm.parties.v1 import parties_pb2
from gateway.middleware import UPSTREAM_ERRORS
from gateway.problems import Problem
from gateway.upstream import COMMISSIONS, PARTIES

router = APIRouter(tags=["operations"])

PARTIES_SERVICE = parties_pb2.DESCRIPTOR.services_by_name["PartiesService"].full_name
COMMISSIONS_SERVICE = commissions_pb2.DESCRIPTOR.services_by_name["CommissionsService"].full_name
#: Each upstream: (its name in `checks`, the app.state attribute of its health stub, its gRPC service).
UPSTREAMS = (
    (PARTIES, "parties_health", PARTIES_SERVICE),
    (COMMISSIONS, "commissions_health", COMMISSIONS_SERVICE),
)
READINESS_TIMEOUT_SECONDS = 2.0
SERVING = "SERVING"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Never looks at dependencies (a restart would not fix them)."""
    return {"status": "ok"}


async def _health(request: Request, name: str, attribute: str, service: str) -> str:
    """The upstream's gRPC health status name (SERVING, NOT_SERVING...), the gRPC code of a failed
    check (UNAVAILABLE, DEADLINE_EXCEEDED...) or NOT_CONNECTED before the lifespan opened a channel."""
    health = getattr(request.app.state, attribute, None)
    if health is None:
        return "NOT_CONNECTED"
    try:
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=READINESS_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as err:
        UPSTREAM_ERRORS.labels(name, err.code().name).inc()
        return str(err.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))


@router.get("/readyz", responses={503: {"description": "A backing service is not serving."}})
async def readyz(request: Request) -> dict[str, object]:
    """Readiness: 200 only while every backing service's gRPC health check (parties, commissions)
    answers SERVING; `checks` gives each one's status, and a 503 names those that are not serving."""
    states = await asyncio.gather(*(_health(request, *upstream) for upstream in UPSTREAMS))
    checks = {name: state for (name, _, _), state in zip(UPSTREAMS, states, strict=True)}
    failing = [f"{name}: {state}" for name, state in checks.items() if state != SERVING]
    if failing:
        raise Problem(503, "not-ready", "Not ready", "; ".join(failing), checks=checks)
    return {"status": "ready", "checks": checks}


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus exposition of the process's default registry."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
