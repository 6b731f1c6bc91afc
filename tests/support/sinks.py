"""A sink for the message processor that records what a transport would publish."""

from __future__ import annotations


class RecordingSink:
    """Stands in for a transport client (the edge these tests do not reach)."""

    def __init__(self) -> None:
        self.results: list[tuple[bytes, dict]] = []
        self.errors: list[tuple[bytes, dict]] = []
        self.fail_results = self.fail_errors = False

    def publish_result(self, body: bytes, attributes: dict) -> None:
        if self.fail_results:
            raise ConnectionError("results topic unreachable")
        self.results.append((body, attributes))

    def publish_error(self, body: bytes, attributes: dict) -> None:
        if self.fail_errors:
            raise ConnectionError("errors topic unreachable")
        self.errors.append((body, attributes))
