"""Boots a grpc.aio server the same way for every service: tracing and error/metrics interceptors, the
standard health service, server reflection, and a graceful stop on SIGTERM that first reports
NOT_SERVING so load balancers drain the pod before it goes."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from crm_runtime.interceptors import ErrorAndMetricsInterceptor

log = logging.getLogger("crm.server")

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@dataclass
class GrpcApp:
    """A started server and what is needed to stop it gracefully."""

    server: grpc.aio.Server
    health: HealthServicer
    port: int
    service_names: Sequence[str]
    on_stop: list[Callable[[], object]] = field(default_factory=list)

    async def stop(self, grace: float = 5.0, drain: float = 0.0) -> None:
        for name in (*self.service_names, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if drain:
            await asyncio.sleep(drain)
        await self.server.stop(grace)
        for hook in self.on_stop:
            result = hook()
            if asyncio.iscoroutine(result):
                await result


async def start_grpc_server(
    register: Callable[[grpc.aio.Server], Sequence[str]],
    host: str = "127.0.0.1",
    port: int = 0,
) -> GrpcApp:
    """Starts a server; register adds the servicers and returns their full service names."""
    server = grpc.aio.server(
        interceptors=[aio_server_interceptor(), ErrorAndMetricsInterceptor()],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    names = list(register(server))
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise RuntimeError(f"cannot bind gRPC server to {host}:{port}")
    await server.start()
    for name in (*names, ""):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("gRPC server listening", extra={"address": f"{host}:{bound}", "services": names})
    return GrpcApp(server=server, health=health_servicer, port=bound, service_names=names)


async def serve_until_signalled(app: GrpcApp, drain: float = 1.0) -> None:
    """Runs until SIGTERM or SIGINT, then drains and stops gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: health NOT_SERVING, draining")
    await app.stop(grace=10.0, drain=drain)
