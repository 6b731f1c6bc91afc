"""AWS Lambda entry point: ``function.lambda_handler.handler``.

Events are dispatched by asking each handler whether an event is its own, as Mangum does
for HTTP shapes: SQS batches go to the message contract (results and rejected messages to
RESULTS_QUEUE_URL and ERRORS_QUEUE_URL, a partial batch response back); HTTP events (API
Gateway REST v1, HTTP API v2, Function URLs, ALB) go through Mangum to the same FastAPI app
Cloud Run serves. The model loads here, at import, in Lambda's init phase; Mangum runs with
lifespan off, since it would otherwise run start-up and shut-down inside every invocation.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from function.api.app import create_app
from function.events import sqs
from function.events.sqs import SqsEvents, SqsSink
from function.messages import Lazy, processor_for
from function.service import start_service

service = start_service()


class HttpEvents:
    def __init__(self) -> None:
        self.mangum = Mangum(create_app(service), lifespan="off")

    def infer(self, event: Any) -> bool:
        try:
            self.mangum.infer(event, None)
        except (RuntimeError, KeyError, TypeError, AttributeError):
            return False
        return True

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self.mangum(event, context)


settings = service.settings
HANDLERS = (
    SqsEvents(
        processor_for(
            settings,
            service.require_classifier,
            Lazy(lambda: SqsSink(settings.results_queue_url, settings.errors_queue_url)),
            "sqs",
        ),
        missing=sqs.missing_configuration(settings),
    ),
    HttpEvents(),
)


class UnsupportedEvent(ValueError):
    """An event of a shape no handler claims; its keys (never its values) are named."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for events in HANDLERS:
        if events.infer(event):
            return events(event, context)
    keys = sorted(event)[:10] if isinstance(event, dict) else type(event).__name__
    raise UnsupportedEvent(f"no handler for an event with keys {keys}")
