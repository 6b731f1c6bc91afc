"""API keys: from API_KEYS and/or a Secret Manager secret version, read once at start.

Several keys are valid at once so that a key can be rotated without downtime: add the new
one, move callers, remove the old one. A candidate is compared with every key, in constant
time, by digest (so neither its content nor its length leaks through timing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from function.config import Settings


class KeySourceError(RuntimeError):
    """The configured key source cannot be read; the service must not start open."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class ApiKeys:
    def __init__(self, keys: Iterable[str], *, required: bool) -> None:
        self._digests = tuple(_digest(key) for key in keys)
        self.required = required

    def __len__(self) -> int:
        return len(self._digests)

    def accepts(self, candidate: str) -> bool:
        digest = _digest(candidate)
        accepted = False
        for known in self._digests:  # no early exit: every key costs the same time
            accepted |= hmac.compare_digest(digest, known)
        return accepted


def parse_keys(text: str) -> tuple[str, ...]:
    """Keys separated by commas or new lines; blanks ignored."""
    return tuple(key.strip() for key in text.replace("\n", ",").split(",") if key.strip())


def read_secret_keys(version_name: str, endpoint: str = "") -> tuple[str, ...]:
    """Access one secret version with google-cloud-secret-manager and check its CRC32C."""
    import google_crc32c
    from google.api_core.client_options import ClientOptions
    from google.cloud import secretmanager

    options: dict[str, object] = {}
    if endpoint:  # a private endpoint (Private Service Connect), or a local stand-in in tests
        options = {"client_options": ClientOptions(api_endpoint=endpoint), "transport": "rest"}
    try:
        client = secretmanager.SecretManagerServiceClient(**options)
        response = client.access_secret_version(request={"name": version_name}, timeout=15)
    except Exception as error:  # noqa: BLE001 (auth, network or API: all stop the start)
        raise KeySourceError(
            f"cannot read API keys from secret version {version_name}: {type(error).__name__}: "
            f"{getattr(error, 'message', error)}"
        ) from None
    payload = response.payload
    if payload.data_crc32c and google_crc32c.value(payload.data) != payload.data_crc32c:
        raise KeySourceError(f"secret version {version_name}: payload fails its CRC32C check")
    try:
        keys = parse_keys(payload.data.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeySourceError(f"secret version {version_name} is not UTF-8 text") from None
    if not keys:
        raise KeySourceError(f"secret version {version_name} holds no key")
    return keys


def load_api_keys(settings: Settings) -> ApiKeys:
    keys = list(settings.api_keys)
    if settings.api_key_secret:
        keys.extend(read_secret_keys(settings.api_key_secret, settings.secret_manager_endpoint))
    return ApiKeys(keys, required=settings.auth_enabled)
