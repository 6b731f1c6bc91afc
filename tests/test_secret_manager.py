"""API keys read from Secret Manager at start, through the real client library (REST
transport, real OAuth refresh) against a local stand-in: Google's API is unreachable here
and Secret Manager has no emulator."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.fake_secret_manager import FakeSecretManager
from tests.support.servers import functions_framework_server

VERSION = "projects/test-project/secrets/assertion-api-keys/versions/3"
SECRET_KEY_1 = "secret-key-one-0a1b2c3d4e5f"
SECRET_KEY_2 = "secret-key-two-6a7b8c9d0e1f"
ENV_KEY = "env-key-2b4d6f8a0c1e3a5c"


@pytest.fixture
def secret_manager(tmp_path: Path):
    with FakeSecretManager() as fake:
        fake.versions[VERSION] = f"{SECRET_KEY_1}\n{SECRET_KEY_2}\n".encode()
        yield fake


def secret_env(fake: FakeSecretManager, tmp_path: Path, baked_model: Path, **extra: str) -> dict[str, str]:
    return {
        "MODEL_DIR": str(baked_model),
        "API_KEY_SECRET": VERSION,
        "SECRET_MANAGER_ENDPOINT": fake.url,
        "GOOGLE_APPLICATION_CREDENTIALS": str(fake.credentials_file(tmp_path)),
        "GOOGLE_CLOUD_PROJECT": "test-project",
        **extra,
    }


def post(url: str, key: str | None) -> int:
    headers = {"X-API-Key": key} if key else {}
    body = {"sentence": "Denies [entity] fever [entity]."}
    return httpx.post(f"{url}/predict", json=body, headers=headers, timeout=30).status_code


def test_keys_from_the_secret_and_from_the_environment_all_work(
    secret_manager: FakeSecretManager, tmp_path: Path, baked_model: Path
) -> None:
    server = functions_framework_server(
        secret_env(secret_manager, tmp_path, baked_model, API_KEYS=ENV_KEY), tmp_path / "ff.log"
    )
    try:
        server.wait_ready()
        assert post(server.url, SECRET_KEY_1) == 200
        assert post(server.url, SECRET_KEY_2) == 200
        assert post(server.url, ENV_KEY) == 200
        assert post(server.url, "not-a-key-at-all-000000") == 401
        assert post(server.url, None) == 401
    finally:
        server.stop()
    # Read once, at start, with the OAuth token the client obtained.
    accesses = [r for r in secret_manager.requests if r[1].endswith(":access")]
    assert len(accesses) == 1 and accesses[0][:2] == ("GET", f"/v1/{VERSION}:access")
    assert accesses[0][2] in ("access-token", "self-signed-jwt")  # authenticated with the key
    logs = server.logs()
    assert SECRET_KEY_1 not in logs and SECRET_KEY_2 not in logs and ENV_KEY not in logs
    assert '"api_key_count": 3' in logs


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [("missing", "NotFound"), ("checksum", "CRC32C"), ("empty", "holds no key")],
)
def test_an_unreadable_secret_stops_the_start(
    secret_manager: FakeSecretManager, tmp_path: Path, baked_model: Path, damage: str, phrase: str
) -> None:
    """Never start open because the keys could not be read."""
    if damage == "missing":
        del secret_manager.versions[VERSION]
    elif damage == "checksum":
        secret_manager.bad_checksum.add(VERSION)
    else:
        secret_manager.versions[VERSION] = b" \n "
    server = functions_framework_server(
        secret_env(secret_manager, tmp_path, baked_model), tmp_path / "ff.log"
    )
    server.refuses_to_start(phrase, VERSION)
