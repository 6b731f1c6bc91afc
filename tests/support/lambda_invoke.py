"""A local stand-in for the Lambda service's invoke API (there is no AWS here).

Imports ``function.lambda_handler`` as Lambda's init phase does, then answers
``POST /2015-03-31/functions/function/invocations`` (the path the Runtime Interface
Emulator uses) by calling ``handler(event, context)`` with the posted event, one
invocation at a time. A handler exception is reported as Lambda reports it: the
``X-Amz-Function-Error: Unhandled`` header and an errorMessage/errorType body.

    python -m tests.support.lambda_invoke --port 9000
"""

from __future__ import annotations

import argparse
import json
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx

INVOKE_PATH = "/2015-03-31/functions/function/invocations"


def invoke(base_url: str, event: object, timeout: float = 60) -> httpx.Response:
    """One invocation through the stand-in at `base_url`, as the Lambda service's API takes it."""
    return httpx.post(base_url + INVOKE_PATH, json=event, timeout=timeout)


class FakeLambdaContext:
    function_name = "clinical-assertion"
    function_version = "$LATEST"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:clinical-assertion"
    log_group_name = "/aws/lambda/clinical-assertion"
    log_stream_name = "local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    from function.lambda_handler import handler  # the init phase: loads the model

    class Invoke(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # readiness of this harness: init has finished
            self._reply(200, {"ready": True})

        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                result = handler(event, FakeLambdaContext())
            except Exception as error:  # noqa: BLE001 (Lambda reports any unhandled error)
                self._reply(200, {"errorMessage": str(error), "errorType": type(error).__name__}, error=True)
                return
            self._reply(200, result)

        def _reply(self, status: int, body: object, error: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error:
                self.send_header("X-Amz-Function-Error", "Unhandled")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # the handler logs; we don't
            pass

    class Service(HTTPServer):
        # Invocations wait their turn, as the Lambda service queues them; the default
        # backlog of 5 would reset the connections of 32 concurrent callers.
        request_queue_size = 256

    Service(("127.0.0.1", args.port), Invoke).serve_forever()


if __name__ == "__main__":
    main()
