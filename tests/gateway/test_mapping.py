"""The gateway's pure translations: gRPC statuses to problems, field paths, If-Match, and messages to
JSON data and back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from crm.parties.v1 import parties_pb2 as pb
from gateway.convert import enum_prefix, fill, to_data
from gateway.problems import Problem, from_rpc_error, loc_to_field, rest_field
from gateway.routes.base import expected_version


def rpc_error(code: grpc.StatusCode, details: str, *detail_messages: object) -> grpc.aio.AioRpcError:
    status = status_pb2.Status(code=code.value[0], message=details)
    for message in detail_messages:
        status.details.add().Pack(message)
    trailing = grpc.aio.Metadata(*rpc_status.to_status(status).trailing_metadata)
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details)


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (grpc.StatusCode.NOT_FOUND, 404, "not-found"),
        (grpc.StatusCode.FAILED_PRECONDITION, 409, "failed-precondition"),
        (grpc.StatusCode.ABORTED, 409, "version-conflict"),
        (grpc.StatusCode.UNAVAILABLE, 503, "service-unavailable"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 503, "service-unavailable"),
        (grpc.StatusCode.INTERNAL, 500, "internal-error"),
        (grpc.StatusCode.UNKNOWN, 500, "internal-error"),
        (grpc.StatusCode.PERMISSION_DENIED, 500, "internal-error"),
    ],
)
def test_status_codes_map_to_problems(code: grpc.StatusCode, status: int, kind: str) -> None:
    problem = from_rpc_error(rpc_error(code, "asyncpg.exceptions.Boom at /srv/app.py line 7"))
    assert (problem.status, problem.type.rsplit(":", 1)[1]) == (status, kind)
    if status >= 500:
        assert "asyncpg" not in problem.detail and "/srv" not in problem.detail


def test_invalid_argument_carries_mapped_field_violations() -> None:
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="identifiers[0].value", description="bad check digit"),
            error_details_pb2.BadRequest.FieldViolation(field="party_id", description="must be a UUID"),
            error_details_pb2.BadRequest.FieldViolation(field="expected_version", description="stale"),
        ]
    )
    problem = from_rpc_error(rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "invalid", bad))
    assert problem.status == 422
    assert [(e.field, e.reason) for e in problem.errors] == [
        ("body.identifiers[0].value", "bad check digit"),
        ("path.party_id", "must be a UUID"),
        ("header.if-match", "stale"),
    ]


def test_already_exists_names_the_existing_resource() -> None:
    info = error_details_pb2.ResourceInfo(resource_type="identifiers[0].value", resource_name="p-1")
    problem = from_rpc_error(rpc_error(grpc.StatusCode.ALREADY_EXISTS, "taken", info))
    assert (problem.status, problem.extensions["existing_id"]) == (409, "p-1")


def test_field_paths() -> None:
    assert rest_field("consent.channel", {"consent": "body", "consent.channel": "path.channel"}) == "path.channel"
    assert rest_field("consent.evidence", {"consent": "body"}) == "body.evidence"
    assert rest_field("page.page_size", {"page": "query"}, default="query") == "query.page_size"
    assert rest_field("as_of", default="query") == "query.as_of"
    assert loc_to_field(("body", "contact_points", 2, "phone")) == "body.contact_points[2].phone"


@pytest.mark.parametrize(("header", "version"), [(None, 0), ("*", 0), ("7", 7), ('"7"', 7), ('W/"12"', 12)])
def test_if_match(header: str | None, version: int) -> None:
    assert expected_version(header) == version


@pytest.mark.parametrize("header", ["seven", '"0"', "-1", '"7', "1" * 30])
def test_if_match_rejects_what_is_not_a_version(header: str) -> None:
    with pytest.raises(Problem) as caught:
        expected_version(header)
    assert caught.value.errors[0].field == "header.if-match"


def test_messages_to_data_and_back() -> None:
    assert enum_prefix(pb.ContactPointType.DESCRIPTOR) == "CONTACT_POINT_TYPE_"
    request = fill(
        pb.CreatePartyRequest(),
        {
            "person": {"name": {"last_name": "Иванов"}, "gender": "male", "birth_date": date(1990, 2, 3)},
            "contact_points": [{"email": "a@b.ru", "purpose": "work"}],
            "consents": [{"channel": "phone_call", "purpose": "service", "status": "granted"}],
            "valid_from": None,
        },
    )
    assert request.person.gender == pb.GENDER_MALE
    assert (request.person.birth_date.year, request.person.birth_date.day) == (1990, 3)
    assert request.contact_points[0].WhichOneof("value") == "email"
    assert request.consents[0].channel == pb.CHANNEL_PHONE_CALL
    assert not request.HasField("valid_from")

    party = pb.Party(party_id="p", kind=pb.PARTY_KIND_PERSON, person=request.person)
    party.contact_points.add(contact_point_id="c", email="a@b.ru").recorded.recorded_at.FromDatetime(
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    data = to_data(party)
    assert data["kind"] == "person" and data["status"] is None and data["organization"] is None
    assert data["person"]["birth_date"] == date(1990, 2, 3)
    assert data["person"]["latin_name"] is None
    point = data["contact_points"][0]
    assert point["email"] == "a@b.ru" and point["phone"] is None and point["type"] is None
    assert point["recorded"]["recorded_at"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a value"):
        fill(pb.Consent(), {"channel": "pigeon"})
