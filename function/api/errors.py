"""One error shape for every failure: ``{"error": {"code": "...", "message": "..."}}``.

Codes are stable (callers branch on them); messages help a human and never repeat the
caller's input: FastAPI's default 422 body echoes it (``"input": ...``), and here every
input is patient text, so validation errors are rewritten from field names and types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import Send

from function.core.errors import InputError, ModelNotReady, Overloaded

RETRY_AFTER_SECONDS = "5"

_HTTP_CODES = {
    400: "malformed_json",  # FastAPI's only 400: a body it could not parse
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}

_TYPE_WORDS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "list_type": "must be a list",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "missing": "is required",
    "int_parsing": "must be an integer",
    "greater_than_equal": "is too small",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def send_error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """The same shape, from pure ASGI middleware (outside FastAPI's handlers)."""
    body = json.dumps(error_body(code, message)).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _location(loc: Sequence[Any]) -> str:
    parts = [str(part) for part in loc if part != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


def describe_validation(errors: Sequence[dict[str, Any]], fields: Sequence[str]) -> tuple[int, str, str]:
    """(status, code, message) for pydantic errors, built from locations and types only."""
    if any(error["type"] == "json_invalid" for error in errors):
        return 400, "malformed_json", "the request body is not valid JSON"
    described = []
    for error in errors:
        kind = error["type"]
        if kind == "extra_forbidden":
            # The unknown key itself is caller input: name the expected ones instead.
            where = _location(error["loc"][:-1])
            described.append(f"{where} has an unknown field (expected: {', '.join(fields)})")
        else:
            words = _TYPE_WORDS.get(kind, str(error.get("msg", "is invalid")).lower())
            described.append(f"{_location(error['loc'])} {words}")
    more = f" (+{len(described) - 3} more)" if len(described) > 3 else ""
    return 422, "invalid_request", "; ".join(described[:3]) + more


def install_error_handlers(app: FastAPI, fields_of: Mapping[str, Sequence[str]]) -> None:
    """`fields_of` maps a route path to the body fields it takes (for unknown-field errors)."""

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        status, code, message = describe_validation(exc.errors(), fields_of.get(request.url.path, ()))
        return error_response(status, code, message)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = {
            400: "the request body could not be parsed as JSON",
            404: "no such route; see /docs",
            405: "method not allowed on this route",
        }.get(exc.status_code, "request failed")
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    async def on_input(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InputError)
        return error_response(422, exc.code, exc.message)

    async def on_api(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    async def on_not_ready(request: Request, exc: Exception) -> JSONResponse:
        return error_response(
            503,
            "not_ready",
            "the model is not loaded yet; retry shortly",
            {"Retry-After": RETRY_AFTER_SECONDS},
        )

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(InputError, on_input)
    app.add_exception_handler(ApiError, on_api)

    async def on_overloaded(request: Request, exc: Exception) -> JSONResponse:
        return error_response(
            503,
            "overloaded",
            "too many requests are waiting for inference; retry shortly",
            {"Retry-After": "1"},
        )

    app.add_exception_handler(ModelNotReady, on_not_ready)
    app.add_exception_handler(Overloaded, on_overloaded)
