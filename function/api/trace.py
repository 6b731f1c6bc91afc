"""Trace context from the headers Google's front ends and OpenTelemetry send, in the form
Cloud Logging correlates: ``projects/P/traces/T`` with a 16-hex-digit span id."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=([01]))?$")


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str | None
    sampled: bool

    def resource_name(self, project_id: str) -> str:
        return f"projects/{project_id}/traces/{self.trace_id}" if project_id else self.trace_id


def parse_trace(traceparent: str | None, cloud_trace: str | None) -> TraceContext | None:
    """W3C ``traceparent`` first, then ``X-Cloud-Trace-Context: TRACE/SPAN;o=1``."""
    if traceparent:
        match = _TRACEPARENT.match(traceparent.strip().lower())
        if match and match.group(1) != "0" * 32:
            return TraceContext(match.group(1), match.group(2), int(match.group(3), 16) & 1 == 1)
    if cloud_trace:
        match = _CLOUD_TRACE.match(cloud_trace.strip())
        if match:
            span = match.group(2)
            span_hex = f"{int(span):016x}" if span and int(span) < 1 << 64 else None
            return TraceContext(match.group(1).lower(), span_hex, match.group(3) == "1")
    return None
