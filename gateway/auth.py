"""Bearer-token authentication (JWT, HS256) and per-route role checks.

Tokens carry sub, name, roles, iss, aud and exp. The signing key is CRM_JWT_SECRET or, for the local
stack, a random key generated once into `<state_dir>/jwt-secret` (mode 0600) so that `crm token` and a
running gateway agree without any set-up. The principal's subject becomes the audit actor
("user:<sub>") of every change, so clients cannot write in someone else's name."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crm.common.v1 import common_pb2
from crm_runtime.settings import ROLES, Settings
from gateway.problems import Problem

ALGORITHM = "HS256"
SECRET_FILE = "jwt-secret"
LEEWAY_SECONDS = 10
SOURCE = "gateway"

#: Who may do what (the route modules pick one of these per route).
ANY_ROLE = ROLES
EDITORS = ("admin", "data_steward", "agent", "sales", "manager")
CATALOGUE_ADMINS = ("admin",)
DATA_OFFICERS = ("admin", "data_steward", "senior_data_steward")


def load_or_create_secret(settings: Settings) -> str:
    """The configured secret, else the local stack's key (created atomically on first use)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = settings.state_dir / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret


def issue_token(settings: Settings, subject: str, roles: list[str], ttl_seconds: int = 8 * 3600, name: str = "") -> str:
    """A signed token for subject with roles (used by `crm token` and by tests)."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles {unknown}; known roles: {', '.join(ROLES)}")
    if not subject:
        raise ValueError("subject is required")
    now = int(time.time())
    claims = {
        "sub": subject,
        "name": name,
        "roles": list(roles),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, load_or_create_secret(settings), algorithm=ALGORITHM)


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    name: str = ""

    def context(self) -> common_pb2.ChangeContext:
        """The audit context of a change made through the gateway: always the token's subject."""
        return common_pb2.ChangeContext(actor=f"user:{self.subject}", source=SOURCE)


@dataclass(frozen=True)
class TokenVerifier:
    secret: str
    issuer: str
    audience: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        return cls(load_or_create_secret(settings), settings.jwt_issuer, settings.jwt_audience)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the token has expired", invalid=True) from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(f"the token is not valid: {_why(exc)}", invalid=True) from None
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise _unauthorized("the token's roles claim must be a list of strings", invalid=True)
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise _unauthorized("the token has no subject", invalid=True)
        name = claims.get("name") if isinstance(claims.get("name"), str) else ""
        return Principal(subject=subject, roles=frozenset(roles) & frozenset(ROLES), name=name)


def _why(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "wrong audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim {exc.claim}"
    if isinstance(exc, jwt.DecodeError | jwt.InvalidAlgorithmError):
        return "malformed token"
    return "rejected"


def _unauthorized(detail: str, invalid: bool) -> Problem:
    challenge = 'Bearer realm="crm"'
    if invalid:
        challenge += f', error="invalid_token", error_description="{detail}"'
    return Problem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


_bearer = HTTPBearer(auto_error=False, scheme_name="bearer", description="A JWT from `crm token`.")


def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller of this request, from its bearer token (401 when missing or not valid)."""
    if credentials is None:
        header = request.headers.get("authorization", "")
        if header and not header.lower().startswith("bearer "):
            raise _unauthorized("use the Bearer authentication scheme", invalid=False)
        raise _unauthorized("a bearer token is required", invalid=False)
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(credentials.credentials)


def require(roles: Iterable[str]) -> Callable[..., Principal]:
    """A dependency admitting callers that hold at least one of roles (403 otherwise)."""
    allowed = frozenset(roles)

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.roles & allowed:
            raise Problem(
                403,
                "forbidden",
                "Forbidden",
                f"this action needs one of the roles: {', '.join(sorted(allowed))}",
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require(ANY_ROLE))]
Editor = Annotated[Principal, Depends(require(EDITORS))]
CatalogueAdmin = Annotated[Principal, Depends(require(CATALOGUE_ADMINS))]
DataOfficer = Annotated[Principal, Depends(require(DATA_OFFICERS))]
