"""Micro-batching: inputs of concurrent requests share forward passes.

One inference thread owns the backend. Callers submit their (already validated and
tokenized) inputs and get a future; the thread takes whatever is queued when it is free,
waits at most `max_wait` for more while the queue is short (only when the pass before shared
inputs of several requests: a lone caller is never held for company that is not coming), and
runs up to `max_items`
inputs or `max_tokens` tokens at a time. A queue already holding `max_pending` inputs
refuses more (`Overloaded`, answered 503 with Retry-After) rather than growing without
bound. Batches are measured in tokens as well as items, because a pass costs by its
padded size: 32 short sentences are cheaper than four 512-token ones. A caller that cancels
its future (its client went away) has its inputs still queued dropped, never computed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import suppress
from dataclasses import dataclass, field

import numpy as np

from function.core.errors import ModelNotReady, Overloaded
from function.core.tokenization import ModelInput

Forward = Callable[[Sequence[ModelInput]], np.ndarray]


@dataclass
class _Request:
    inputs: Sequence[ModelInput]
    future: Future[np.ndarray]
    isolated: bool = False
    results: list[np.ndarray | None] = field(init=False)
    remaining: int = field(init=False)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.inputs)
        self.remaining = len(self.inputs)


@dataclass(frozen=True)
class BatchLimits:
    max_items: int = 32
    max_tokens: int = 8192
    max_wait: float = 0.002  # seconds
    max_pending: int = 2048


class MicroBatcher:
    """`forwards` holds one forward function per inference thread (stream); each thread takes
    its own batches from the one queue."""

    def __init__(self, forwards: Sequence[Forward], limits: BatchLimits) -> None:
        self.limits = limits
        self._queue: deque[tuple[_Request, int, float]] = deque()  # request, index, enqueued at
        self._changed = threading.Condition()
        self._closed = False
        self.dropped = 0  # queued inputs whose caller cancelled before a pass took them
        # Whether the last pass held inputs of more than one request: callers are concurrent,
        # and a short queue is worth `max_wait` for company. After a lone caller's pass it is
        # not (its next request comes only after its answer): at one caller, waiting cost
        # every request `max_wait` (2 ms of a 15 ms answer on an AVX-512 VNNI EPYC). Before the
        # first pass nobody is known to come in company: the first request is not held either
        # (a burst at start fills the queue during that first pass anyway).
        self._company = False
        self._threads = [
            threading.Thread(target=self._serve, args=(forward,), name=f"inference-{index}", daemon=True)
            for index, forward in enumerate(forwards)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, inputs: Sequence[ModelInput], *, isolated: bool = False) -> Future[np.ndarray]:
        """Queue one request's inputs; the future holds their probabilities, in order.

        An `isolated` request never shares a pass with another request's inputs, so the same
        inputs always run in the same passes and give the same bits: int8 activations are
        quantized per pass, and even fp32 sums differ in the last digits with the padded
        shape. Event messages use it, so a redelivered message yields the same result body.
        """
        request = _Request(inputs, Future(), isolated)
        if not inputs:
            request.future.set_result(np.zeros((0, 0), dtype=np.float32))
            return request.future
        with self._changed:
            if self._closed:
                raise ModelNotReady("the service is shutting down")
            if self._queue and len(self._queue) + len(inputs) > self.limits.max_pending:
                raise Overloaded(f"{len(self._queue)} inputs are already waiting for inference")
            now = time.monotonic()
            self._queue.extend((request, index, now) for index in range(len(inputs)))
            self._changed.notify()
        return request.future

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop the thread."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _serve(self, forward: Forward) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            if taken:  # empty when every input queued had been dropped
                self._run(forward, taken)

    def _take(self) -> list[tuple[_Request, int]] | None:
        limits = self.limits
        with self._changed:
            while not self._queue:
                if self._closed:
                    return None
                self._changed.wait()
            # A short queue may fill within max_wait of its oldest input: wait for that,
            # but never make the oldest input wait longer, and only while callers come in
            # company.
            deadline = self._queue[0][2] + limits.max_wait
            while self._company and len(self._queue) < limits.max_items and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            taken: list[tuple[_Request, int]] = []
            tokens = 0
            while self._queue and len(taken) < limits.max_items:
                request, index, _ = self._queue[0]
                if request.future.cancelled():  # its caller has gone: not worth a pass
                    self._queue.popleft()
                    self.dropped += 1
                    continue
                length = len(request.inputs[index].ids)
                if taken and (
                    tokens + length > limits.max_tokens or request.isolated != taken[0][0].isolated
                ):
                    break
                if taken and request.isolated and request is not taken[0][0]:
                    break
                self._queue.popleft()
                taken.append((request, index))
                tokens += length
            if taken:
                self._company = len({id(request) for request, _ in taken}) > 1
            return taken

    def _run(self, forward: Forward, taken: list[tuple[_Request, int]]) -> None:
        try:
            probabilities = forward([request.inputs[index] for request, index in taken])
        except BaseException as error:  # noqa: BLE001 (every waiting caller must hear of it)
            for request in {id(r): r for r, _ in taken}.values():
                if not request.future.done():
                    with suppress(InvalidStateError):  # another stream failed it first
                        request.future.set_exception(error)
            return
        with self._changed:  # a request's inputs may finish on several streams at once
            finished = []
            for row, (request, index) in enumerate(taken):
                if request.future.done():  # failed in an earlier pass
                    continue
                request.results[index] = probabilities[row]
                request.remaining -= 1
                if request.remaining == 0:
                    finished.append(request)
        for request in finished:
            with suppress(InvalidStateError):  # its caller cancelled while the pass ran
                request.future.set_result(np.stack(request.results))  # type: ignore[arg-type]
