"""Functions Framework entry points (Cloud Run).

    functions-framework --source function/main.py --target predict_http --asgi --port $PORT
    functions-framework --source function/main.py --target predict_pubsub \
        --signature-type cloudevent --port $PORT

`predict_http` is the HTTP API. Functions Framework mounts ONE function on every path; in
its ASGI mode that function gets the Starlette request, and returning a response object that
hands the untouched ASGI call to the FastAPI app makes the function the whole HTTP surface:
every route, validation, auth, errors and /docs, exactly as on Lambda.

`predict_pubsub` takes Pub/Sub messages (see `function.events.pubsub`); it is served by
Functions Framework's Flask stack (no --asgi), the one that also accepts the plain envelope
of a push subscription.

This module is imported once, when the server starts, by gunicorn's master: it checks the
configuration and the model folder there, and the worker loads the model right after
gunicorn forks it (see `function.startup.service`). The master imports no more than that:
the worker builds what its target serves (the FastAPI app, or the Pub/Sub processor) while
its model loads on the other core, so the two overlap instead of adding up (process start to
first answer 2.17 s to 1.80 s on the AVX2 EPYC; docs/benchmarks.md).
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

import functions_framework
import functions_framework.aio

# Imported here, in gunicorn's master, so the forked worker starts with them instead of
# importing them before it can accept its first request (about 30 ms of a cold start).
import uvicorn.lifespan.on
import uvicorn.loops.auto
import uvicorn.protocols.http.auto  # noqa: F401
import uvicorn_worker  # noqa: F401
from cloudevents.http import CloudEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from werkzeug.exceptions import InternalServerError

from function.core.messages import RetryLater
from function.startup.service import refuse, start_service

if TYPE_CHECKING:
    from function.core.messages import MessageProcessor


@cache
def _app() -> ASGIApp:
    from function.api.app import create_app  # in the worker: see the docstring

    return create_app(service)


@cache
def _pubsub_messages() -> MessageProcessor:
    from function.events import pubsub

    return pubsub.pubsub_processor(service.settings, service.require_classifier)


def _build_target() -> None:
    """What the worker builds on its main thread while the model loads (FUNCTION_TARGET is
    set by Functions Framework before it imports this module; unset, both build on first use)."""
    target = os.environ.get("FUNCTION_TARGET")
    if target == "predict_http":
        _app()
    elif target == "predict_pubsub":
        _pubsub_messages()


service = start_service(in_worker=_build_target)
# Functions Framework names the target it serves before importing this module.
if os.environ.get("FUNCTION_TARGET") == "predict_pubsub":
    from function.events.pubsub import missing_configuration

    if missing_configuration(service.settings):
        raise refuse(f"predict_pubsub needs {', '.join(missing_configuration(service.settings))}")


class _ServeApp(Response):
    """A response that is the app: `await response(scope, receive, send)` runs the app."""

    def __init__(self) -> None:  # no body or headers of its own
        pass

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _app()(scope, receive, send)


@functions_framework.aio.http
async def predict_http(request: Request) -> Response:
    return _ServeApp()


@functions_framework.cloud_event
def predict_pubsub(cloud_event: CloudEvent) -> None:
    """Returning acknowledges the message; a 500 has Pub/Sub redeliver it. The message's log
    line already says why (outcome "retry", error_code, cause): the 500 goes out as an HTTP
    error, not as an unhandled exception whose traceback would be logged at every redelivery."""
    try:
        from function.events.pubsub import envelope  # loaded by _pubsub_messages

        _pubsub_messages().handle(envelope(cloud_event))
    except RetryLater as retry:
        raise InternalServerError(str(retry)) from None
