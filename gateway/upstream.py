"""Calls from the gateway to the services: one deadline per request, errors turned into problems and
counted, and the stubs handed to routes as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import Depends, Request

from crm.commissions.v1 import commissions_pb2_grpc
from crm.parties.v1 import parties_pb2_grpc
from gateway.middleware import UPSTREAM_ERRORS
from gateway.problems import FieldMap, Problem, from_rpc_error

#: Every call to a service must answer within this many seconds (the gateway answers 503 otherwise).
DEADLINE_SECONDS = 10.0
PARTIES = "parties"
COMMISSIONS = "commissions"

Resp = TypeVar("Resp")


async def call(
    method: Callable[..., Awaitable[Resp]],
    request: Any,
    *,
    fields: FieldMap | None = None,
    default: str = "body",
    service: str = PARTIES,
    deadline: float = DEADLINE_SECONDS,
) -> Resp:
    """Runs one RPC (a request stream too). fields maps the request's top-level fields to their REST
    location, so that field violations name what the HTTP client sent (see problems.rest_field)."""
    try:
        return await method(request, timeout=deadline)
    except grpc.aio.AioRpcError as err:
        UPSTREAM_ERRORS.labels(service, err.code().name).inc()
        raise from_rpc_error(err, fields, default) from None


def _stub(request: Request, name: str) -> Any:
    stub = getattr(request.app.state, name, None)
    if stub is None:
        raise Problem(503, "service-unavailable", "Service unavailable", "the gateway is not connected yet")
    return stub


def parties_stub(request: Request) -> parties_pb2_grpc.PartiesServiceStub:
    return _stub(request, "parties")  # type: ignore[no-any-return]


def commissions_stub(request: Request) -> commissions_pb2_grpc.CommissionsServiceStub:
    return _stub(request, "commissions")  # type: ignore[no-any-return]


Parties = Annotated[parties_pb2_grpc.PartiesServiceStub, Depends(parties_stub)]
Commissions = Annotated[commissions_pb2_grpc.CommissionsServiceStub, Depends(commissions_stub)]
