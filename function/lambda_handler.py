"""AWS Lambda entry point: ``function.lambda_handler.handler``.

HTTP events (API Gateway REST v1, HTTP API v2, Function URLs, ALB) go through Mangum to the
same FastAPI app Cloud Run serves. The model loads here, at import, in Lambda's init phase;
Mangum runs with lifespan off, since it would otherwise run start-up and shut-down inside
every invocation.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from function.api.app import create_app
from function.service import start_service

service = start_service()
http = Mangum(create_app(service), lifespan="off")


class UnsupportedEvent(ValueError):
    """An event of a shape no handler claims; its keys (never its values) are named."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        http.infer(event, context)
    except RuntimeError:
        keys = sorted(event)[:10] if isinstance(event, dict) else type(event).__name__
        raise UnsupportedEvent(f"no handler for an event with keys {keys}") from None
    return http(event, context)
