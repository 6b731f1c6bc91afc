"""HTTP on AWS Lambda: API Gateway REST (v1) and HTTP API (v2) events, Function URLs and ALB
targets, through Mangum, to the one HTTP surface (the app is handed in: this adapter knows
Lambda's HTTP shapes, not the routes).

Mangum runs with lifespan off: it would otherwise run the app's start-up and shut-down inside
every invocation, and the model is loaded once, in Lambda's init phase, by the entry point.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum
from mangum.types import ASGI


class LambdaHttpEvents:
    def __init__(self, app: ASGI) -> None:
        self.mangum = Mangum(app, lifespan="off")

    def can_handle(self, event: Any) -> bool:
        """Whether one of Mangum's handlers (API Gateway, HTTP API, ALB, ...) claims it."""
        try:
            self.mangum.infer(event, None)  # type: ignore[arg-type]  # context is not read here
        except (RuntimeError, KeyError, TypeError, AttributeError):
            return False
        return True

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self.mangum(event, context)
