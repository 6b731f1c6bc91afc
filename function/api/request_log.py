"""One structured log line per request, and the last net under every route.

The line carries what on-call and the log-based metrics need (route, status, latency, item
count, labels, low-confidence count, error code, trace) and nothing of the request body. An
exception that escapes the app is logged (message withheld, see `function.core.logs`) and
answered with the JSON 500, so no framework above prints its own traceback or answers in
another shape, and Lambda never sees an invocation error for an HTTP request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from function.api.errors import send_error
from function.api.trace import parse_trace
from function.core.logs import PredictionTally, log_event

log = logging.getLogger("function.request")


CLIENT_CLOSED = 499
CLIENT_CLOSED_BODY = b'{"error": {"code": "client_disconnected"}}'


@dataclass
class _Answer:
    """What the app sent back, as far as the log line needs it."""

    status: int = 500
    started: bool = False
    error_body: bytearray = field(default_factory=bytearray)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, *, project_id: str, labels: Sequence[str]) -> None:
        self.app, self.project_id, self.labels = app, project_id, tuple(labels)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record = PredictionTally()  # the routes add their predictions to it
        # A copy: the router writes the matched route into it, and an outer router (Functions
        # Framework's catch-all) must not leave its own route there.
        scope = {**scope, "state": {**scope.get("state", {}), "record": record}}
        scope.pop("route", None)
        answer = _Answer()

        async def send_and_watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status, answer.started = message["status"], True
            elif message["type"] == "http.response.body" and answer.status >= 400:
                answer.error_body += message.get("body", b"")
            await send(message)

        if log.isEnabledFor(logging.DEBUG):  # the line above is written once answered; this one on arrival
            log_event(log, logging.DEBUG, f"{scope.get('method')} received", event="request_received")
        escaped: BaseException | None = None
        try:
            await self.app(scope, receive, send_and_watch)
        except Exception as error:  # noqa: BLE001 (the last net: answer, log, carry on)
            escaped = error
            if not answer.started:
                await send_error(send_and_watch, 500, "internal_error", "internal error; it has been logged")
        if not answer.started and escaped is None:
            # Nothing was sent and nothing failed: the caller went away first (a body that
            # stopped mid-way). Logged as nginx's 499, not as a 500 of ours.
            answer.status, answer.error_body = CLIENT_CLOSED, bytearray(CLIENT_CLOSED_BODY)
        self._log(scope, record, answer, time.perf_counter() - started, escaped)

    def _log(
        self,
        scope: Scope,
        record: PredictionTally,
        answer: _Answer,
        seconds: float,
        escaped: BaseException | None,
    ) -> None:
        status = answer.status
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        fields: dict[str, object] = {
            "event": "request",
            "route": route,
            "method": scope.get("method"),
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
            **record.fields(self.labels),
        }
        if status >= 400:
            fields["error_code"] = _error_code(bytes(answer.error_body))
        trace = parse_trace(_header(scope, b"traceparent"), _header(scope, b"x-cloud-trace-context"))
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        log_event(
            log,
            level,
            f"{scope.get('method')} {route} {status}",
            trace=trace.resource_name(self.project_id) if trace else None,
            span_id=trace.span_id if trace else None,
            sampled=trace.sampled if trace else False,
            http_request={
                "requestMethod": scope.get("method"),
                "requestUrl": route,
                "status": status,
                "latency": f"{seconds:.6f}s",
                "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            },
            **fields,
        )
        if escaped is not None:
            log.error("unhandled error on %s", route, exc_info=escaped)


def _error_code(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unknown"
