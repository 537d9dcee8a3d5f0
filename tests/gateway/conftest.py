"""Gateway fixtures: the real app (create_app, lifespan included) wired to the real parties and
commissions servers of the session's embedded PostgreSQL (a fresh database of each per test module),
called in-process through httpx's ASGI transport."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from crm_runtime.settings import Settings
from gateway.app import create_app
from gateway.auth import issue_token
from tests.conftest import make_settings

SECRET = "gateway-tests-secret-0123456789abcdef"
TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture(scope="module")
def gateway_settings(
    parties_db_url: str, parties_server: str, commissions_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    state_dir: Path = tmp_path_factory.mktemp("gateway-state")
    return make_settings(
        parties_db_url,
        parties_address=parties_server,
        commissions_address=commissions_server,
        jwt_secret=SECRET,
        state_dir=state_dir,
    )


@pytest_asyncio.fixture(scope="module")
async def gateway_app(gateway_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(gateway_settings)
    async with app.router.lifespan_context(app):  # httpx's ASGI transport does not run the lifespan
        yield app


@pytest_asyncio.fixture(scope="module")
async def client(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


@pytest.fixture(scope="module")
def auth(gateway_settings: Settings) -> TokenFactory:
    """auth("admin", sub="alice") -> the Authorization header of a valid token with those roles."""

    def make(*roles: str, sub: str = "tester", ttl: int = 600) -> dict[str, str]:
        token = issue_token(gateway_settings, sub, list(roles or ("agent",)), ttl_seconds=ttl, name=sub.title())
        return {"Authorization": f"Bearer {token}"}

    return make


def valid_person_inn(rng: random.Random | None = None) -> str:
    """A random 12-digit INN with correct check digits (unique identifiers need fresh values)."""
    rng = rng or random.Random()
    digits = [rng.randint(1, 9), *(rng.randint(0, 9) for _ in range(9))]
    for weights in ((7, 2, 4, 10, 3, 5, 9, 4, 6, 8), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)):
        digits.append(sum(w * d for w, d in zip(weights, digits, strict=False)) % 11 % 10)
    return "".join(map(str, digits))


def person_body(last_name: str = "Щербаков", first_name: str = "Юрий", **extra: object) -> dict[str, object]:
    return {
        "kind": "person",
        "person": {"name": {"last_name": last_name, "first_name": first_name}, "gender": "male"},
        **extra,
    }


def unique_phone() -> str:
    return f"+7916{random.randint(0, 9_999_999):07d}"


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


async def new_person(client: httpx.AsyncClient, auth: TokenFactory, last_name: str, first_name: str) -> str:
    """Creates a person through the gateway; their party id (a sales person's participant id)."""
    body = person_body(last_name, first_name, contact_points=[{"phone": unique_phone()}])
    resp = await client.post("/api/v1/parties", json=body, headers={**auth("agent"), "Idempotency-Key": new_key()})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["party_id"])
