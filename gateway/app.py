"""The API gateway for web and mobile clients: REST over the services' gRPC contracts.

The app owns one gRPC channel per service, opened in the lifespan (or handed in by the caller, who
then owns it) and instrumented so the trace of an HTTP request continues into the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from grpc_health.v1 import health_pb2_grpc
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from crm.commissions.v1 import commissions_pb2_grpc
from crm.parties.v1 import parties_pb2_grpc
from crm_runtime.grpc_server import MAX_MESSAGE_BYTES
from crm_runtime.settings import Settings
from gateway import problems
from gateway.auth import TokenVerifier
from gateway.middleware import BodyLimitMiddleware, MetricsMiddleware
from gateway.routes import api_routers, commissions, ops

TITLE = "CRM platform API"
VERSION = "v1"
CHANNEL_CLOSE_GRACE_SECONDS = 5.0


def open_channel(address: str) -> grpc.aio.Channel:
    """A channel whose calls carry the W3C trace context (OpenTelemetry client interceptors)."""
    return grpc.aio.insecure_channel(
        address,
        interceptors=aio_client_interceptors(),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )


def _attach(app: FastAPI, channel: grpc.aio.Channel) -> None:
    app.state.parties = parties_pb2_grpc.PartiesServiceStub(channel)
    app.state.parties_health = health_pb2_grpc.HealthStub(channel)


def _attach_commissions(app: FastAPI, channel: grpc.aio.Channel) -> None:
    app.state.commissions = commissions_pb2_grpc.CommissionsServiceStub(channel)
    app.state.commissions_health = health_pb2_grpc.HealthStub(channel)


def create_app(
    settings: Settings,
    parties_channel: grpc.aio.Channel | None = None,
    commissions_channel: grpc.aio.Channel | None = None,
) -> FastAPI:
    """The gateway app. A channel handed in is owned by the caller (the app neither opens nor closes
    it); otherwise the lifespan opens one to settings.parties_address / settings.commissions_address
    and closes it on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened: list[grpc.aio.Channel] = []
        if parties_channel is None:
            opened.append(open_channel(settings.parties_address))
            _attach(app, opened[-1])
        if commissions_channel is None:
            opened.append(open_channel(settings.commissions_address))
            _attach_commissions(app, opened[-1])
        try:
            yield
        finally:
            if parties_channel is None:
                app.state.parties = app.state.parties_health = None
            if commissions_channel is None:
                app.state.commissions = app.state.commissions_health = None
            for channel in opened:
                await channel.close(grace=CHANNEL_CLOSE_GRACE_SECONDS)

    # FastAPIOffline serves the Swagger UI assets from the package instead of a CDN, so the docs page
    # works on an air-gapped network (and in tests, where there is no internet).
    app = FastAPIOffline(
        title=TITLE,
        version=VERSION,
        description="REST API of the CRM platform for web and mobile clients. Errors are RFC 9457 "
        "`application/problem+json` documents; authenticate with a bearer JWT (`crm token`).",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    if parties_channel is not None:
        _attach(app, parties_channel)
    if commissions_channel is not None:
        _attach_commissions(app, commissions_channel)
    problems.install(app)
    app.include_router(ops.router)
    for router in api_routers():
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, limits=commissions.BODY_LIMITS)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match"],
            expose_headers=["ETag", "Location", "Retry-After", "X-Content-SHA256"],
        )
    app.add_middleware(MetricsMiddleware)
    FastAPIInstrumentor.instrument_app(app)
    return app
