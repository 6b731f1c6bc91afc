"""SQS for the tests: moto's server stands in for it (SQS cannot be reached from here and has
no emulator), and records are shaped as Lambda's SQS event source mapping delivers them."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.servers import free_port

# Credentials moto accepts; nothing here reaches AWS.
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free local port; yields its URL (for AWS_ENDPOINT_URL_SQS,
    AWS_ENDPOINT_URL_SECRETS_MANAGER, ...)."""
    moto_server = pytest.importorskip(
        "moto.server", reason="moto[server] (requirements-dev.txt) is not installed"
    )
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._port}"
    finally:
        server.stop()


def record(body: str, message_id: str | None = None, **attributes: str) -> dict:
    """One record as Lambda's SQS event source mapping delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764115200000"},
        "messageAttributes": {
            k: {"stringValue": v, "dataType": "String", "stringListValues": [], "binaryListValues": []}
            for k, v in attributes.items()
        },
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:assertion-requests",
        "awsRegion": "us-east-1",
    }


moto_sqs = moto_server
