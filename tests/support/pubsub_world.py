"""One test's world on the Pub/Sub emulator: request, results, errors and dead-letter topics,
named uniquely, with pull subscriptions to read them back; the payloads the tests publish, and
the check that nothing was lost."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.models import calibration_sentences, negex_rows
from tests.support.pubsub_emulator import PubSubEmulator
from tests.support.push_relay import PushRelay

PROJECT = "test-project"
LIMITS = {"MAX_BATCH_SIZE": "5", "MAX_BODY_BYTES": "4096"}


class World:
    """Topics and subscriptions of one test, named uniquely, on the emulator. `dead` is the
    dead-letter topic (`relay_to`)."""

    def __init__(self, emulator: PubSubEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
        from google.cloud import pubsub_v1

        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        tag = uuid.uuid4().hex[:8]
        self.topics = {
            name: f"projects/{PROJECT}/topics/{name}-{tag}"
            for name in ("requests", "results", "errors", "dead")
        }
        self.pulls = {
            name: f"projects/{PROJECT}/subscriptions/{name}-pull-{tag}"
            for name in ("results", "errors", "dead")
        }
        self.push = f"projects/{PROJECT}/subscriptions/push-{tag}"
        for topic in self.topics.values():
            self.publisher.create_topic(name=topic)
        for name, subscription in self.pulls.items():
            self.subscriber.create_subscription(name=subscription, topic=self.topics[name])

    def env(self, emulator: PubSubEmulator, baked_model: Path, host: str | None = None) -> dict[str, str]:
        """The function's environment; `host` is where it reaches Pub/Sub (the emulator's)."""
        return {
            "MODEL_DIR": str(baked_model),
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "RESULTS_TOPIC": self.topics["results"].rsplit("/", 1)[1],  # a topic id
            "ERRORS_TOPIC": self.topics["errors"],  # a full name
            "PUBSUB_EMULATOR_HOST": host or emulator.host,
            **LIMITS,
        }

    def push_to(self, url: str) -> None:
        self.subscriber.create_subscription(
            request={
                "name": self.push,
                "topic": self.topics["requests"],
                "push_config": {"push_endpoint": url},
                "ack_deadline_seconds": 20,
                "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 5}},
            }
        )

    def relay_to(self, url: str, dead_letter_after: int) -> PushRelay:
        """Push delivery with a dead-letter policy, which the emulator applies to pull
        subscriptions only: a pull subscription with the policy, and a relay that pushes what
        it pulls (tests/support/push_relay.py). Stop the relay when done."""
        name = f"{self.push}-relayed"
        self.subscriber.create_subscription(
            request={
                "name": name,
                "topic": self.topics["requests"],
                "ack_deadline_seconds": 20,
                "dead_letter_policy": {
                    "dead_letter_topic": self.topics["dead"],
                    "max_delivery_attempts": dead_letter_after,
                },
            }
        )
        return PushRelay(self.subscriber, name, url).start()

    def publish(self, payloads: list[bytes]) -> list[str]:
        futures = [self.publisher.publish(self.topics["requests"], data, origin="test") for data in payloads]
        return [future.result(30) for future in futures]

    def drain(self, name: str, into: dict[str, list]) -> int:
        return drain(self.subscriber, self.pulls[name], into)

    def dead_letters(self, expected: int, timeout: float = 180) -> list[tuple[bytes, dict[str, str]]]:
        """The messages on the dead-letter topic (their payload and attributes as published)."""
        found: list[tuple[bytes, dict[str, str]]] = []
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            received = pull_and_ack(self.subscriber, self.pulls["dead"])
            if not received:
                time.sleep(0.5)
            found += [(message.data, dict(message.attributes)) for message in received]
        return found

    def collect(self, expected: int, results: dict, errors: dict, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while len(results) + len(errors) < expected and time.monotonic() < deadline:
            if not (self.drain("results", results) + self.drain("errors", errors)):
                time.sleep(0.5)


def pull_and_ack(subscriber: Any, subscription: str) -> list[Any]:
    """One pull of up to 500 messages, acknowledged; the messages."""
    response = subscriber.pull(subscription=subscription, max_messages=500, timeout=10)
    if response.received_messages:
        subscriber.acknowledge(
            subscription=subscription, ack_ids=[r.ack_id for r in response.received_messages]
        )
    return [received.message for received in response.received_messages]


def drain(subscriber: Any, subscription: str, into: dict[str, list]) -> int:
    """Pull the function's answers, keyed by the message they answer (`source_message_id`)."""
    messages = pull_and_ack(subscriber, subscription)
    for message in messages:
        attributes = dict(message.attributes)
        into[attributes["source_message_id"]].append((message.data, attributes))
    return len(messages)


def sentence_messages(count: int, per_message: int = 5) -> list[tuple[bytes, None]]:
    """Messages of `per_message` marked sentences each, with default item ids: enough work a
    message that a stream is still flowing when a fault or a SIGTERM comes."""
    sentences = [s for s in calibration_sentences() if len(s) < 300]
    return [
        (
            json.dumps(
                [{"sentence": sentences[(n + k) % len(sentences)]} for k in range(per_message)]
            ).encode(),
            None,
        )
        for n in range(count)
    ]


def assert_no_text_in(logs: str, messages: Sequence[tuple[bytes, object]]) -> None:
    """None of these messages' texts (sentences or span texts) is in the logs."""
    for data, _ in messages:
        body = json.loads(data)
        for item in body if isinstance(body, list) else [body]:
            assert (item.get("sentence") or item["text"]) not in logs


def valid_payloads(count: int) -> list[tuple[bytes, list[str]]]:
    """(payload, item ids or None for default ids) of every valid kind."""
    sentences = [s for s in calibration_sentences() if len(s) < 300]
    rows = [r for r in negex_rows() if len(r["text"]) < 400] or [
        {"text": "No fever, possible rash.", "start": 3, "end": 8}
    ]
    out = []
    for n in range(count):
        kind = n % 3
        if kind == 0:
            out.append(({"id": f"s-{n}", "sentence": sentences[n % len(sentences)]}, [f"s-{n}"]))
        elif kind == 1:
            out.append(([{"sentence": sentences[(n + k) % len(sentences)]} for k in range(1 + n % 3)], None))
        else:
            row = rows[n % len(rows)]
            out.append(
                (
                    {
                        "id": f"t-{n}",
                        "text": row["text"],
                        "entities": [{"start": row["start"], "end": row["end"]}],
                    },
                    [f"t-{n}"],
                )
            )
    return [(json.dumps(body).encode(), ids) for body, ids in out]


def check(
    valid: dict[str, list[str] | None],
    sizes: dict[str, int],
    malformed: dict[str, tuple[bytes, str]],
    results: dict,
    errors: dict,
) -> None:
    missing = [m for m in valid if m not in results] + [m for m in malformed if m not in errors]
    assert not missing, f"{len(missing)} messages have no outcome"
    for message_id, ids in valid.items():
        bodies = {data for data, _ in results[message_id]}
        assert len(bodies) == 1, "a redelivered message must give the same body"
        body = json.loads(bodies.pop())
        assert body["source_message_id"] == message_id
        got = [item["id"] for item in body["items"]]
        assert got == (ids or [f"{message_id}:{n}" for n in range(sizes[message_id])])
        assert all(len(item["predictions"]) == 1 for item in body["items"])
        assert message_id not in errors
    for message_id, (payload, code) in malformed.items():
        (data, attributes), *_ = errors[message_id]
        assert data == payload and attributes["error_code"] == code and attributes["origin"] == "test"
        assert message_id not in results


def expectations(ids: list[str], valid: list[tuple[bytes, list[str] | None]]) -> tuple[dict, dict]:
    """Per message id: the item ids its result must carry (None: defaults), and its size."""
    pairs = list(zip(ids, valid, strict=False))
    return (
        {mid: item_ids for mid, (_, item_ids) in pairs},
        {mid: len(json.loads(data)) if data.startswith(b"[") else 1 for mid, (data, _) in pairs},
    )
