"""SQS on AWS Lambda: a batch of records in, a partial batch response out.

Each record is one message of the contract in `function.core.messages`. Records that succeed,
and records that can never succeed (parked whole on the errors queue), are acknowledged;
a record that may pass on retry is named in ``batchItemFailures`` so SQS delivers it again
(and, after maxReceiveCount, to the queue's dead-letter queue) while the rest are deleted.
The function's event source mapping must enable ReportBatchItemFailures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from function.core.classifier import AssertionClassifier
from function.core.logs import log_event
from function.core.messages import Envelope, Lazy, MessageProcessor, RetryLater
from function.startup.settings import Settings

log = logging.getLogger("function.messages")


def sqs_events(settings: Settings, classifier: Callable[[], AssertionClassifier]) -> SqsEvents:
    """The SQS handler with the service's limits, sending with boto3 (made on first use)."""
    sink = Lazy(lambda: SqsSink(settings.results_queue_url, settings.errors_queue_url))
    processor = MessageProcessor(classifier, sink, source="sqs", limits=settings.message_limits())
    return SqsEvents(processor, missing=missing_configuration(settings))


def missing_configuration(settings: Settings) -> list[str]:
    """What taking SQS batches needs. The same Lambda image may serve HTTP alone, so a
    missing queue is reported when a batch arrives, not at start."""
    needed = {"RESULTS_QUEUE_URL": settings.results_queue_url, "ERRORS_QUEUE_URL": settings.errors_queue_url}
    return [name for name, value in needed.items() if not value]


def is_sqs_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return False
    return all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)


def envelope(record: dict[str, Any]) -> Envelope:
    attributes = {
        name: str(value.get("stringValue", ""))
        for name, value in (record.get("messageAttributes") or {}).items()
        if value.get("dataType", "String").startswith(("String", "Number"))
    }
    return Envelope(record["messageId"], (record.get("body") or "").encode(), attributes)


class SqsEvents:
    """SQS batches (Lambda's event source mapping)."""

    def __init__(self, processor: MessageProcessor, missing: Sequence[str] = ()) -> None:
        self.processor, self.missing = processor, tuple(missing)

    @staticmethod
    def can_handle(event: Any) -> bool:
        return is_sqs_event(event)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        if self.missing:  # no inference that could not be delivered: return the batch, say why
            log_event(
                log,
                logging.ERROR,
                f"sqs batch returned for redelivery: {' and '.join(self.missing)} not set",
                event="message_batch",
                source="sqs",
                outcome="retry",
                error_code="not_configured",
                record_count=len(records),
            )
            return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in records]}
        failures = []
        for record in records:
            try:
                self.processor.handle(envelope(record))
            except RetryLater:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}


class SqsSink:
    """Sends with boto3 (AWS_ENDPOINT_URL_SQS points it elsewhere, e.g. a local stand-in)."""

    def __init__(self, results_queue_url: str, errors_queue_url: str) -> None:
        import boto3

        self._client = boto3.client("sqs")
        self._results, self._errors = results_queue_url, errors_queue_url

    def _send(self, queue_url: str, body: bytes, attributes: dict[str, str]) -> None:
        self._client.send_message(
            QueueUrl=queue_url,
            MessageBody=body.decode("utf-8", errors="replace"),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in list(attributes.items())[:10]  # SQS takes at most 10
                if value
            },
        )

    def publish_result(self, body: bytes, attributes: dict[str, str]) -> None:
        self._send(self._results, body, attributes)

    def publish_error(self, body: bytes, attributes: dict[str, str]) -> None:
        self._send(self._errors, body, attributes)
