"""AWS Lambda entry point: ``function.lambda_handler.handler``.

The model loads here, at import, in Lambda's init phase, on a thread while the handlers
below are imported and built (ONNX Runtime builds and checks its session without the GIL,
so the two overlap: `start_service_beside`). Events are dispatched the way
Mangum dispatches HTTP shapes: each handler of `function.events` is asked whether an event is
its own (`can_handle`), and the first that says yes takes it: SQS batches go to the message
contract (results and rejected messages to RESULTS_QUEUE_URL and ERRORS_QUEUE_URL, a partial
batch response back); HTTP events (API Gateway v1 and v2, Function URLs, ALB) go through
Mangum to the same FastAPI app Cloud Run serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from function.startup.service import ServiceState, start_service_beside

if TYPE_CHECKING:
    from function.events.lambda_http import LambdaHttpEvents
    from function.events.sqs import SqsEvents


def _handlers(service: ServiceState) -> tuple[SqsEvents, LambdaHttpEvents]:
    """Imported and built while the model loads (FastAPI alone is about half a second)."""
    from function.api.app import create_app
    from function.events.lambda_http import LambdaHttpEvents
    from function.events.sqs import sqs_events

    return sqs_events(service.settings, service.require_classifier), LambdaHttpEvents(create_app(service))


service, HANDLERS = start_service_beside(_handlers)


class UnsupportedEvent(ValueError):
    """An event of a shape no handler claims; its keys (never its values) are named."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for events in HANDLERS:
        if events.can_handle(event):
            return events(event, context)
    keys = sorted(event)[:10] if isinstance(event, dict) else type(event).__name__
    raise UnsupportedEvent(f"no handler for an event with keys {keys}")
