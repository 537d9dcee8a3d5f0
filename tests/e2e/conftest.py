"""End-to-end tests reuse the gateway's fixtures: the real gateway app wired to the real parties server."""

from tests.gateway.conftest import auth, client, gateway_app, gateway_settings

__all__ = ["auth", "client", "gateway_app", "gateway_settings"]
