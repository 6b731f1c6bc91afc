"""Pub/Sub end to end on the real emulator: a push subscription delivering to the function
served by Functions Framework, results and errors topics read back with pull subscriptions.
Nothing may be lost: every valid message has its result (duplicates only with the same
body), every malformed one is on the errors topic with its original payload, also across a
SIGTERM and a restart in the middle of the stream."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.support.front_end import HoldingFrontEnd
from tests.support.pubsub_emulator import PubSubEmulator, emulator_missing
from tests.support.pubsub_world import (
    PROJECT,
    World,
    assert_no_text_in,
    check,
    expectations,
    sentence_messages,
    valid_payloads,
)
from tests.support.servers import free_port, pubsub_server

pytestmark = pytest.mark.skipif(emulator_missing() is not None, reason=str(emulator_missing()))


MALFORMED = [
    (b"not json", "not_json"),
    (b"\x00\x01binary", "not_json"),
    (b'"a string"', "wrong_shape"),
    (b"[]", "empty_message"),
    (b'{"sentence": "Patient denies chest pain."}', "unmarked_sentence"),
    (b'{"sentence": "Denies [entity] pain."}', "marker_count"),
    (b'{"text": "No fever.", "entities": [{"start": 3, "end": 99}]}', "span_out_of_range"),
    (b'{"text": "No fever.", "entities": [{"start": "3", "end": 8}]}', "wrong_shape"),
    (json.dumps([{"sentence": "Denies [entity] pain [entity]."}] * 6).encode(), "too_many_items"),
    (json.dumps({"sentence": "Denies [entity] pain [entity]. " + "x" * 5000}).encode(), "too_large"),
]


@pytest.fixture
def served(world: World, emulator: PubSubEmulator, baked_model: Path, tmp_path: Path):
    """The function serving this test's topics, ready to take pushes."""
    server = pubsub_server(world.env(emulator, baked_model), tmp_path / "ff.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_every_message_ends_on_the_results_or_the_errors_topic(world: World, served) -> None:
    world.push_to(served.url + "/")
    valid = valid_payloads(300)
    bad = MALFORMED * 3  # 30 malformed messages
    ids = world.publish([data for data, _ in valid] + [data for data, _ in bad])
    expected_valid, sizes = expectations(ids, valid)
    expected_bad = dict(zip(ids[len(valid) :], bad, strict=True))
    results, errors = defaultdict(list), defaultdict(list)
    world.collect(len(ids), results, errors)
    check(expected_valid, sizes, expected_bad, results, errors)
    logs = served.logs()
    assert logs.count('"outcome": "published"') >= 300 and logs.count('"outcome": "rejected"') >= 30
    assert_no_text_in(logs, valid[:50])  # message ids, never text


def test_nothing_is_lost_across_a_sigterm_and_a_restart(
    world: World, emulator: PubSubEmulator, baked_model: Path, tmp_path: Path
) -> None:
    """Pushes go through a stand-in for Cloud Run's front end, which holds a request while no
    instance is ready instead of refusing it (tests/support/front_end.py)."""
    port = free_port()
    env = world.env(emulator, baked_model)
    front_end = HoldingFrontEnd(port).start()
    first = pubsub_server(env, tmp_path / "first.log", port)
    first.wait_ready()
    world.push_to(front_end.url + "/")
    valid = sentence_messages(300)  # five sentences each: still flowing at the SIGTERM
    ids = world.publish([data for data, _ in valid[:280]])
    results, errors = defaultdict(list), defaultdict(list)
    world.collect(1, results, errors, timeout=120)  # the stream is flowing
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(60) == 0  # gunicorn drains in-flight deliveries, then exits 0
    first.stop()
    # Published while no instance runs: the front end holds these pushes until one does.
    ids += world.publish([data for data, _ in valid[280:]])
    time.sleep(2)
    second = pubsub_server(env, tmp_path / "second.log", port)
    try:
        second.wait_ready()
        world.collect(len(ids), results, errors)
    finally:
        second.stop()
        front_end.stop()
    expected, sizes = expectations(ids, valid)
    check(expected, sizes, {}, results, errors)
    assert '"outcome": "published"' in second.logs()  # the restart had work left to do


def test_an_eventarc_binary_cloudevent_is_taken_too(world: World, served) -> None:
    import base64

    payload = json.dumps({"id": "eventarc-1", "sentence": "Denies [entity] fever [entity]."}).encode()
    body = {
        "message": {
            "data": base64.b64encode(payload).decode(),
            "messageId": "ea-42",
            "attributes": {"origin": "test"},
            "publishTime": "2026-11-26T00:00:00Z",
        },
        "subscription": "projects/test-project/subscriptions/eventarc",
    }
    headers = {
        "ce-id": "ea-42",
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": f"//pubsub.googleapis.com/{world.topics['requests']}",
        "Content-Type": "application/json",
    }
    assert httpx.post(served.url + "/", json=body, headers=headers, timeout=30).status_code == 200
    results, errors = defaultdict(list), defaultdict(list)
    world.collect(1, results, errors, timeout=60)
    ((data, attributes),) = results["ea-42"]
    assert json.loads(data)["items"][0]["id"] == "eventarc-1" and attributes == {"source_message_id": "ea-42"}


def test_serving_pubsub_without_its_topics_refuses_to_start(baked_model: Path, tmp_path: Path) -> None:
    server = pubsub_server(
        {"MODEL_DIR": str(baked_model), "GOOGLE_CLOUD_PROJECT": PROJECT}, tmp_path / "ff.log"
    )
    server.refuses_to_start("predict_pubsub needs RESULTS_TOPIC, ERRORS_TOPIC", timeout=60)


def test_the_local_stacks_setup_job_refuses_real_pubsub() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PUBSUB_EMULATOR_HOST"}
    run = subprocess.run(
        [sys.executable, "-m", "function.events.emulator_setup"], env=env, capture_output=True, text=True
    )
    assert run.returncode != 0
    assert "PUBSUB_EMULATOR_HOST is not set" in run.stderr


def test_the_local_stacks_setup_job_creates_what_compose_needs_twice_over(emulator: PubSubEmulator) -> None:
    """python -m function.events.emulator_setup (compose.yaml's one-shot job) against the real
    emulator: topics, the push subscription with its dead-letter policy, the pull subscriptions;
    a second run finds them and succeeds (compose may run it again)."""
    project = f"setup-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": emulator.host, "GOOGLE_CLOUD_PROJECT": project,
           "PUSH_ENDPOINT": "http://127.0.0.1:9/"}  # fmt: skip
    for attempt in ("created", "found"):
        run = subprocess.run(
            [sys.executable, "-m", "function.events.emulator_setup"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.count(f"emulator_setup: {attempt}") == 8  # 4 topics, 4 subscriptions
    base = f"http://{emulator.host}/v1/projects/{project}"
    topics = {t["name"].rsplit("/", 1)[1] for t in httpx.get(f"{base}/topics").json()["topics"]}
    assert topics == {"assertion-requests", "assertion-results", "assertion-errors", "assertion-dead-letter"}
    push = httpx.get(f"{base}/subscriptions/assertion-requests-push").json()
    assert push["pushConfig"]["pushEndpoint"] == "http://127.0.0.1:9/"
    assert push["deadLetterPolicy"]["maxDeliveryAttempts"] == 5
    # The README's recipe: publish with curl's request, read back from a pull subscription.
    data = base64.b64encode(b'{"id": "s1", "sentence": "Denies [entity] fever [entity]."}').decode()
    published = httpx.post(f"{base}/topics/assertion-results:publish", json={"messages": [{"data": data}]})
    assert published.status_code == 200
    pulled = httpx.post(f"{base}/subscriptions/assertion-results-pull:pull", json={"maxMessages": 10}).json()
    assert [m["message"]["data"] for m in pulled["receivedMessages"]] == [data]
