"""Bearer tokens and role checks: who may do what, and clear 401/403 problems for everyone else."""

from __future__ import annotations

import stat
import time

import httpx
import jwt
import pytest

from crm_runtime.settings import Settings
from gateway.auth import issue_token, load_or_create_secret
from tests.gateway.conftest import SECRET, TokenFactory, person_body

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forged(settings: Settings, **overrides: object) -> str:
    now = int(time.time())
    claims = {
        "sub": "mallory",
        "roles": ["admin"],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "exp": now + 600,
        **overrides,
    }
    key = str(claims.pop("key", SECRET))
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="HS256")


async def test_missing_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/parties")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == 'Bearer realm="crm"'
    basic = await client.get("/api/v1/parties", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 3600},
        {"key": "another-key-of-another-issuer-0123456789"},
        {"aud": "someone-else"},
        {"iss": "someone-else"},
        {"exp": None},
        {"roles": "admin"},
    ],
    ids=["expired", "other-key", "wrong-audience", "wrong-issuer", "no-expiry", "roles-not-a-list"],
)
async def test_invalid_tokens_are_401(
    client: httpx.AsyncClient, gateway_settings: Settings, overrides: dict[str, object]
) -> None:
    response = await client.get("/api/v1/parties", headers=bearer(forged(gateway_settings, **overrides)))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith('Bearer realm="crm", error="invalid_token"')


async def test_garbage_and_unsigned_tokens_are_401(client: httpx.AsyncClient, gateway_settings: Settings) -> None:
    unsigned = jwt.encode({"sub": "x", "roles": ["admin"]}, key=None, algorithm="none")
    for token in ("not.a.jwt", "abc", unsigned):
        response = await client.get("/api/v1/parties", headers=bearer(token))
        assert response.status_code == 401, token
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_roles_gate_the_routes(client: httpx.AsyncClient, auth: TokenFactory, gateway_settings: Settings) -> None:
    marketer = auth("marketer")
    denied = await client.post("/api/v1/parties", json=person_body(), headers=marketer)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == PROBLEM
    assert denied.json()["type"].endswith(":forbidden")
    assert (await client.get("/api/v1/parties", headers=marketer)).status_code == 200

    definition = {"code": "shoe_size", "name": "Shoe size", "value_type": "number", "applies_to": ["person"]}
    sales = await client.post("/api/v1/catalogue/attributes", json=definition, headers=auth("sales"))
    assert sales.status_code == 403
    admin = await client.post("/api/v1/catalogue/attributes", json=definition, headers=auth("admin"))
    assert admin.status_code == 201, admin.text

    assert (await client.get("/api/v1/changes", headers=auth("manager"))).status_code == 403
    assert (await client.get("/api/v1/changes", headers=auth("data_steward"))).status_code == 200
    unknown_role_only = await client.get(
        "/api/v1/parties", headers=bearer(forged(gateway_settings, roles=["superuser"]))
    )
    assert unknown_role_only.status_code == 403


async def test_actor_comes_from_the_token(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    created = await client.post("/api/v1/parties", json=person_body("Кузнецов", "Илья"), headers=auth(sub="kuz"))
    pid = created.json()["party_id"]
    feed = await client.get("/api/v1/changes", params={"party_id": pid}, headers=auth("admin", sub="auditor"))
    assert [(c["actor"], c["source"]) for c in feed.json()["changes"]] == [("user:kuz", "gateway")]


def test_local_secret_is_created_once_with_mode_0600(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(state_dir=tmp_path / "state", jwt_secret=None)
    secret = load_or_create_secret(settings)
    path = tmp_path / "state" / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 32 and load_or_create_secret(settings) == secret
    token = issue_token(settings, "alice", ["admin", "finance"], ttl_seconds=60, name="Alice")
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience=settings.jwt_audience)
    assert claims["sub"] == "alice" and claims["roles"] == ["admin", "finance"] and claims["name"] == "Alice"
    assert claims["iss"] == settings.jwt_issuer and claims["exp"] - claims["iat"] == 60
    assert load_or_create_secret(Settings(state_dir=tmp_path / "state", jwt_secret="configured")) == "configured"
    with pytest.raises(ValueError, match="unknown roles"):
        issue_token(settings, "alice", ["superuser"])
