"""What the route modules share: optimistic concurrency through If-Match/ETag and the problem
responses documented on every API route."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Path, Response

from gateway.problems import documented, validation_problem

API_PREFIX = "/api/v1"
#: Documented on every API route (plus each route's own 404/409...).
COMMON_PROBLEMS = documented(401, 403, 413, 422, 503)
PartyId = Annotated[str, Path(description="The party's id (a UUID).")]
_ETAG = re.compile(r'^\s*(?:W/)?(?:"(\d{1,18})"|(\d{1,18}))\s*$')


def expected_version(
    if_match: Annotated[
        str | None,
        Header(description='The version you read (the ETag, e.g. "7"): the change is refused if it moved on.'),
    ] = None,
) -> int:
    """If-Match: "<version>" -> expected_version; absent or "*" means "whatever the current version"."""
    if if_match is None or if_match.strip() == "*":
        return 0
    match = _ETAG.match(if_match)
    version = int(match.group(1) or match.group(2)) if match else 0
    if version < 1:
        raise validation_problem([("header.if-match", 'must be a party version such as "7" (the ETag you read)')])
    return version


ExpectedVersion = Annotated[int, Depends(expected_version)]


def set_etag(response: Response, version: int) -> None:
    """A party's version is its entity tag: clients send it back in If-Match."""
    if version:
        response.headers["ETag"] = f'"{version}"'
