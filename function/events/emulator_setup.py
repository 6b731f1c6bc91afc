"""python -m function.events.emulator_setup: the local stack's one-shot job (compose.yaml).

Creates, on the Pub/Sub emulator named by PUBSUB_EMULATOR_HOST, what Terraform creates in a
project: the requests, results, errors and dead-letter topics, the push subscription that
delivers requests to the events function (PUSH_ENDPOINT), and pull subscriptions on the
results, errors and dead-letter topics for reading answers back. Idempotent: what exists is
left as it is. It refuses to run without PUBSUB_EMULATOR_HOST, so it can never create
anything in a real project. Waits up to SETUP_TIMEOUT seconds for the emulator to answer.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

TOPICS = ("REQUESTS_TOPIC", "RESULTS_TOPIC", "ERRORS_TOPIC", "DEAD_LETTER_TOPIC")
DEFAULTS = {
    "REQUESTS_TOPIC": "assertion-requests",
    "RESULTS_TOPIC": "assertion-results",
    "ERRORS_TOPIC": "assertion-errors",
    "DEAD_LETTER_TOPIC": "assertion-dead-letter",
}


def _name(kind: str, project: str, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{project}/{kind}/{name}"


def _create(call: Any, what: str, **request: Any) -> None:
    from google.api_core.exceptions import AlreadyExists

    try:
        call(request=request)
        print(f"emulator_setup: created {what}", flush=True)
    except AlreadyExists:
        print(f"emulator_setup: found {what}", flush=True)


def _wait_for_emulator(publisher: Any, project: str, timeout: float) -> None:
    from google.api_core.exceptions import GoogleAPICallError, RetryError

    deadline = time.monotonic() + timeout
    while True:
        try:
            list(publisher.list_topics(request={"project": f"projects/{project}"}, timeout=5))
            return
        except (GoogleAPICallError, RetryError) as error:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"emulator_setup: the emulator did not answer in {timeout:.0f} s: {error}"
                ) from None
            time.sleep(1)


def main() -> None:
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if not host:
        sys.exit("emulator_setup: PUBSUB_EMULATOR_HOST is not set; this job only ever talks to the emulator")
    project = os.environ.get("GOOGLE_CLOUD_PROJECT", "local-project")
    endpoint = os.environ.get("PUSH_ENDPOINT", "http://events:8080/")
    topics = {key: _name("topics", project, os.environ.get(key) or DEFAULTS[key]) for key in TOPICS}

    from google.cloud import pubsub_v1  # type: ignore[attr-defined]  # a namespace package

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    _wait_for_emulator(publisher, project, float(os.environ.get("SETUP_TIMEOUT", "120")))
    for topic in topics.values():
        _create(publisher.create_topic, topic, name=topic)
    push = _name("subscriptions", project, "assertion-requests-push")
    _create(
        subscriber.create_subscription,
        f"{push} -> {endpoint}",
        name=push,
        topic=topics["REQUESTS_TOPIC"],
        push_config={"push_endpoint": endpoint},
        ack_deadline_seconds=60,
        retry_policy={"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 10}},
        dead_letter_policy={"dead_letter_topic": topics["DEAD_LETTER_TOPIC"], "max_delivery_attempts": 5},
    )
    for key in ("RESULTS_TOPIC", "ERRORS_TOPIC", "DEAD_LETTER_TOPIC"):
        pull = _name("subscriptions", project, topics[key].rsplit("/", 1)[1] + "-pull")
        _create(subscriber.create_subscription, pull, name=pull, topic=topics[key])
    print(f"emulator_setup: ready on {host} (project {project})", flush=True)


if __name__ == "__main__":
    main()
