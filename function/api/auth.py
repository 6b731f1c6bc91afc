"""API key check in front of every route but /health.

Accepted: ``X-API-Key: K`` or ``Authorization: Bearer K``. A key in the query string is
refused outright (query strings end up in proxies' and load balancers' logs).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from function.api.errors import send_error
from function.startup.keys import ApiKeys

OPEN_PATHS = frozenset({"/health"})
_QUERY_KEY_NAMES = frozenset({"key", "api_key", "apikey", "api-key", "token", "access_token"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="clinical-assertion"'}


def presented_key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name == b"x-api-key":
            return value.decode("latin-1").strip()
        if name == b"authorization":
            scheme, _, credential = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                return credential.strip()
    return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, keys: ApiKeys) -> None:
        self.app, self.keys = app, keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys.required or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if any(name.lower() in _QUERY_KEY_NAMES for name, _ in query):
            await send_error(
                send,
                401,
                "unauthorized",
                "API keys in the query string are not accepted; send X-API-Key or Authorization: Bearer",
                _CHALLENGE,
            )
            return
        key = presented_key(scope)
        if key is None or not self.keys.accepts(key):
            message = "missing API key" if key is None else "invalid API key"
            await send_error(
                send,
                401,
                "unauthorized",
                f"{message}: send X-API-Key: KEY or Authorization: Bearer KEY",
                _CHALLENGE,
            )
            return
        await self.app(scope, receive, send)
