"""API keys, loaded once at start from their sources: API_KEYS (the environment) and/or a
Google Secret Manager secret version (`function.startup.secret_manager`) or an AWS Secrets
Manager secret ARN (`function.startup.aws_secrets`), one source per cloud. The HTTP surface
only checks candidates against the loaded keys (`ApiKeys.accepts`).

Several keys are valid at once so that a key can be rotated without downtime: add the new
one, move callers, remove the old one. A candidate is compared with every key, in constant
time, by digest (so neither its content nor its length leaks through timing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from function.startup.settings import Settings


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


def load_api_keys(settings: Settings) -> ApiKeys:
    """Every configured source, read now; a source that cannot be read raises KeySourceError
    (the service must not start open)."""
    keys = list(settings.api_keys)
    if settings.api_key_secret.startswith("arn:"):
        from function.startup import aws_secrets

        keys.extend(aws_secrets.read_secret_keys(settings.api_key_secret))
    elif settings.api_key_secret:
        from function.startup import secret_manager

        keys.extend(
            secret_manager.read_secret_keys(settings.api_key_secret, settings.secret_manager_endpoint)
        )
    return ApiKeys(keys, required=settings.auth_enabled)
