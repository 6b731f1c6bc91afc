"""A local stand-in for the AWS Lambda Runtime API, which the runtime interface client
(awslambdaric) in a Lambda image polls for work. No emulator package exists on these
machines; this implements the four calls the client makes (2018-06-01 API).

    with RuntimeApi() as api:                  # AWS_LAMBDA_RUNTIME_API=127.0.0.1:{api.port}
        result = api.invoke({"...": "event"})  # blocks until the function answers
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_server import LocalServer

PREFIX = "/2018-06-01/runtime"


class RuntimeApi(LocalServer):
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.answers: dict[str, tuple[str, Any]] = {}
        self.init_error: Any = None
        self._answered = threading.Condition()
        super().__init__()
        # The client's long poll on /invocation/next stays open: closing must not wait for it.
        self._server.daemon_threads = True

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def invoke(self, event: dict[str, Any], timeout: float = 120.0) -> tuple[str, Any]:
        """("response" | "error", payload) of one invocation."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, json.dumps(event).encode()))
        deadline = time.monotonic() + timeout
        with self._answered:
            while request_id not in self.answers:
                if self.init_error is not None:
                    return "init_error", self.init_error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the function did not answer")
                self._answered.wait(remaining)
            return self.answers.pop(request_id)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404, b"{}")
                    return
                request_id, body = api.events.get()  # long poll, as the real API does
                self._reply(
                    200,
                    body,
                    {
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:assertion",
                        "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                    },
                )

            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                with api._answered:
                    if parts == ["init", "error"]:
                        api.init_error = json.loads(payload or b"{}")
                    elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                        api.answers[parts[1]] = (parts[2], json.loads(payload or b"null"))
                    api._answered.notify_all()
                self._reply(202, b'{"status": "OK"}')

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
