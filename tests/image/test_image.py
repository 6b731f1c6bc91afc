"""The images, built and run here with podman (make image-test): the HTTP image serves the
contract as a non-root user without compilers and drains in-flight requests on SIGTERM; the
same image runs the Pub/Sub target; the Lambda image answers a Function URL event and an SQS
batch through awslambdaric and a local Runtime API; the bulk image runs the Beam pipeline
(DirectRunner) over a small corpus. Sizes and start times go to
.image-test/report.json (the README shows them)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.images import REPORT, podman, podman_missing
from tests.support.lambda_events import build_event
from tests.support.lambda_runtime_api import RuntimeApi
from tests.support.servers import free_port
from tests.support.sqs import AWS, moto_sqs
from tests.support.sqs import record as sqs_record

pytestmark = [
    pytest.mark.image,
    pytest.mark.skipif(podman_missing() is not None, reason=str(podman_missing())),
]
KEY = "image-test-key-0123456789"
SENTENCE = "Patient denies [entity] chest pain [entity]."


def record(**fields: object) -> None:
    report = json.loads(REPORT.read_text())
    report.update(fields)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")


class Container:
    def __init__(self, image: str, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        flags = [f"--env={k}={v}" for k, v in {"PORT": str(self.port), **env}.items()]
        self.started = time.perf_counter()
        self.id = podman("run", "-d", "--network", "host", *flags, *args, image).stdout.strip()
        self.url = f"http://127.0.0.1:{self.port}"

    def first_answer(self, timeout: float = 120) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                reply = httpx.post(
                    f"{self.url}/predict", json={"sentence": SENTENCE}, headers={"X-API-Key": KEY}
                )
                if reply.status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                time.sleep(0.05)
        raise TimeoutError(self.logs())

    def logs(self) -> str:
        result = podman("logs", self.id, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str) -> str:
        return podman("exec", self.id, *command, check=False).stdout

    def exit_code(self, timeout: float = 60) -> int:
        return int(podman("wait", self.id, timeout=timeout).stdout.strip())

    def remove(self) -> None:
        podman("rm", "-f", self.id, check=False)


@pytest.fixture
def http(images: dict[str, str]):
    container = Container(images["runtime"], {"API_KEYS": KEY})
    yield container
    container.remove()


def test_the_http_image_serves_the_contract(http: Container) -> None:
    record(container_start_to_first_predict_s=round(http.first_answer(), 2))
    auth = {"X-API-Key": KEY}
    health = httpx.get(f"{http.url}/health").json()
    assert health["model"]["backend"] == "onnx" and health["model"]["precision"] == "int8"
    assert health["startup_check"]["serving"]["passed"] and health["startup_check"]["failed"] == []
    assert httpx.post(f"{http.url}/predict", json={"sentence": SENTENCE}, headers=auth).json()["label"]
    batch = httpx.post(f"{http.url}/predict/batch", json={"sentences": [SENTENCE] * 3}, headers=auth).json()
    assert len(batch["predictions"]) == 3
    spans = {"text": "No fever, possible rash.", "entities": [{"start": 3, "end": 8}]}
    assert (
        httpx.post(f"{http.url}/predict/spans", json=spans, headers=auth).json()["predictions"][0]["start"]
        == 3
    )
    refused = httpx.post(f"{http.url}/predict", json={"sentence": SENTENCE})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"


def test_the_http_image_runs_as_a_user_without_compilers(http: Container) -> None:
    http.first_answer()
    assert http.exec("id", "-u").strip() not in ("", "0")
    assert http.exec("sh", "-c", "command -v gcc cc g++ clang || echo none").strip() == "none"
    # Only what serving reads: the int8 graph in its two copies (int8 weights for hosts with
    # VNNI or AMX, uint8 for the others), and the fp32 one it falls back on where int8 fails
    # its start-up check on the host's CPU; no torch weights, no vocab.txt.
    listing = http.exec("sh", "-c", "ls /app/model").split()
    assert listing == [
        "config.json",
        "manifest.json",
        "model.int8.onnx",
        "model.int8.vnni.onnx",
        "model.onnx",
        "tokenizer.json",
    ]
    assert (
        http.exec("python", "-c", "import importlib.util as u; print(u.find_spec('torch'))").strip() == "None"
    )
    assert podman("healthcheck", "run", http.id, check=False).returncode == 0


def test_sigterm_answers_every_accepted_request_and_exits_0(images: dict[str, str]) -> None:
    """A request the function received (it logs one line per request) is answered before the
    process exits. A connection still waiting in the kernel's queue when the listener closes
    is reset unread: no prediction was made for it, and the caller retries it elsewhere, as
    Cloud Run stops routing to an instance before it sends SIGTERM."""
    container = Container(images["runtime"], {"API_KEYS": KEY, "LOG_LEVEL": "DEBUG"})
    try:
        container.first_answer()
        body = {"sentences": [SENTENCE] * 20}

        def call(_: int) -> str:
            try:
                reply = httpx.post(
                    f"{container.url}/predict/batch", json=body, headers={"X-API-Key": KEY}, timeout=60
                )
            except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
                return "not answered"
            return "answered" if reply.status_code == 200 else f"answered {reply.status_code}"

        with ThreadPoolExecutor(24) as pool:
            burst = [pool.submit(call, n) for n in range(120)]
            time.sleep(0.3)
            podman("kill", "--signal", "TERM", container.id)
            outcomes = [future.result() for future in burst]
        assert container.exit_code() == 0
        logs = container.logs()
    finally:
        container.remove()
    received = logs.count('"message": "POST received"') - 1  # the first answer's request
    answered = logs.count('"message": "POST /predict/batch 200"')
    assert set(outcomes) <= {"answered", "not answered"}, sorted(set(outcomes))
    assert 0 < answered == outcomes.count("answered")
    assert received == answered, f"{received - answered} requests the function took were not answered"


def test_the_same_image_serves_the_pubsub_target(images: dict[str, str]) -> None:
    env = {
        "FUNCTION_TARGET": "predict_pubsub",
        "FUNCTION_SIGNATURE_TYPE": "cloudevent",
        "FUNCTION_USE_ASGI": "false",
        "GOOGLE_CLOUD_PROJECT": "image-test",
        "RESULTS_TOPIC": "assertion-results",
        "ERRORS_TOPIC": "assertion-errors",
    }
    container = Container(images["runtime"], env)
    try:
        deadline = time.monotonic() + 60
        while '"event": "ready"' not in container.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert '"event": "ready"' in container.logs()
        assert podman("healthcheck", "run", container.id, check=False).returncode == 0
    finally:
        container.remove()


def test_the_lambda_image_answers_a_function_url_event_and_an_sqs_batch(images: dict[str, str]) -> None:
    with moto_sqs() as endpoint, RuntimeApi() as api:
        import boto3

        sqs = boto3.client("sqs", endpoint_url=endpoint, aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"], region_name=AWS["AWS_DEFAULT_REGION"])  # fmt: skip
        queues = {
            name: sqs.create_queue(QueueName=f"{name}-image")["QueueUrl"] for name in ("results", "errors")
        }
        env = {
            **AWS,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}",
            "AWS_ENDPOINT_URL_SQS": endpoint,
            "RESULTS_QUEUE_URL": queues["results"],
            "ERRORS_QUEUE_URL": queues["errors"],
        }
        container = Container(images["lambda"], env)
        try:
            event = build_event("url", "POST", "/predict", "", {"content-type": "application/json"},
                                json.dumps({"sentence": SENTENCE}).encode())  # fmt: skip
            kind, answer = api.invoke(event)
            assert kind == "response", (answer, container.logs()[-2000:])
            assert answer["statusCode"] == 200 and json.loads(answer["body"])["model"]["backend"] == "onnx"
            kind, answer = api.invoke({"Records": [sqs_record(json.dumps({"sentence": SENTENCE}), "m-1")]})
            assert kind == "response" and answer == {"batchItemFailures": []}, answer
            received = sqs.receive_message(QueueUrl=queues["results"], MessageAttributeNames=["All"])[
                "Messages"
            ]
            assert json.loads(received[0]["Body"])["source_message_id"] == "m-1"
        finally:
            container.remove()


def test_the_bulk_image_runs_the_pipeline_on_a_corpus(images: dict[str, str], tmp_path) -> None:
    """The bulk target (Beam's environment, the same bake): a small corpus in, every line out
    as a result or a dead letter, as a non-root user, without torch."""
    data = tmp_path / "data"
    data.mkdir()
    lines = [json.dumps({"id": f"s{n}", "sentence": SENTENCE}) for n in range(12)]
    lines += [
        json.dumps({"id": "span", "text": "No fever, possible rash.", "entities": [{"start": 3, "end": 8}]})
    ]
    lines += ["not json", json.dumps({"id": "unmarked", "sentence": "No markers."})]
    (data / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    data.chmod(0o777)
    run = podman(
        "run", "--rm", "--network", "host", "-v", f"{data}:/data", images["bulk"],
        "--input", "/data/corpus.jsonl", "--output", "/data/out", check=False, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "lines read 15, results 13, dead letters 2" in run.stdout
    results = [
        json.loads(line)
        for path in (data / "out" / "results").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sorted(r["id"] for r in results) == sorted([f"s{n}" for n in range(12)] + ["span"])
    assert next(r for r in results if r["id"] == "span")["predictions"][0]["start"] == 3
    assert all(r["model"]["backend"] == "onnx" for r in results)
    dead = [
        json.loads(line)
        for path in (data / "out" / "dead-letters").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sorted(d["error_code"] for d in dead) == ["invalid_json", "unmarked_sentence"]
    probe = podman("run", "--rm", "--entrypoint", "python", images["bulk"], "-c",
                   "import importlib.util as u, os; print(u.find_spec('torch'), os.getuid())", check=False)  # fmt: skip
    assert probe.stdout.split() == ["None", "10001"], probe.stdout + probe.stderr
