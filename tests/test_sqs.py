"""SQS on Lambda: the handler process (as Lambda runs it) takes real SQS event batches and
sends results and rejected messages with boto3. SQS itself cannot be reached from here and
has no emulator: moto's server stands in for it, over HTTP (AWS_ENDPOINT_URL_SQS)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support import lambda_invoke
from tests.support.servers import ServedProcess, lambda_process
from tests.support.sqs import AWS, moto_sqs, record

SENTENCE = "Patient denies [entity] chest pain [entity]."


@pytest.fixture(scope="module")
def sqs(monkeypatch_module):
    with moto_sqs() as url:
        for name, value in {**AWS, "AWS_ENDPOINT_URL_SQS": url}.items():
            monkeypatch_module.setenv(name, value)
        import boto3

        yield url, boto3.client("sqs")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def queues(sqs):
    _, client = sqs
    tag = uuid.uuid4().hex[:8]
    return {
        name: client.create_queue(QueueName=f"{name}-{tag}")["QueueUrl"] for name in ("results", "errors")
    }


def start(
    sqs, queues: dict[str, str], baked_model: Path, log: Path, results_url: str | None = None
) -> ServedProcess:
    url, _ = sqs
    env = {
        **AWS,
        "AWS_ENDPOINT_URL_SQS": url,
        "MODEL_DIR": str(baked_model),
        "RESULTS_QUEUE_URL": results_url or queues["results"],
        "ERRORS_QUEUE_URL": queues["errors"],
        "MAX_BATCH_SIZE": "5",
    }
    process = lambda_process(env, log)
    process.wait_ready()
    return process


def invoke(process: ServedProcess, event: dict) -> dict:
    reply = lambda_invoke.invoke(process.url, event)
    assert not reply.headers.get("x-amz-function-error"), reply.text
    return reply.json()


def drain(client, queue_url: str) -> dict[str, tuple[str, dict]]:
    found: dict[str, tuple[str, dict]] = {}
    while True:
        batch = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        messages = batch.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
            found[attributes["source_message_id"]] = (message["Body"], attributes)
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_a_batch_gets_its_results_and_its_rejections(sqs, queues, baked_model: Path, tmp_path: Path) -> None:
    _, client = sqs
    process = start(sqs, queues, baked_model, tmp_path / "lambda.log")
    try:
        valid = [record(json.dumps({"id": f"r{n}", "sentence": SENTENCE}), origin="test") for n in range(6)]
        valid.append(record(json.dumps({"text": "No fever.", "entities": [{"start": 3, "end": 8}]})))
        bad = [
            record("not json", origin="test"),
            record(json.dumps({"sentence": "no markers"}), origin="test"),
        ]
        response = invoke(process, {"Records": valid + bad})
    finally:
        process.stop()
    assert response == {"batchItemFailures": []}  # every record acknowledged
    results, errors = drain(client, queues["results"]), drain(client, queues["errors"])
    assert set(results) == {r["messageId"] for r in valid}
    body = json.loads(results[valid[0]["messageId"]][0])
    assert body["items"][0]["id"] == "r0" and body["model"]["backend"] == "onnx"
    span = json.loads(results[valid[-1]["messageId"]][0])
    assert (
        span["items"][0]["id"] == f"{valid[-1]['messageId']}:0"
        and span["items"][0]["predictions"][0]["end"] == 8
    )
    assert set(errors) == {r["messageId"] for r in bad}
    assert errors[bad[0]["messageId"]][0] == "not json"  # parked whole, as sent
    assert errors[bad[0]["messageId"]][1]["error_code"] == "not_json"
    assert errors[bad[1]["messageId"]][1]["error_code"] == "unmarked_sentence"
    assert errors[bad[1]["messageId"]][1]["origin"] == "test"


def test_records_whose_results_cannot_be_sent_are_reported_for_retry(
    sqs, queues, baked_model: Path, tmp_path: Path
) -> None:
    _, client = sqs
    missing = queues["results"].rsplit("/", 1)[0] + "/no-such-queue"
    process = start(sqs, queues, baked_model, tmp_path / "lambda.log", results_url=missing)
    try:
        valid = [record(json.dumps({"sentence": SENTENCE})) for _ in range(3)]
        bad = record("{broken")
        response = invoke(process, {"Records": [*valid, bad]})
    finally:
        process.stop()
    # The valid records come back to be retried; the broken one is parked and acknowledged.
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
        r["messageId"] for r in valid
    )
    assert set(drain(client, queues["errors"])) == {bad["messageId"]}
    assert '"error_code": "results_publish_failed"' in process.logs()


def test_without_queue_urls_every_record_comes_back_and_the_log_names_what_is_missing(
    sqs, baked_model: Path, tmp_path: Path
) -> None:
    """The same image serves HTTP without queues, so it starts; an SQS batch is then returned
    whole for redelivery (nothing lost), with one error line that names the settings."""
    url, _ = sqs
    process = lambda_process(
        {**AWS, "AWS_ENDPOINT_URL_SQS": url, "MODEL_DIR": str(baked_model)}, tmp_path / "l.log"
    )
    process.wait_ready()
    try:
        records = [record(json.dumps({"sentence": SENTENCE})) for _ in range(3)]
        response = invoke(process, {"Records": records})
    finally:
        process.stop()
    assert response == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    lines = [json.loads(line) for line in process.logs().splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if line.get("error_code") == "not_configured"]
    assert line["severity"] == "ERROR" and line["record_count"] == 3
    assert "RESULTS_QUEUE_URL" in line["message"] and "ERRORS_QUEUE_URL" in line["message"]
