"""API keys read from AWS Secrets Manager at start (API_KEY_SECRET as a secret ARN), by the
Lambda handler process as Lambda runs it, through boto3. AWS cannot be reached from here:
moto's server stands in for Secrets Manager over HTTP (AWS_ENDPOINT_URL_SECRETS_MANAGER)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from function.startup.aws_secrets import SECRET_ARN
from tests.support import lambda_invoke
from tests.support.lambda_events import build_event
from tests.support.servers import lambda_process
from tests.support.sqs import AWS, moto_server

SECRET_KEY_1 = "aws-secret-key-one-7f6e5d4c3b2a"
SECRET_KEY_2 = "aws-secret-key-two-1a2b3c4d5e6f"
ENV_KEY = "env-key-9c8b7a6f5e4d3c2b"


@pytest.fixture(scope="module")
def secrets() -> Iterator[tuple[str, object]]:
    with moto_server() as url:
        import boto3

        client = boto3.client(
            "secretsmanager",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield url, client


def create(client, name: str, **value) -> str:
    return client.create_secret(Name=name, **value)["ARN"]


def env(url: str, arn: str, baked_model: Path, **extra: str) -> dict[str, str]:
    return {
        **AWS,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": url,
        "MODEL_DIR": str(baked_model),
        "API_KEY_SECRET": arn,
        **extra,
    }


def post(process, key: str | None) -> int:
    headers = {"content-type": "application/json", **({"x-api-key": key} if key else {})}
    body = json.dumps({"sentence": "Denies [entity] fever [entity]."}).encode()
    event = build_event("url", "POST", "/predict", "", headers, body)
    return lambda_invoke.invoke(process.url, event).json()["statusCode"]


def test_the_arn_form_aws_prints_is_accepted(secrets) -> None:
    _, client = secrets
    arn = create(client, "assertion/api-keys-form", SecretString="k")
    assert SECRET_ARN.fullmatch(arn) and SECRET_ARN.fullmatch(arn + ":AWSPREVIOUS")
    assert not SECRET_ARN.fullmatch("assertion/api-keys-form")


def test_keys_from_the_secret_and_from_the_environment_all_work(
    secrets, baked_model: Path, tmp_path: Path
) -> None:
    url, client = secrets
    arn = create(client, "assertion/api-keys", SecretString=f"{SECRET_KEY_1}\n{SECRET_KEY_2},\n")
    process = lambda_process(env(url, arn, baked_model, API_KEYS=ENV_KEY), tmp_path / "lambda.log")
    try:
        process.wait_ready()
        assert post(process, SECRET_KEY_1) == 200
        assert post(process, SECRET_KEY_2) == 200
        assert post(process, ENV_KEY) == 200
        assert post(process, "not-a-key-at-all-000000") == 401
        assert post(process, None) == 401
    finally:
        process.stop()
    logs = process.logs()
    assert SECRET_KEY_1 not in logs and SECRET_KEY_2 not in logs and ENV_KEY not in logs
    assert '"api_key_count": 3' in logs


def test_a_binary_secret_and_a_version_stage_are_read(secrets, baked_model: Path, tmp_path: Path) -> None:
    url, client = secrets
    arn = create(client, "assertion/api-keys-binary", SecretBinary=SECRET_KEY_1.encode())
    client.put_secret_value(SecretId=arn, SecretBinary=SECRET_KEY_2.encode())  # old one: AWSPREVIOUS
    process = lambda_process(env(url, arn + ":AWSPREVIOUS", baked_model), tmp_path / "lambda.log")
    try:
        process.wait_ready()
        assert post(process, SECRET_KEY_1) == 200
        assert post(process, SECRET_KEY_2) == 401
    finally:
        process.stop()


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [
        ("missing", "ResourceNotFoundException"),
        ("empty", "holds no key"),
        ("not-utf8", "not UTF-8"),
        ("unreachable", "cannot read API keys"),
    ],
)
def test_an_unreadable_secret_stops_the_start(
    secrets, baked_model: Path, tmp_path: Path, damage: str, phrase: str
) -> None:
    """Never start open because the keys could not be read."""
    url, client = secrets
    name = f"assertion/api-keys-{damage}"
    if damage == "missing":
        arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:assertion/none-AbCdEf"
    elif damage == "empty":
        arn = create(client, name, SecretString=" \n, ")
    elif damage == "not-utf8":
        arn = create(client, name, SecretBinary=b"\xff\xfe\x00key")
    else:
        arn = create(client, name, SecretString=SECRET_KEY_1)
        url = "http://127.0.0.1:9"  # nothing listens there
    process = lambda_process(env(url, arn, baked_model), tmp_path / "lambda.log")
    logs = process.refuses_to_start(phrase)
    assert SECRET_KEY_1 not in logs
