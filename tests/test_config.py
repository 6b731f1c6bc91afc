"""Environment variables are read and validated once; every problem is reported at once."""

from __future__ import annotations

import pytest

from function.config import ConfigError, Settings
from function.cpus import available_cpus


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.max_batch_size == 100 and settings.max_body_bytes == 1 << 20
    assert settings.allow_unmarked is False and settings.auth_enabled is False
    assert settings.backend == "torch" and settings.threads == available_cpus()
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
                "LOW_CONFIDENCE_THRESHOLD": "2",
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
        "LOW_CONFIDENCE_THRESHOLD",
    ):
        assert name in message
    assert "short-secret" not in message
