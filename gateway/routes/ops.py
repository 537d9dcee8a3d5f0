"""Operational endpoints: liveness, readiness and Prometheus metrics. Unauthenticated, outside /api."""

from __future__ import annotations

import grpc
from fastapi import APIRouter, Request, Response
from grpc_health.v1 import health_pb2
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from crm.parties.v1 import parties_pb2 as pb
from gateway.middleware import UPSTREAM_ERRORS
from gateway.problems import Problem
from gateway.upstream import PARTIES

router = APIRouter(tags=["operations"])

PARTIES_SERVICE = pb.DESCRIPTOR.services_by_name["PartiesService"].full_name
READINESS_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Never looks at dependencies (a restart would not fix them)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A backing service is not serving."}})
async def readyz(request: Request) -> dict[str, object]:
    """Readiness: 200 only while the parties service's gRPC health check answers SERVING."""
    health = getattr(request.app.state, "parties_health", None)
    state = "NOT_CONNECTED"
    if health is not None:
        try:
            answer = await health.Check(
                health_pb2.HealthCheckRequest(service=PARTIES_SERVICE), timeout=READINESS_TIMEOUT_SECONDS
            )
            state = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
        except grpc.aio.AioRpcError as err:
            UPSTREAM_ERRORS.labels(PARTIES, err.code().name).inc()
            state = err.code().name
    checks = {PARTIES: state}
    if state != "SERVING":
        raise Problem(503, "not-ready", "Not ready", f"{PARTIES}: {state}", checks=checks)
    return {"status": "ready", "checks": checks}


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus exposition of the process's default registry."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
