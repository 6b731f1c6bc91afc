"""Pub/Sub on Cloud Run: CloudEvents in, results and rejected messages out.

Served by Functions Framework's CloudEvent target on its Flask stack, which takes both
shapes a message arrives in: a binary-mode CloudEvent (Eventarc), and the plain push
envelope of a push subscription (``{"message": {...}, "subscription": ...}``), which only
that stack converts to a CloudEvent (its ASGI stack answers 400, and Pub/Sub would
redeliver forever). Returning acknowledges; raising `RetryLater` answers 500, so Pub/Sub
redelivers until its dead-letter policy takes the message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from function.core.classifier import AssertionClassifier
from function.core.messages import Envelope, Lazy, MessageProcessor
from function.startup.settings import Settings

PUBLISH_TIMEOUT_SECONDS = 30.0


def topic_path(project: str, topic: str) -> str:
    """A topic id in the service's project, or a full ``projects/P/topics/T`` name as is."""
    return topic if topic.startswith("projects/") else f"projects/{project}/topics/{topic}"


def envelope(event: Any) -> Envelope:
    """The Pub/Sub message a CloudEvent carries. A CloudEvent that carries none yields an
    envelope of its raw data, which the processor then rejects as not JSON of our shape."""
    data = event.data if isinstance(event.data, dict) else {}
    message = data.get("message") if isinstance(data.get("message"), dict) else None
    if message is None:
        raw = event.data if isinstance(event.data, bytes) else str(event.data).encode()
        return Envelope(str(event["id"]), raw, {})
    message_id = str(message.get("messageId") or message.get("message_id") or event["id"])
    try:
        payload = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        payload = str(message.get("data")).encode()
    attributes = message.get("attributes") or {}
    return Envelope(message_id, payload, {str(k): str(v) for k, v in attributes.items()})


class PubSubSink:
    """Publishes with google-cloud-pubsub (the emulator when PUBSUB_EMULATOR_HOST is set),
    batched by the client, and waits for the server's confirmation."""

    def __init__(self, project: str, results_topic: str, errors_topic: str) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # a namespace package

        self._client = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=100, max_latency=0.01)
        )
        self._results = topic_path(project, results_topic)
        self._errors = topic_path(project, errors_topic)

    def publish_result(self, body: bytes, attributes: dict[str, str]) -> None:
        self._client.publish(self._results, body, **attributes).result(PUBLISH_TIMEOUT_SECONDS)

    def publish_error(self, body: bytes, attributes: dict[str, str]) -> None:
        self._client.publish(self._errors, body, **attributes).result(PUBLISH_TIMEOUT_SECONDS)


def missing_configuration(settings: Settings) -> list[str]:
    """What a Pub/Sub-serving process cannot run without."""
    needed = {"GOOGLE_CLOUD_PROJECT": settings.project_id, "RESULTS_TOPIC": settings.results_topic,
              "ERRORS_TOPIC": settings.errors_topic}  # fmt: skip
    return [name for name, value in needed.items() if not value]


def pubsub_processor(settings: Settings, classifier: Callable[[], AssertionClassifier]) -> MessageProcessor:
    sink = Lazy(lambda: PubSubSink(settings.project_id, settings.results_topic, settings.errors_topic))
    return MessageProcessor(classifier, sink, source="pubsub", limits=settings.message_limits())
