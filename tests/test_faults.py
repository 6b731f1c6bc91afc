"""Faults, nothing lost: Pub/Sub unreachable or hung in the middle of a stream, the serving
worker killed with SIGKILL mid-burst, a results topic that refuses publishes, a full queue.

Everything here is real: the Pub/Sub emulator, Functions Framework servers on local ports
(gunicorn and its worker), real SIGKILLs and real broken TCP connections. The rule each test
checks: a message is acknowledged only once its result is published (so every message ends
on the results topic, or on the dead-letter topic by policy), and an HTTP caller gets an
answer equal to the reference or an error, never a wrong answer.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from function.events.pubsub import PUBLISH_TIMEOUT_SECONDS
from tests.support.models import calibration_sentences
from tests.support.pubsub_emulator import PubSubEmulator, emulator_missing
from tests.support.pubsub_world import (
    World,
    assert_no_text_in,
    check,
    expectations,
    sentence_messages,
    valid_payloads,
)
from tests.support.references import Reference
from tests.support.servers import ServedProcess, child_pids, functions_framework_server, pubsub_server
from tests.support.tcp_proxy import CuttableProxy

needs_emulator = pytest.mark.skipif(emulator_missing() is not None, reason=str(emulator_missing()))
TOLERANCE = 1e-4  # fp32 served in batches against the pipeline one sentence at a time
SENTENCES = [s for s in calibration_sentences() if len(s) < 300][:40]
FP32 = {"BACKEND": "onnx", "PRECISION": "fp32"}


def worker_pids(server: ServedProcess) -> list[int]:
    """The gunicorn workers under a Functions Framework master."""
    return child_pids(server.process.pid)


def wait_for_new_worker(server: ServedProcess, old: list[int], timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = worker_pids(server)
        if now and not set(now) & set(old):
            return now
        time.sleep(0.1)
    raise AssertionError(f"no new worker after {timeout} s:\n{server.logs()[-2000:]}")


def assert_equal_to_reference(body: dict, reference: Reference, sentence: str) -> None:
    for label, score in reference.scores(sentence).items():
        assert body["scores"][label] == pytest.approx(score, abs=TOLERANCE), (label, body)
    assert body["label"] == max(body["scores"], key=body["scores"].get)


def published(server: ServedProcess) -> int:
    return server.logs().count('"outcome": "published"')


def flowing(server: ServedProcess, count: int = 20, timeout: float = 120) -> None:
    """Wait until the function has published `count` results: the stream is on."""
    deadline = time.monotonic() + timeout
    while published(server) < count:
        assert time.monotonic() < deadline, f"the stream never started:\n{server.logs()[-2000:]}"
        time.sleep(0.02)


# --- Pub/Sub faults --------------------------------------------------------------------------


def stream_with_fault(world: World, server: ServedProcess, fault: Callable[[], None]) -> str:
    """Push 600 five-sentence messages to `server`, run `fault` once the stream is on, and
    check that every message ends with its result (duplicates only with the same body).
    Returns the function's logs."""
    try:
        server.wait_ready()
        world.push_to(server.url + "/")
        valid = sentence_messages(600)
        ids = world.publish([data for data, _ in valid])
        flowing(server)
        fault()
        assert published(server) < len(ids), "the stream had ended before the fault"
        results, errors = defaultdict(list), defaultdict(list)
        world.collect(len(ids), results, errors)
        logs = server.logs()
    finally:
        server.stop()
    expected, sizes = expectations(ids, valid)
    check(expected, sizes, {}, results, errors)
    assert_no_text_in(logs, valid[:20])
    return logs


@needs_emulator
def test_pubsub_unreachable_mid_stream_acknowledges_only_what_was_published(
    world: World, emulator: PubSubEmulator, baked_model: Path, tmp_path: Path
) -> None:
    """The function reaches Pub/Sub through a proxy that is cut for forty seconds mid-stream
    (connections reset, new ones refused: Pub/Sub gone, from the function's side). The
    emulator keeps no state across a real restart (its topics and messages would be gone, which
    tests the emulator, not us), so it is the network path that stops and comes back."""
    proxy = CuttableProxy("127.0.0.1", emulator.port).start()
    server = pubsub_server(world.env(emulator, baked_model, host=proxy.host), tmp_path / "ff.log")

    def cut_for_a_while() -> None:
        proxy.cut()
        time.sleep(2)
        stalled_at = published(server)
        time.sleep(PUBLISH_TIMEOUT_SECONDS + 8)  # past the publish timeout: publishes fail
        assert published(server) == stalled_at, "a result was confirmed while Pub/Sub was unreachable"
        proxy.restore()

    try:
        logs = stream_with_fault(world, server, cut_for_a_while)
    finally:
        proxy.stop()
    # The cut hit publishes: those messages were answered 500 and delivered again.
    assert '"error_code": "results_publish_failed"' in logs


@needs_emulator
def test_pubsub_hung_mid_stream_loses_nothing(
    world: World, emulator: PubSubEmulator, baked_model: Path, tmp_path: Path
) -> None:
    """The emulator itself stopped dead (SIGSTOP) for fifteen seconds mid-stream, then
    continued: publishes hang instead of failing, pushes stop, deadlines run out."""

    def freeze_for_a_while() -> None:
        emulator.freeze()
        try:
            time.sleep(15)
        finally:
            emulator.thaw()

    server = pubsub_server(world.env(emulator, baked_model), tmp_path / "ff.log")
    stream_with_fault(world, server, freeze_for_a_while)


@needs_emulator
def test_a_results_topic_refusing_publishes_dead_letters_every_message(
    world: World, emulator: PubSubEmulator, baked_model: Path, tmp_path: Path
) -> None:
    """The results topic is gone (deleted: every publish is refused with NOT_FOUND). No message
    may be acknowledged: each is delivered again until the subscription's dead-letter policy
    (5 deliveries) moves it, whole, to the dead-letter topic. Delivery goes through a relay
    (tests/support/push_relay.py): the emulator applies dead-letter policies to pull
    subscriptions only."""
    server = pubsub_server(world.env(emulator, baked_model), tmp_path / "ff.log")
    try:
        server.wait_ready()
        world.publisher.delete_topic(topic=world.topics["results"])
        relay = world.relay_to(server.url + "/", dead_letter_after=5)
        valid = valid_payloads(12)
        ids = world.publish([data for data, _ in valid])
        try:
            dead = world.dead_letters(len(ids))
        finally:
            relay.stop()
        logs = server.logs()
    finally:
        server.stop()
    assert sorted(data for data, _ in dead) == sorted(data for data, _ in valid)
    assert all(attributes.get("origin") == "test" for _, attributes in dead)  # the message as sent
    attempts = defaultdict(list)
    for message_id, attempt, status in relay.deliveries:
        attempts[message_id].append((attempt, status))
    assert sorted(attempts) == sorted(ids)
    for tried in attempts.values():  # five deliveries each, every one refused: never acknowledged
        assert sorted(tried) == [(n, 500) for n in range(1, 6)], tried
    retries = [line for line in logs.splitlines() if '"error_code": "results_publish_failed"' in line]
    assert len(retries) >= 5 * len(ids), "each message must be refused five times before it is moved"
    assert '"outcome": "published"' not in logs
    assert all('"cause": "NotFound"' in line for line in retries)  # the class, for on-call
    assert "Traceback" not in logs  # a redelivery is a log line of ours, not an ERROR traceback
    errors: dict[str, list] = defaultdict(list)
    assert world.drain("errors", errors) == 0  # a publish failure is not the sender's error


@needs_emulator
def test_sigkill_of_the_worker_mid_stream_loses_no_message(
    world: World, emulator: PubSubEmulator, baked_model: Path, tmp_path: Path
) -> None:
    """The worker killed with SIGKILL (as the kernel's OOM killer does) while it holds
    deliveries: gunicorn starts a new one, and what the dead one held is pushed again."""
    server = pubsub_server(world.env(emulator, baked_model), tmp_path / "ff.log")

    def kill_the_worker() -> None:
        killed = worker_pids(server)
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        wait_for_new_worker(server, killed)
        assert server.process.poll() is None, "the service did not recover by itself"

    logs = stream_with_fault(world, server, kill_the_worker)
    assert "was sent SIGKILL" in logs  # gunicorn saw the kill and started a new worker


# --- HTTP faults -----------------------------------------------------------------------------


def burst(url: str, bodies: list[tuple[str, dict]], concurrency: int, during=None) -> list:
    """POST every (path, body) from `concurrency` threads; `during(done_count)` runs in the
    caller's thread while the burst is on. Returns (path, body, status or exception, answer)."""
    outcomes: list = []
    lock = threading.Lock()
    queue = list(reversed(bodies))

    def caller() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    path, body = queue.pop()
                try:
                    reply = client.post(path, json=body)
                    outcome = (path, body, reply.status_code, reply.headers, reply.content)
                except httpx.HTTPError as error:
                    outcome = (path, body, error, {}, b"")
                with lock:
                    outcomes.append(outcome)

    with ThreadPoolExecutor(concurrency) as pool:
        running = [pool.submit(caller) for _ in range(concurrency)]
        if during is not None:
            during(lambda: len(outcomes))
        for future in running:
            future.result()
    return outcomes


def test_sigkill_of_the_http_worker_mid_burst_gives_errors_never_wrong_answers(
    baked_model: Path, reference: Reference, tmp_path: Path
) -> None:
    server = functions_framework_server({"MODEL_DIR": str(baked_model), **FP32}, tmp_path / "ff.log")
    server.wait_ready()
    try:
        killed: list[int] = []

        def kill_after_some(done) -> None:
            while done() < 60:
                time.sleep(0.01)
            killed.extend(worker_pids(server))
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

        bodies = [("/predict", {"sentence": SENTENCES[n % len(SENTENCES)]}) for n in range(600)]
        outcomes = burst(server.url, bodies, 16, during=kill_after_some)
        wait_for_new_worker(server, killed)
        server.wait_ready()
        after = [
            httpx.post(server.url + "/predict", json={"sentence": s}, timeout=60) for s in SENTENCES[:10]
        ]
        assert server.process.poll() is None, "the service did not recover by itself"
    finally:
        server.stop()
    failed = [o for o in outcomes if not isinstance(o[2], int) or o[2] >= 500]
    answered = [o for o in outcomes if isinstance(o[2], int) and o[2] == 200]
    assert failed, "the SIGKILL came when no request was in flight"
    assert len(answered) + len(failed) == len(bodies), "a request got an answer that is neither"
    for _, body, _, _, content in answered:  # every answer given, before or after the kill, is right
        assert_equal_to_reference(json.loads(content), reference, body["sentence"])
    for reply, sentence in zip(after, SENTENCES[:10], strict=True):
        assert reply.status_code == 200
        assert_equal_to_reference(reply.json(), reference, sentence)


def test_a_full_queue_sheds_with_503_and_recovers_when_load_falls(
    baked_model: Path, reference: Reference, tmp_path: Path
) -> None:
    env = {"MODEL_DIR": str(baked_model), **FP32, "MAX_BATCH_SIZE": "4", "QUEUE_MAX_ITEMS": "8"}
    server = functions_framework_server(env, tmp_path / "ff.log")
    server.wait_ready()
    try:
        batch = {"sentences": SENTENCES[:4]}
        outcomes = burst(server.url, [("/predict/batch", batch)] * 400, 48)
        # Load falls: one caller at a time is served at once, with no pause to recover in.
        after = [httpx.post(server.url + "/predict/batch", json=batch, timeout=60) for _ in range(10)]
        logs = server.logs()
    finally:
        server.stop()
    statuses = [o[2] for o in outcomes]
    assert all(isinstance(status, int) for status in statuses), "a connection failed under load"
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    shed = [o for o in outcomes if o[2] == 503]
    assert shed, "48 callers of 4 sentences never filled a queue of 8"
    for _, _, _, headers, content in shed:
        assert headers["retry-after"] == "1"
        assert json.loads(content)["error"]["code"] == "overloaded"
    for _, _, _, _, content in [o for o in outcomes if o[2] == 200]:
        for prediction, sentence in zip(json.loads(content)["predictions"], SENTENCES[:4], strict=True):
            assert_equal_to_reference(prediction, reference, sentence)
    assert [reply.status_code for reply in after] == [200] * 10
    for sentence in SENTENCES[:4]:
        assert sentence not in logs
