"""Structured JSON logs on stdout, one line per event, in the format Cloud Logging reads
(severity, message, trace, httpRequest), written by google-cloud-logging's own
StructuredLogHandler.

Patient text must never reach a log line. Code here logs counts, lengths, ids and timings
only; as a second line of defence, exception messages (which may quote an input) are
withheld from tracebacks: a traceback keeps its frames and the exception's type.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import IO, Any

WITHHELD = "message withheld: it may quote patient data"


class PhiSafeFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        kind, _, tb = ei
        frames = "".join(traceback.format_list(traceback.extract_tb(tb)))
        return f"Traceback ({WITHHELD}):\n{frames}{kind.__module__}.{kind.__qualname__}"

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return stack_info


def configure_logging(level: str = "INFO", project_id: str = "", stream: IO[str] | None = None) -> None:
    """Route every logger through one structured handler on stdout (or `stream`)."""
    from google.cloud.logging_v2.handlers import StructuredLogHandler

    handler = StructuredLogHandler(project_id=project_id or None, stream=stream or sys.stdout)
    handler.setFormatter(PhiSafeFormatter())
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
