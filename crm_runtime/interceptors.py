"""Server interceptor that turns domain errors into statuses and records the RED metrics of every call.

One interceptor does both because both need the final status code of the call."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc.aio import ServerInterceptor

from crm_runtime.errors import DomainError
from crm_runtime.grpc_errors import to_status
from crm_runtime.metrics import GRPC_SERVER_HANDLED, GRPC_SERVER_IN_FLIGHT, GRPC_SERVER_LATENCY

log = logging.getLogger("crm.grpc")


def _split(method: str) -> tuple[str, str]:
    # "/crm.parties.v1.PartiesService/GetParty" -> ("crm.parties.v1.PartiesService", "GetParty")
    _, service, name = method.split("/", 2) if method.count("/") == 2 else ("", "unknown", method)
    return service, name


class _Call:
    """Book-keeping for one call: timing, in-flight gauge and the final code."""

    def __init__(self, method: str) -> None:
        self.service, self.method = _split(method)
        self.start = time.perf_counter()
        GRPC_SERVER_IN_FLIGHT.labels(self.service).inc()

    def finish(self, code: grpc.StatusCode) -> None:
        GRPC_SERVER_IN_FLIGHT.labels(self.service).dec()
        labels = (self.service, self.method, code.name)
        GRPC_SERVER_HANDLED.labels(*labels).inc()
        GRPC_SERVER_LATENCY.labels(*labels).observe(time.perf_counter() - self.start)


async def _handle_error(exc: BaseException, context: grpc.aio.ServicerContext, call: _Call) -> None:
    if isinstance(exc, DomainError):
        code, status = to_status(exc)
        call.finish(code)
        await context.abort_with_status(status)
    code = context.code() if hasattr(context, "code") else None
    if isinstance(code, grpc.StatusCode):
        call.finish(code)
        raise exc
    if isinstance(exc, grpc.aio.AbortError | grpc.RpcError):
        call.finish(grpc.StatusCode.UNKNOWN)
        raise exc
    log.exception("unhandled error in %s/%s", call.service, call.method)
    call.finish(grpc.StatusCode.INTERNAL)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log for the trace id")


class ErrorAndMetricsInterceptor(ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if method.startswith(("/grpc.health.", "/grpc.reflection.")):
            return handler

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                call = _Call(method)
                try:
                    response = await inner_uu(request, context)
                except BaseException as exc:
                    await _handle_error(exc, context, call)
                    raise
                call.finish(grpc.StatusCode.OK)
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
                call = _Call(method)
                try:
                    response = await inner_su(request_iterator, context)
                except BaseException as exc:
                    await _handle_error(exc, context, call)
                    raise
                call.finish(grpc.StatusCode.OK)
                return response

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                call = _Call(method)
                try:
                    async for item in inner_us(request, context):
                        yield item
                except BaseException as exc:
                    await _handle_error(exc, context, call)
                    raise
                call.finish(grpc.StatusCode.OK)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        return handler
