"""ASGI middleware of the gateway: HTTP metrics per route template, and the request body size cap.

Both are plain ASGI so they see every response, including errors answered by exception handlers and
requests no route matched."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_runtime.metrics import RPC_LATENCY_BUCKETS

HTTP_REQUESTS = Counter(
    "crm_http_requests_total",
    "HTTP requests answered by the gateway, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "crm_http_request_seconds",
    "Time the gateway took to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=RPC_LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "crm_gateway_upstream_errors_total",
    "Failed calls from the gateway to a backing gRPC service, by service and status code.",
    ["service", "code"],
)

#: The label of requests no route matched: never the raw path, which would explode the label set.
UNMATCHED = "<unmatched>"
MAX_BODY_BYTES = 1024 * 1024


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    if route is None:
        return UNMATCHED
    return str(getattr(route, "path_format", None) or getattr(route, "path", UNMATCHED))


class MetricsMiddleware:
    """Counts and times every request under its route template (e.g. /api/v1/parties/{party_id})."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            method, route = scope["method"], route_template(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


class BodyLimitMiddleware:
    """Refuses request bodies over max_bytes with 413, whether declared by Content-Length or streamed.

    The check runs when a route reads the body, so the refusal goes through the app's exception
    handlers (a problem document) and is counted under the route's template."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: Larger (or smaller) caps for particular paths, e.g. a CSV upload.
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        seen = 0
        max_bytes = self.limits.get(scope.get("path", ""), self.max_bytes)
        detail = f"the request body exceeds {max_bytes} bytes"

        async def limited_receive() -> Message:
            nonlocal seen
            if declared is not None and declared > max_bytes:
                raise HTTPException(413, detail)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
