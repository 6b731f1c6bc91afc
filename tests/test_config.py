"""Environment variables are read and validated once; every problem is reported at once."""

from __future__ import annotations

import pytest

from function.core.cpus import available_cpus
from function.startup.settings import ConfigError, Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.max_batch_size == 100 and settings.max_body_bytes == 1 << 20
    assert settings.allow_unmarked is False and settings.auth_enabled is False
    assert (
        settings.backend == "onnx" and settings.precision == "auto" and settings.threads == available_cpus()
    )
    limits = settings.batch_limits()
    assert (limits.max_items, limits.max_tokens, limits.max_wait, limits.max_pending) == (
        32,
        8192,
        0.002,
        2048,
    )
    assert settings.model_dir == "model" and settings.log_level == "INFO"


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "MODEL_DIR": "/srv/model",
            "MAX_BATCH_SIZE": "7",
            "ALLOW_UNMARKED": "TRUE",
            "API_KEYS": " k1-aaaaaaaaaaaaaaaa , k2-bbbbbbbbbbbbbbbb ,",
            "API_KEY_SECRET": "projects/p/secrets/s/versions/latest",
            "LOG_LEVEL": "debug",
            "INTRA_OP_THREADS": "1",
            "GOOGLE_CLOUD_PROJECT": "proj",
        }
    )
    assert settings.api_keys == ("k1-aaaaaaaaaaaaaaaa", "k2-bbbbbbbbbbbbbbbb")
    assert settings.allow_unmarked and settings.auth_enabled and settings.max_batch_size == 7
    assert settings.log_level == "DEBUG" and settings.threads == 1 and settings.project_id == "proj"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("projects/p/secrets/s/versions/latest", True),
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:assertion/api-keys-AbC123", True),
        ("arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:k-AbC123", True),
        ("arn:aws:secretsmanager:eu-west-1:1234:secret:short-account", False),
        ("arn:aws:s3:::a-bucket", False),
        ("assertion/api-keys", False),
    ],
)
def test_api_key_secret_takes_a_google_version_or_an_aws_secret_arn(value: str, accepted: bool) -> None:
    env = {"API_KEY_SECRET": value, "INTRA_OP_THREADS": "1"}
    if accepted:
        assert Settings.from_env(env).api_key_secret == value
    else:
        with pytest.raises(ConfigError, match="API_KEY_SECRET"):
            Settings.from_env(env)


def test_every_problem_is_named_and_secrets_are_not_repeated() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "MAX_BATCH_SIZE": "0",
                "MAX_BODY_BYTES": "lots",
                "ALLOW_UNMARKED": "maybe",
                "API_KEYS": "short-secret",
                "API_KEY_SECRET": "my-secret",
                "BACKEND": "tensorflow",
                "PRECISION": "int4",
                "LOW_CONFIDENCE_THRESHOLD": "2",
                "BATCH_WAIT_MS": "-1",
            }
        )
    message = str(caught.value)
    for name in (
        "MAX_BATCH_SIZE",
        "MAX_BODY_BYTES",
        "ALLOW_UNMARKED",
        "API_KEYS",
        "API_KEY_SECRET",
        "BACKEND",
        "PRECISION",
        "LOW_CONFIDENCE_THRESHOLD",
        "BATCH_WAIT_MS",
    ):
        assert name in message
    assert "short-secret" not in message


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"BACKEND": "torch", "PRECISION": "int8"}, "PRECISION=int8 needs BACKEND=onnx"),
        ({"QUEUE_MAX_ITEMS": "10", "MAX_BATCH_SIZE": "50"}, "a full-size request could never be queued"),
    ],
)
def test_combinations_that_cannot_work(env: dict[str, str], phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase):
        Settings.from_env(env)
