"""The gRPC edge of the parties service: each RPC hands its request to the application layer, whose
method has the RPC's name in snake_case. Errors are mapped by the shared interceptor."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import grpc

from crm.parties.v1 import parties_pb2 as pb
from crm.parties.v1 import parties_pb2_grpc
from services.parties.app import PartiesApp

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PartiesService"].full_name


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class PartiesServicer(parties_pb2_grpc.PartiesServiceServicer):
    def __init__(self, app: PartiesApp) -> None:
        self.app = app

    async def ImportParties(
        self, request_iterator: AsyncIterator[pb.ImportPartiesRequest], context: grpc.aio.ServicerContext
    ) -> pb.ImportPartiesResponse:
        return await self.app.import_parties(request_iterator)

    async def FindDuplicates(
        self, request: pb.FindDuplicatesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.FindDuplicatesResponse]:
        async for message in self.app.find_duplicates(request):
            yield message


def _unary(method_name: str) -> Any:
    target = _snake(method_name)

    async def handler(self: PartiesServicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await getattr(self.app, target)(request)

    handler.__name__ = method_name
    return handler


for _method in pb.DESCRIPTOR.services_by_name["PartiesService"].methods:
    if not _method.client_streaming and not _method.server_streaming:
        if not hasattr(PartiesApp, _snake(_method.name)):
            raise TypeError(f"PartiesApp lacks {_snake(_method.name)} for RPC {_method.name}")
        setattr(PartiesServicer, _method.name, _unary(_method.name))


def register(server: grpc.aio.Server, app: PartiesApp) -> list[str]:
    parties_pb2_grpc.add_PartiesServiceServicer_to_server(PartiesServicer(app), server)
    return [SERVICE_NAME]
