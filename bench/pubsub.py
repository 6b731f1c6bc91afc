"""Messages per second through the Pub/Sub path: the real emulator, a push subscription to
the function (`predict_pubsub`, onnx int8), results read back with a pull subscription.
Measured from the first publish to the last result received; the emulator, the publisher
and the function share the machine's cores."""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.pubsub_emulator import PubSubEmulator, emulator_missing
from tests.support.servers import pubsub_server


def messages_per_second(
    baked: Path, sentences: list[str], count: int = 600, per_message: int = 1
) -> dict | None:
    if emulator_missing():
        return None
    logs = Path(tempfile.mkdtemp(prefix="bench-pubsub-"))
    emulator = PubSubEmulator(logs / "emulator.log")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # a namespace package

    project, tag = "bench-project", uuid.uuid4().hex[:6]
    topics = {n: f"projects/{project}/topics/{n}-{tag}" for n in ("requests", "results", "errors")}
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    for topic in topics.values():
        publisher.create_topic(name=topic)
    pull = f"projects/{project}/subscriptions/results-{tag}"
    subscriber.create_subscription(name=pull, topic=topics["results"])
    env = {
        "MODEL_DIR": str(baked),
        "PRECISION": "int8",
        "GOOGLE_CLOUD_PROJECT": project,
        "RESULTS_TOPIC": topics["results"],
        "ERRORS_TOPIC": topics["errors"],
        "PUBSUB_EMULATOR_HOST": emulator.host,
    }
    server = pubsub_server(env, logs / "function.log")
    try:
        server.wait_ready()
        push = {
            "name": f"projects/{project}/subscriptions/push-{tag}",
            "topic": topics["requests"],
            "push_config": {"push_endpoint": server.url + "/"},
            "ack_deadline_seconds": 60,
        }
        subscriber.create_subscription(request=push)
        bodies = [
            json.dumps(
                [{"sentence": sentences[(n * per_message + k) % len(sentences)]} for k in range(per_message)]
            )
            for n in range(count)
        ]
        began = time.perf_counter()
        for future in [publisher.publish(topics["requests"], body.encode()) for body in bodies]:
            future.result(60)
        received: set[str] = set()
        deadline = time.monotonic() + 600
        while len(received) < count and time.monotonic() < deadline:
            response = subscriber.pull(subscription=pull, max_messages=1000, timeout=10)
            if response.received_messages:
                received.update(m.message.attributes["source_message_id"] for m in response.received_messages)
                subscriber.acknowledge(
                    subscription=pull, ack_ids=[m.ack_id for m in response.received_messages]
                )
        elapsed = time.perf_counter() - began
    finally:
        server.stop()
        emulator.stop()
    return {
        "messages": count,
        "per_message": per_message,
        "received": len(received),
        "messages_per_s": len(received) / elapsed,
        "sentences_per_s": len(received) * per_message / elapsed,
    }
