"""Content type and size checks before any body is parsed.

The body is read here, up to MAX_BODY_BYTES, and handed on whole: a larger one is refused
with 413 without being buffered, a non-JSON one with 415 without being read. A missing
Content-Type is a 415 too, with a message that says what to send: FastAPI would not parse
such a body as JSON, and "body must be a JSON object" would only puzzle the caller.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from function.api.errors import send_error


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class BodyGuardMiddleware:
    """Guards the routes that take a JSON body (`body_paths`, all POST); any other method or
    path goes straight to routing, which answers 404 or 405 (a PUT on /health is a wrong
    method, not a wrong media type)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_paths: frozenset[str]) -> None:
        self.app, self.limit, self.paths = app, max_body_bytes, body_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value.decode("latin-1") for name, value in scope.get("headers", ())}
        if not is_json(headers.get(b"content-type", "")):
            await send_error(
                send, 415, "unsupported_media_type", "send the body as JSON (Content-Type: application/json)"
            )
            return
        declared = headers.get(b"content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send,
            413,
            "body_too_large",
            f"the request body is larger than {self.limit} bytes (MAX_BODY_BYTES)",
        )
