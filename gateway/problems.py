"""RFC 9457 problem details (`application/problem+json`) for every error the gateway returns.

Clients get one error shape whatever went wrong: {type, title, status, detail, instance, errors}, where
`errors` lists each offending field as {field, reason}. Field paths name where the value sits in the
HTTP request ("body.person.name.last_name", "query.page_size", "path.party_id",
"header.if-match"), whether the gateway's models or the service's own validation found the problem.
Server-side failures say nothing about internals; the trace id leads an operator to the details."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_runtime.grpc_errors import existing_resource, field_violations

log = logging.getLogger("crm.gateway")

MEDIA_TYPE = "application/problem+json"
#: Base of the problem type URIs; each type's page documents the problem (RFC 9457, section 3.1.1).
#: Problem types are URNs: stable identifiers that promise no web page (RFC 9457 allows any URI).
TYPE_BASE = "urn:crm:problem:"


class FieldError(BaseModel):
    field: str
    reason: str


class ProblemDetails(BaseModel):
    """The documented error body (extension members such as existing_id appear when relevant)."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[FieldError] = []
    existing_id: str | None = None
    trace_id: str | None = None


class Problem(Exception):
    """Raised anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str = "",
        errors: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.type = TYPE_BASE + kind if kind != "about:blank" else kind
        self.title = title
        self.detail = detail
        self.errors = [FieldError(field=f, reason=r) for f, r in errors]
        self.headers = dict(headers or {})
        self.extensions = {k: v for k, v in extensions.items() if v not in (None, "")}


def validation_problem(errors: Sequence[tuple[str, str]], detail: str = "") -> Problem:
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        detail or "; ".join(f"{f}: {r}" for f, r in errors),
        errors,
    )


def _trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        "errors": [e.model_dump() for e in problem.errors],
        **problem.extensions,
    }
    trace_id = _trace_id()
    if trace_id:
        body["trace_id"] = trace_id
    return JSONResponse(body, status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers)


# -- gRPC errors ---------------------------------------------------------------------------------

#: The REST location of each top-level request field; the rest of a path is kept ("[0].value").
FieldMap = Mapping[str, str]
COMMON_FIELDS: dict[str, str] = {
    "context": "header.authorization",
    "party_id": "path.party_id",
    "expected_version": "header.if-match",
    "request_id": "header.idempotency-key",
}


def rest_field(field: str, fields: FieldMap | None = None, default: str = "body") -> str:
    """Maps a contract field path ("identifiers[0].value") to where it was in the HTTP request: the
    longest mapped prefix is replaced ("consent.channel" -> "path.channel", "consent" -> "body")."""
    mapping = {**COMMON_FIELDS, **(fields or {})}
    for key in sorted(mapping, key=len, reverse=True):
        if field == key or field.startswith((key + ".", key + "[")):
            return mapping[key] + field[len(key) :]
    return f"{default}.{field}" if default else field


def from_rpc_error(error: grpc.aio.AioRpcError, fields: FieldMap | None = None, default: str = "body") -> Problem:
    """The problem a failed call to a service becomes; unexpected codes reveal nothing of the service."""
    code = error.code()
    message = error.details() or ""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        violations = [(rest_field(f, fields, default), r) for f, r in field_violations(error)]
        # the summary is rebuilt so that it names the fields as the client knows them
        return validation_problem(violations, "" if violations else message)
    if code == grpc.StatusCode.NOT_FOUND:
        return Problem(404, "not-found", "Not found", message)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return Problem(409, "already-exists", "Already exists", message, existing_id=existing_resource(error))
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return Problem(409, "failed-precondition", "Failed precondition", message)
    if code == grpc.StatusCode.ABORTED:
        return Problem(409, "version-conflict", "Version conflict", message)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        log.warning("upstream unavailable: %s %s", code.name, message)
        return Problem(
            503,
            "service-unavailable",
            "Service unavailable",
            "a backing service is unavailable or too slow; retry later",
            headers={"Retry-After": "1"},
        )
    log.error("upstream failed: %s %s", code.name, message)
    return internal_problem()


def internal_problem() -> Problem:
    return Problem(500, "internal-error", "Internal error", "the request failed unexpectedly; quote the trace id")


# -- request validation --------------------------------------------------------------------------


def loc_to_field(loc: Sequence[Any]) -> str:
    """("body", "identifiers", 0, "value") -> "body.identifiers[0].value"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _reason(error: Mapping[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return f"invalid JSON ({error.get('ctx', {}).get('error', 'malformed')})"
    if error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",):
        return "a JSON request body is required"
    return str(error.get("msg", "invalid value"))


def _validation_fields(exc: RequestValidationError) -> list[tuple[str, str]]:
    out = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            loc = loc[:1]  # the position in the text is in the reason, not a field
        out.append((loc_to_field(loc), _reason(error)))
    return out


# -- handlers ------------------------------------------------------------------------------------

_HTTP_KINDS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
}


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    content_type = request.headers.get("content-type", "")
    body_refused = any(tuple(e.get("loc", ())) == ("body",) for e in exc.errors())
    if body_refused and content_type and "json" not in content_type.lower():
        detail = f"send the body as JSON (Content-Type: application/json), not {content_type}"
        return problem_response(request, Problem(415, "unsupported-media-type", "Unsupported media type", detail))
    return problem_response(request, validation_problem(_validation_fields(exc)))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else ""
    kind = _HTTP_KINDS.get(status, "about:blank")
    return problem_response(request, Problem(status, kind, title, detail, headers=exc.headers))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return problem_response(request, internal_problem())


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
    _document_problem_media_type(app)


def _document_problem_media_type(app: FastAPI) -> None:
    """FastAPI documents a response model under the route's media type (application/json); errors are
    application/problem+json, so the spec is corrected once when it is first built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[:1] in ("4", "5") and MEDIA_TYPE in content and "application/json" in content:
                        content[MEDIA_TYPE] = content.pop("application/json")
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


#: For route decorators: documents the problem responses in the OpenAPI spec.
def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {
            "model": ProblemDetails,
            "content": {MEDIA_TYPE: {}},
            "description": HTTPStatus(s).phrase,
        }
        for s in statuses
    }
