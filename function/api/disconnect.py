"""Work for a caller who has gone is not done.

Under overload callers time out and go, and their requests still wait in the inference
queue: computing them takes the cores from callers who are still there, exactly when the
cores are short. A request's inference is therefore awaited beside its connection: once
the body has been read, the server's next ASGI message for it is ``http.disconnect``, sent
when the client closes (uvicorn) or after the answer (Mangum, httpx's test transport). If it
comes first, the inference is cancelled (its inputs still queued are dropped from the
micro-batcher unseen; a pass already running finishes) and the request ends as 499
``client_disconnected``, nginx's status for it, in the request log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

from function.api.errors import ApiError
from function.api.request_log import CLIENT_CLOSED

T = TypeVar("T")


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """`work`'s result, or ApiError 499 if the client disconnects first (`work` cancelled)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # this request itself is cancelled: so is its work
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    raise ApiError(CLIENT_CLOSED, "client_disconnected", "the client closed the connection first")
