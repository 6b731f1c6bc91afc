"""SQS on AWS Lambda: a batch of records in, a partial batch response out.

Each record is one message of the contract in `function.messages`. Records that succeed,
and records that can never succeed (parked whole on the errors queue), are acknowledged;
a record that may pass on retry is named in ``batchItemFailures`` so SQS delivers it again
(and, after maxReceiveCount, to the queue's dead-letter queue) while the rest are deleted.
The function's event source mapping must enable ReportBatchItemFailures.
"""

from __future__ import annotations

from typing import Any

from function.messages import Envelope, MessageProcessor, RetryLater


def is_sqs_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and all(r.get("eventSource") == "aws:sqs" for r in records)


def envelope(record: dict[str, Any]) -> Envelope:
    attributes = {
        name: str(value.get("stringValue", ""))
        for name, value in (record.get("messageAttributes") or {}).items()
        if value.get("dataType", "String").startswith(("String", "Number"))
    }
    return Envelope(record["messageId"], (record.get("body") or "").encode(), attributes)


class SqsEvents:
    def __init__(self, processor: MessageProcessor) -> None:
        self.processor = processor

    @staticmethod
    def infer(event: Any) -> bool:
        return is_sqs_event(event)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
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
