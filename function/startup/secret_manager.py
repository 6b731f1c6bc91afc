"""API keys from a Google Secret Manager secret version (API_KEY_SECRET), read once at start
with google-cloud-secret-manager; its CRC32C is checked. Imported only when configured."""

from __future__ import annotations

from typing import Any

from function.startup.keys import KeySourceError, parse_keys


def read_secret_keys(version_name: str, endpoint: str = "") -> tuple[str, ...]:
    """Access one secret version with google-cloud-secret-manager and check its CRC32C."""
    import google_crc32c
    from google.api_core.client_options import ClientOptions
    from google.cloud import secretmanager

    options: dict[str, Any] = {}
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
