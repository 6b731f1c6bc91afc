"""Micro-batching under load: a bounded queue that sheds with 503, faults that reach every
waiting caller, an event loop that keeps answering while inference runs, and no pass spent on
a caller who has gone. The backend is the real one, wrapped so a test can hold a pass open."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from function.api.app import create_app
from function.core.batching import BatchLimits
from function.core.classifier import AssertionClassifier
from function.core.errors import Overloaded
from function.core.markers import MarkedText
from function.startup.keys import ApiKeys
from function.startup.service import ServiceState
from function.startup.settings import Settings
from tests.support.servers import free_port

SENTENCE = "Denies [entity] fever [entity]."


class HeldBackend:
    """The real backend behind a gate: each pass waits until the test opens it."""

    def __init__(self, backend) -> None:
        self.backend, self.name, self.precision = backend, backend.name, backend.precision
        self.gate, self.entered, self.passes, self.rows = threading.Event(), threading.Event(), 0, 0

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        self.passes += 1
        self.rows += len(input_ids)  # inputs computed
        return self.backend.logits(input_ids, attention_mask)


@pytest.fixture
def held(baked_model: Path):
    classifier = AssertionClassifier.load(
        baked_model,
        backend="onnx",
        precision="fp32",
        limits=BatchLimits(max_items=4, max_wait=0, max_pending=6),
    )
    backend = HeldBackend(classifier._backend)
    classifier._backend = backend
    yield classifier, backend
    backend.gate.set()
    classifier.close()


def prepared(classifier: AssertionClassifier, count: int):
    return classifier.prepare([MarkedText(SENTENCE)] * count, [f"s[{i}]" for i in range(count)])


def test_a_full_queue_sheds_and_what_was_accepted_completes(held) -> None:
    classifier, backend = held
    first = classifier._batcher.submit(prepared(classifier, 1).inputs)
    assert backend.entered.wait(10)  # one input is in a pass; the queue is empty again
    queued = [classifier._batcher.submit(prepared(classifier, 3).inputs) for _ in range(2)]  # 6 pending
    with pytest.raises(Overloaded):
        classifier._batcher.submit(prepared(classifier, 1).inputs)
    backend.gate.set()
    results = [future.result(10) for future in [first, *queued]]
    assert [len(r) for r in results] == [1, 3, 3]
    assert np.allclose(results[1], results[0][0], atol=1e-5)  # same sentence, same answer


class RecordingBackend:
    """The real backend, recording how many inputs each pass held."""

    def __init__(self, backend) -> None:
        self.backend, self.name, self.precision = backend, backend.name, backend.precision
        self.sizes: list[int] = []

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.sizes.append(len(input_ids))
        return self.backend.logits(input_ids, attention_mask)


def test_a_lone_caller_is_not_held_for_company_and_concurrent_callers_are(baked_model: Path) -> None:
    """max_wait (1 s here) holds a short queue for the next caller only while callers come in
    company: before any pass, and after a pass with one request, a request runs at once and
    the next one, 0.1 s later, takes a pass of its own; after a pass shared by two requests,
    the same pair shares one pass."""
    classifier = AssertionClassifier.load(
        baked_model, backend="onnx", precision="fp32", limits=BatchLimits(max_items=8, max_wait=1.0)
    )
    backend = RecordingBackend(classifier._backend)
    classifier._backend = backend
    batcher = classifier._batcher

    def two_callers_apart() -> None:
        first = batcher.submit(prepared(classifier, 1).inputs)
        time.sleep(0.1)
        second = batcher.submit(prepared(classifier, 1).inputs)
        first.result(10), second.result(10)

    try:
        two_callers_apart()  # the very first request: no company known, so no wait
        assert backend.sizes == [1, 1]
        two_callers_apart()
        assert backend.sizes == [1, 1, 1, 1]  # alone before: no wait, two passes
        with batcher._changed:  # (reentrant) both queued before the thread can take either
            together = [batcher.submit(prepared(classifier, 1).inputs) for _ in range(2)]
        [future.result(10) for future in together]
        two_callers_apart()
        assert backend.sizes[4:] == [2, 2]  # in company before: the short queue waited
    finally:
        classifier.close()


def test_a_fault_in_a_pass_reaches_every_waiting_caller(baked_model: Path) -> None:
    classifier = AssertionClassifier.load(baked_model, backend="onnx", precision="fp32")

    class Broken:
        name, precision = "onnx", "fp32"

        def logits(self, input_ids, attention_mask):
            raise RuntimeError("backend fault")

    classifier._backend = Broken()
    try:
        futures = [classifier._batcher.submit(prepared(classifier, 2).inputs) for _ in range(3)]
        for future in futures:
            with pytest.raises(RuntimeError, match="backend fault"):
                future.result(10)
    finally:
        classifier.close()


def test_close_finishes_what_is_queued(baked_model: Path) -> None:
    classifier = AssertionClassifier.load(baked_model, backend="onnx", precision="fp32")
    futures = [classifier._batcher.submit(prepared(classifier, 2).inputs) for _ in range(5)]
    classifier.close()
    assert all(future.done() and len(future.result()) == 2 for future in futures)


def test_http_sheds_load_with_503_and_keeps_answering_health(held) -> None:
    classifier, backend = held
    state = ServiceState(Settings(), ApiKeys([], required=False), classifier=classifier)
    app = create_app(state)

    async def scenario() -> tuple[list[int], int, dict[str, str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.create_task(client.post("/predict", json={"sentence": SENTENCE}))
            await asyncio.to_thread(backend.entered.wait, 10)
            # The pass is held open: the loop must still answer.
            health = await asyncio.wait_for(client.get("/health"), 5)
            batch = {"sentences": [SENTENCE] * 3}
            waiting = [asyncio.create_task(client.post("/predict/batch", json=batch)) for _ in range(2)]
            await asyncio.sleep(0.2)
            shed = await client.post("/predict", json={"sentence": SENTENCE})
            backend.gate.set()
            done = await asyncio.gather(first, *waiting)
            return (
                [r.status_code for r in done] + [shed.status_code],
                health.status_code,
                {**shed.headers, "code": shed.json()["error"]["code"]},
            )

    statuses, health, shed = asyncio.run(scenario())
    assert statuses == [200, 200, 200, 503]
    assert health == 200
    assert shed["code"] == "overloaded" and shed["retry-after"] == "1"


def test_inputs_of_a_cancelled_request_are_never_computed(held) -> None:
    classifier, backend = held
    batcher = classifier._batcher
    first = batcher.submit(prepared(classifier, 1).inputs)
    assert backend.entered.wait(10)  # in a pass, held open
    gone = batcher.submit(prepared(classifier, 3).inputs)
    staying = batcher.submit(prepared(classifier, 2).inputs)
    assert gone.cancel()  # what asyncio does when the awaiting request is cancelled
    backend.gate.set()
    assert len(first.result(10)) == 1 and len(staying.result(10)) == 2
    assert len(batcher.submit(prepared(classifier, 1).inputs).result(10)) == 1  # the thread lives on
    assert (backend.rows, batcher.dropped) == (1 + 2 + 1, 3)


def test_a_caller_who_hangs_up_is_not_computed_and_is_logged_499(held, caplog) -> None:
    """A real uvicorn server and a real socket closed while its request waits in the queue:
    the request is cancelled, its inputs are dropped unseen, and its line says 499."""
    classifier, backend = held
    app = create_app(ServiceState(Settings(), ApiKeys([], required=False), classifier=classifier))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        with caplog.at_level("INFO", logger="function.request"):
            held_open = threading.Thread(
                target=httpx.post, args=(f"{url}/predict",), kwargs={"json": {"sentence": SENTENCE}}
            )
            held_open.start()
            assert backend.entered.wait(10)
            body = json.dumps({"sentences": [SENTENCE] * 3}).encode()
            with socket.create_connection(("127.0.0.1", port)) as caller:
                caller.sendall(
                    b"POST /predict/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                while classifier.pending < 3:  # queued behind the held pass
                    assert time.monotonic() < deadline, "the batch never reached the queue"
                    time.sleep(0.01)
            # The socket is closed: the server cancels the request and logs it.
            while not [r for r in caplog.records if getattr(r, "json_fields", {}).get("status") == 499]:
                assert time.monotonic() < deadline, "no 499 line for the caller who hung up"
                time.sleep(0.01)
            backend.gate.set()
            held_open.join(10)
        lines = [r.json_fields for r in caplog.records if r.name == "function.request"]
        assert [(line["route"], line["status"]) for line in lines] == [
            ("/predict/batch", 499),
            ("/predict", 200),
        ]
        assert lines[0]["error_code"] == "client_disconnected"
        assert (backend.rows, classifier._batcher.dropped) == (1, 3)
    finally:
        backend.gate.set()
        server.should_exit = True
        thread.join(10)
