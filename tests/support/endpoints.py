"""One client interface over every entry point, so the contract suite is written once.

`HttpEndpoint` talks real HTTP to a Functions Framework server. `LambdaEndpoint` turns the
same request into a real Lambda event of one shape, invokes the handler process with it and
reads the response back. Every string a test sends is remembered, so that a test can check
that none of them reached a log line.
"""

from __future__ import annotations

import json as jsonlib
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.lambda_events import SHAPES, build_event, read_response
from tests.support.lambda_invoke import INVOKE_PATH

# Functions Framework, and the Lambda handler with each HTTP event shape.
ENTRY_POINTS = ("ff", *(f"lambda-{shape}" for shape in SHAPES))
SENT_TEXTS: set[str] = set()


def canary() -> str:
    """A unique word to plant in a sentence, so a log search for it means something (the
    contract suite's last test looks for every word starting "Zq" that SENT_TEXTS holds)."""
    return f"Zq{uuid.uuid4().hex[:12]}"


def remember(value: Any) -> None:
    if isinstance(value, str):
        SENT_TEXTS.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            remember(item)
    elif isinstance(value, list):
        for item in value:
            remember(item)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Endpoint:
    name = "endpoint"

    def __init__(self, key: str | None = None) -> None:
        self.key = key

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: str = "",
        auth: bool = True,
    ) -> Reply:
        sent_headers: dict[str, str] = {}
        if json is not None:
            remember(json)
            content = jsonlib.dumps(json).encode()
            sent_headers["Content-Type"] = "application/json"
        if auth and self.key:
            sent_headers["X-API-Key"] = self.key
        sent_headers.update(headers or {})
        return self._send(method, path, query, sent_headers, content or b"")

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, json=json, **kwargs)

    def _send(self, method: str, path: str, query: str, headers: dict[str, str], content: bytes) -> Reply:
        raise NotImplementedError


class HttpEndpoint(Endpoint):
    name = "functions-framework"

    def __init__(self, base_url: str, key: str | None = None) -> None:
        super().__init__(key)
        self.base_url = base_url

    def _send(self, method: str, path: str, query: str, headers: dict[str, str], content: bytes) -> Reply:
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        response = httpx.request(method, url, headers=headers, content=content, timeout=60.0)
        return Reply(response.status_code, dict(response.headers), response.content)


class LambdaEndpoint(Endpoint):
    def __init__(self, invoke_url: str, shape: str, key: str | None = None) -> None:
        super().__init__(key)
        self.invoke_url = invoke_url + INVOKE_PATH
        self.shape = shape
        self.name = f"lambda-{shape}"

    def _send(self, method: str, path: str, query: str, headers: dict[str, str], content: bytes) -> Reply:
        event = build_event(self.shape, method, path, query, headers, content)
        response = httpx.post(self.invoke_url, json=event, timeout=60.0)
        if response.headers.get("x-amz-function-error"):
            raise AssertionError(f"the handler raised for an HTTP event: {response.text}")
        status, reply_headers, body = read_response(response.json())
        return Reply(status, reply_headers, body)
