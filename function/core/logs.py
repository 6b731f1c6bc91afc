"""Structured JSON logs on stdout, one line per event, in the format Cloud Logging reads
(severity, message, trace, span, httpRequest, source location, labels).

These are the fields google-cloud-logging's StructuredLogHandler writes, and a test holds
this formatter's output to that handler's for the same records. We write them ourselves
because importing that library costs about 0.13 s of a 0.8 s cold start (measured: see
docs/internals.md, "Logs"), for one `json.dumps`.

Patient text must never reach a log line. Code here logs counts, lengths, ids and timings
only; as a second line of defence, exception messages (which may quote an input) are
withheld from tracebacks: a traceback keeps its frames and the exception's type.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from function.core.classifier import Prediction

WITHHELD = "message withheld: it may quote patient data"
# Keys Cloud Logging reads from a structured line; a payload field must not shadow them.
RESERVED = frozenset(
    {
        "severity",
        "message",
        "httpRequest",
        "time",
        "timestamp",
        "logging.googleapis.com/labels",
        "logging.googleapis.com/sourceLocation",
        "logging.googleapis.com/spanId",
        "logging.googleapis.com/trace",
        "logging.googleapis.com/trace_sampled",
    }
)


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object per record. Extras understood, as google-cloud-logging names them:
    `json_fields` (payload keys), `trace`, `span_id`, `trace_sampled`, `http_request`."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            message = f"{message}\n{record.stack_info}"
        fields = getattr(record, "json_fields", None) or {}
        line = {key: value for key, value in fields.items() if key not in RESERVED}
        line.update(
            {
                "message": message,
                "severity": record.levelname,
                "logging.googleapis.com/labels": {"python_logger": record.name},
                "logging.googleapis.com/trace": getattr(record, "trace", None) or "",
                "logging.googleapis.com/spanId": getattr(record, "span_id", None) or "",
                "logging.googleapis.com/trace_sampled": bool(getattr(record, "trace_sampled", False)),
                "logging.googleapis.com/sourceLocation": {
                    "line": record.lineno,
                    "file": record.pathname,
                    "function": record.funcName,
                },
                "httpRequest": getattr(record, "http_request", None) or {},
            }
        )
        return json.dumps(line, ensure_ascii=False, default=str)

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        kind, _, tb = ei
        frames = "".join(traceback.format_list(traceback.extract_tb(tb)))
        return f"Traceback ({WITHHELD}):\n{frames}{kind.__module__}.{kind.__qualname__}"


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Route every logger through one structured handler on stdout (or `stream`)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    for noisy in ("httpx", "urllib3", "filelock", "huggingface_hub", "transformers"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def log_event(
    logger: logging.Logger,
    level: int,
    message: str,
    *,
    trace: str | None = None,
    span_id: str | None = None,
    sampled: bool = False,
    http_request: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """One structured line: `fields` become jsonPayload keys (ids, counts, timings only)."""
    extra: dict[str, Any] = {"json_fields": fields}
    if trace:
        extra.update(trace=trace, span_id=span_id, trace_sampled=sampled)
    if http_request:
        extra["http_request"] = http_request
    logger.log(level, message, extra=extra, stacklevel=2)  # the caller's line, not this one


@dataclass
class PredictionTally:
    """What a log line says of the predictions it covers (an HTTP request's, a message's):
    counts only, the fields the log-based metrics read."""

    item_count: int = 0
    label_counts: Counter[str] = field(default_factory=Counter)
    low_confidence_count: int = 0
    queue_depth: int | None = None  # inputs already waiting for inference when this one joined

    def add(self, predictions: Sequence[Prediction], threshold: float) -> None:
        self.item_count += len(predictions)
        self.label_counts.update(prediction.label for prediction in predictions)
        self.low_confidence_count += sum(p.score < threshold for p in predictions)

    def fields(self, labels: Sequence[str]) -> dict[str, Any]:
        """`item_count` (and `queue_depth` where measured); then, when there were predictions,
        `label_counts` (every label, zeros included), `low_confidence_count` and
        `low_confidence_share`."""
        depth = {} if self.queue_depth is None else {"queue_depth": self.queue_depth}
        if not self.item_count:
            return {"item_count": 0, **depth}
        return {
            **depth,
            "item_count": self.item_count,
            "label_counts": {label: self.label_counts.get(label, 0) for label in labels},
            "low_confidence_count": self.low_confidence_count,
            "low_confidence_share": round(self.low_confidence_count / self.item_count, 4),
        }
