"""The HTTP surface in-process (readiness, faults, logging format), and trace correlation
through a real Functions Framework server."""

from __future__ import annotations

import io
import json
import logging
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from function.api.app import create_app
from function.api.trace import parse_trace
from function.core.classifier import AssertionClassifier
from function.core.logs import WITHHELD, configure_logging
from function.startup.keys import ApiKeys
from function.startup.service import ServiceState
from function.startup.settings import Settings
from tests.support.endpoints import canary


@pytest.fixture
def captured_logs():
    """Route logging into a buffer for one test, then restore pytest's handlers."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_503_until_the_model_is_loaded() -> None:
    state = ServiceState(Settings(), ApiKeys([], required=False), classifier=None)
    client = TestClient(create_app(state))
    health = client.get("/health")
    assert health.status_code == 503 and health.headers["retry-after"]
    assert health.json()["status"] == "loading"
    reply = client.post("/predict", json={"sentence": "Denies [entity] fever [entity]."})
    assert reply.status_code == 503 and reply.headers["retry-after"]
    assert reply.json() == {
        "error": {"code": "not_ready", "message": "the model is not loaded yet; retry shortly"}
    }


class ExplodingBackend:
    """A fault injected where the numbers are computed; its message quotes the input, as a
    careless library error might."""

    name, precision = "torch", "fp32"

    def __init__(self, text: str) -> None:
        self.text = text

    def logits(self, input_ids, attention_mask):
        raise RuntimeError(f"kernel failed on {self.text}")


def test_an_internal_fault_is_a_json_500_and_its_message_stays_out_of_logs(
    baked_model: Path, captured_logs: io.StringIO
) -> None:
    secret = canary()
    classifier = AssertionClassifier.load(baked_model, threads=1)
    classifier._backend = ExplodingBackend(secret)
    state = ServiceState(Settings(), ApiKeys([], required=False), classifier=classifier)
    client = TestClient(create_app(state), raise_server_exceptions=False)
    reply = client.post("/predict", json={"sentence": f"{secret} denies [entity] fever [entity]."})
    assert reply.status_code == 500
    assert reply.json()["error"]["code"] == "internal_error"
    assert secret not in reply.text
    logs = captured_logs.getvalue()
    assert secret not in logs
    assert WITHHELD in logs and "RuntimeError" in logs and "test_app.py" in logs
    lines = [json.loads(line) for line in logs.splitlines()]
    request_line = next(line for line in lines if line.get("event") == "request")
    assert request_line["status"] == 500 and request_line["error_code"] == "internal_error"
    assert request_line["severity"] == "ERROR"


@pytest.mark.parametrize(
    ("traceparent", "cloud", "expected"),
    [
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
            ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True),
        ),
        (
            None,
            "105445aa7843bc8bf206b12000100000/123;o=1",
            ("105445aa7843bc8bf206b12000100000", "000000000000007b", True),
        ),
        (None, "105445aa7843bc8bf206b12000100000", ("105445aa7843bc8bf206b12000100000", None, False)),
        ("garbage", "also garbage", None),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None, None),
    ],
)
def test_trace_headers(traceparent, cloud, expected) -> None:
    trace = parse_trace(traceparent, cloud)
    assert (None if trace is None else (trace.trace_id, trace.span_id, trace.sampled)) == expected


def test_request_logs_carry_the_trace_for_cloud_logging(deployments) -> None:
    import httpx

    server = deployments["open"].ff
    trace_id = uuid.uuid4().hex
    httpx.post(
        f"{server.url}/predict/batch",
        json={"sentences": ["Denies [entity] fever [entity].", "Possible [entity] rash [entity]."]},
        headers={"X-Cloud-Trace-Context": f"{trace_id}/123;o=1"},
    )
    line = json.loads(server.log_line(trace_id))
    assert line["logging.googleapis.com/trace"] == f"projects/test-project/traces/{trace_id}"
    assert line["logging.googleapis.com/spanId"] == "000000000000007b"
    assert line["logging.googleapis.com/trace_sampled"] is True
    assert line["severity"] == "INFO" and line["route"] == "/predict/batch" and line["item_count"] == 2
    assert line["queue_depth"] == 0, "one request alone found nothing waiting (the dashboard's queue chart)"
    assert sum(line["label_counts"].values()) == 2 and set(line["label_counts"]) == {
        "PRESENT",
        "ABSENT",
        "POSSIBLE",
    }
    assert 0 <= line["low_confidence_share"] <= 1
    assert line["httpRequest"]["status"] == 200 and line["httpRequest"]["latency"].endswith("s")
