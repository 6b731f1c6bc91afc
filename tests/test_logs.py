"""The log format: the same JSON google-cloud-logging's StructuredLogHandler writes (which
Cloud Logging reads), without importing it at run time; and no exception message in it."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from function.core.logs import WITHHELD, CloudLoggingFormatter

google_handlers = pytest.importorskip(
    "google.cloud.logging_v2.handlers", reason="google-cloud-logging (requirements-dev.txt) is not installed"
)

EXTRAS = [
    {},
    {
        "json_fields": {
            "event": "request",
            "route": "/predict",
            "status": 200,
            "latency_ms": 3.2,
            "item_count": 1,
        }
    },
    {
        "json_fields": {"event": "request", "label_counts": {"PRESENT": 1, "ABSENT": 0, "POSSIBLE": 2}},
        "trace": "projects/p/traces/105445aa7843bc8bf206b12000100000",
        "span_id": "000000000000007b",
        "trace_sampled": True,
        "http_request": {
            "requestMethod": "POST",
            "requestUrl": "/predict",
            "status": 200,
            "latency": "0.003s",
        },
    },
]


def record(extra: dict, level: int = logging.INFO, msg: str = "POST /predict 200") -> logging.LogRecord:
    made = logging.getLogger("function.request").makeRecord(
        "function.request", level, __file__, 42, msg, (), None, func="handler", extra=extra
    )
    return made


@pytest.mark.parametrize("extra", EXTRAS)
def test_same_fields_as_google_cloud_loggings_handler(extra: dict) -> None:
    google = google_handlers.StructuredLogHandler(stream=io.StringIO())
    ours = json.loads(CloudLoggingFormatter().format(record(extra)))
    theirs = record(extra)
    for log_filter in google.filters:
        log_filter.filter(theirs)
    assert ours == json.loads(google.format(theirs))


def test_a_traceback_keeps_its_frames_and_withholds_its_message() -> None:
    secret = "Zq" + "0a1b2c"  # built at run time: traceback frames show source lines
    try:
        raise ValueError(f"Patient {secret} has HIV")
    except ValueError:
        made = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = json.loads(CloudLoggingFormatter().format(made))
    assert secret not in line["message"] and WITHHELD in line["message"]
    assert "test_logs.py" in line["message"] and "builtins.ValueError" in line["message"]
    assert line["severity"] == "ERROR"


def test_payload_fields_cannot_shadow_the_envelope() -> None:
    line = json.loads(CloudLoggingFormatter().format(record({"json_fields": {"severity": "DEBUG", "n": 1}})))
    assert line["severity"] == "INFO" and line["n"] == 1
