"""The local stack (compose.yaml), brought up with podman-compose as a user would: the HTTP
function answers, the one-shot job creates the topics and the push subscription, and messages
published into the emulator come back on the results and errors topics.

Google's emulators image (compose.yaml's default) cannot be pulled here: the emulator image is
built from Debian's JRE and the host's own gcloud emulator (tests/support/emulator/) and passed
in through PUBSUB_EMULATOR_IMAGE and PUBSUB_EMULATOR_COMMAND, the variables a user has too.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.images import CONTAINERS_CONF, base_image, podman, podman_missing
from tests.support.pubsub_world import assert_no_text_in, check, drain, expectations, valid_payloads
from tests.support.servers import ROOT, free_port

PROJECT = "local-project"
EMULATOR_COMMAND = "/opt/pubsub-emulator/bin/cloud-pubsub-emulator --host=0.0.0.0 --port=8085"
MALFORMED = [(b"not json", "not_json"), (b'{"sentence": "Denies chest pain."}', "unmarked_sentence")]


def podman_compose() -> str | None:
    return shutil.which("podman-compose", path=str(Path(sys.executable).parent)) or shutil.which(
        "podman-compose"
    )


def host_emulator() -> Path | None:
    """The Pub/Sub emulator of the host's gcloud installation."""
    if shutil.which("gcloud") is None:
        return None
    root = subprocess.run(
        ["gcloud", "info", "--format=value(installation.sdk_root)"], capture_output=True, text=True
    ).stdout.strip()
    found = Path(root) / "platform" / "pubsub-emulator"
    return found if (found / "bin" / "cloud-pubsub-emulator").is_file() else None


def missing() -> str | None:
    if podman_missing():
        return podman_missing()
    if podman_compose() is None:
        return "podman-compose is not installed (pip install -r requirements-dev.txt)"
    if host_emulator() is None:
        return "gcloud's Pub/Sub emulator is not installed (the emulator image is built from it)"
    return None


pytestmark = [pytest.mark.image, pytest.mark.skipif(missing() is not None, reason=str(missing()))]


@pytest.fixture(scope="module")
def emulator_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("emulator-image")
    context = work / "context"
    shutil.copytree(ROOT / "tests" / "support" / "emulator", context)
    shutil.copytree(host_emulator(), context / "pubsub-emulator", symlinks=True)
    tag = f"localhost/pubsub-emulator:test-{uuid.uuid4().hex[:6]}"
    cafile = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    podman("build", "--format", "docker", "--network", "host", "--layers=false", "-t", tag,
           "-v", f"{cafile}:{cafile}:ro", "--build-arg", f"BASE_IMAGE={base_image(work)}", str(context))  # fmt: skip
    yield tag
    podman("rmi", "-f", tag, check=False)


class Stack:
    def __init__(self, function_image: str, emulator_image: str) -> None:
        self.name = f"assertion-{uuid.uuid4().hex[:6]}"
        self.http_port, self.pubsub_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(CONTAINERS_CONF),
            "FUNCTION_IMAGE": function_image,
            "PUBSUB_EMULATOR_IMAGE": emulator_image,
            "PUBSUB_EMULATOR_COMMAND": EMULATOR_COMMAND,
            "HTTP_PORT": str(self.http_port),
            "PUBSUB_PORT": str(self.pubsub_port),
        }

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        command = [str(podman_compose()), "-p", self.name, "-f", str(ROOT / "compose.yaml"), *args]
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )

    def container(self, service: str) -> str:
        found = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"label=io.podman.compose.project={self.name}",
                       "--filter", f"label=com.docker.compose.service={service}").stdout.split()  # fmt: skip
        assert len(found) == 1, (service, found)
        return found[0]

    def logs(self) -> str:
        return self.compose("logs", timeout=60).stdout[-6000:]


def test_the_local_stack_answers_over_http_and_through_pubsub(
    images: dict[str, str], emulator_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = Stack(images["runtime"], emulator_image)
    up = stack.compose("up", "-d", "--no-build")
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        setup = stack.container("setup")
        assert podman("wait", setup, timeout=240).stdout.strip() == "0", stack.logs()
        assert "emulator_setup: ready" in podman("logs", setup).stdout

        reply = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                reply = httpx.post(
                    f"http://127.0.0.1:{stack.http_port}/predict",
                    json={"sentence": "Patient denies [entity] chest pain [entity]."},
                    timeout=30,
                )
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert reply is not None and reply.status_code == 200, stack.logs()
        assert reply.json()["label"] in {"PRESENT", "ABSENT", "POSSIBLE"}

        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{stack.pubsub_port}")
        from google.cloud import pubsub_v1

        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = f"projects/{PROJECT}/topics/assertion-requests"
        valid = valid_payloads(24)
        payloads = [data for data, _ in valid] + [data for data, _ in MALFORMED]
        ids = [publisher.publish(topic, data, origin="test").result(30) for data in payloads]
        # And one as the README's curl recipe publishes it (the emulator's REST API).
        readme = {"id": "readme-1", "sentence": "Denies [entity] fever [entity]."}
        rest = httpx.post(
            f"http://127.0.0.1:{stack.pubsub_port}/v1/{topic}:publish",
            json={"messages": [{"data": base64.b64encode(json.dumps(readme).encode()).decode()}]},
            timeout=30,
        )
        readme_id = rest.json()["messageIds"][0]
        results: dict[str, list] = defaultdict(list)
        errors: dict[str, list] = defaultdict(list)
        deadline = time.monotonic() + 240
        while len(results) + len(errors) < len(ids) + 1 and time.monotonic() < deadline:
            for name, into in (("assertion-results-pull", results), ("assertion-errors-pull", errors)):
                drain(subscriber, f"projects/{PROJECT}/subscriptions/{name}", into)
            time.sleep(0.5)
        logs = stack.logs()
    finally:
        down = stack.compose("down", "-t", "5")
    ((readme_result, _),) = results.pop(readme_id)
    assert [item["id"] for item in json.loads(readme_result)["items"]] == ["readme-1"]
    expected, sizes = expectations(ids, valid)
    check(expected, sizes, dict(zip(ids[len(valid) :], MALFORMED, strict=True)), results, errors)
    assert down.returncode == 0, down.stderr[-2000:]
    assert_no_text_in(logs, valid[:10])  # the function logged message ids, never the text
