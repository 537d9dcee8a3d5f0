"""Maps domain errors to gRPC statuses with google.rpc details, so every service answers bad input the
same way: INVALID_ARGUMENT with a BadRequest listing each field and its reason."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from crm_runtime.errors import (
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)

_CODES: list[tuple[type[DomainError], int, grpc.StatusCode]] = [
    (InvalidArgument, code_pb2.INVALID_ARGUMENT, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, code_pb2.NOT_FOUND, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, code_pb2.ALREADY_EXISTS, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION, grpc.StatusCode.FAILED_PRECONDITION),
    (Aborted, code_pb2.ABORTED, grpc.StatusCode.ABORTED),
    (Unavailable, code_pb2.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE),
]


def to_status(error: DomainError) -> tuple[grpc.StatusCode, grpc.Status]:
    code, grpc_code = code_pb2.INTERNAL, grpc.StatusCode.INTERNAL
    for cls, rpc_code, status_code in _CODES:
        if isinstance(error, cls):
            code, grpc_code = rpc_code, status_code
            break
    status = status_pb2.Status(code=code, message=error.message)
    if isinstance(error, InvalidArgument):
        detail = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    elif isinstance(error, AlreadyExists):
        info = error_details_pb2.ResourceInfo(
            resource_type=error.field, resource_name=error.existing_id, description=error.message
        )
        packed = any_pb2.Any()
        packed.Pack(info)
        status.details.append(packed)
        if error.detail is not None:
            extra = any_pb2.Any()
            extra.Pack(error.detail)
            status.details.append(extra)
    return grpc_code, rpc_status.to_status(status)


def field_violations(error: grpc.aio.AioRpcError | grpc.RpcError) -> list[tuple[str, str]]:
    """Client side: the (field, description) pairs carried by an INVALID_ARGUMENT error."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return []
    out: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.extend((v.field, v.description) for v in bad.field_violations)
    return out


def existing_resource(error: grpc.aio.AioRpcError | grpc.RpcError) -> str:
    """Client side: the id of the resource an ALREADY_EXISTS error points at, if any."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return ""
    for detail in status.details:
        if detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            info = error_details_pb2.ResourceInfo()
            detail.Unpack(info)
            return info.resource_name
    return ""
