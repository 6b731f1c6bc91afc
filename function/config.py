"""Configuration from environment variables, read and validated once, at start.

A bad value stops the start with a message naming the variable; values of secret variables
(API_KEYS) are never repeated in such messages. The README's configuration table lists
every variable here with its default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from function.cpus import available_cpus

_SECRET_VERSION = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


class ConfigError(ValueError):
    """An environment variable with a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    model_dir: str = "model"
    backend: str = "torch"
    threads: int = 1
    max_batch_size: int = 100
    max_body_bytes: int = 1 << 20
    allow_unmarked: bool = False
    api_keys: tuple[str, ...] = ()
    api_key_secret: str = ""
    secret_manager_endpoint: str = ""
    log_level: str = "INFO"
    project_id: str = ""
    low_confidence_threshold: float = 0.6
    infer_batch_size: int = 32
    verify_checksums: bool = False

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys or self.api_key_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            model_dir=reader.text("MODEL_DIR", "model"),
            backend=reader.choice("BACKEND", "torch", ("torch",)),
            threads=reader.integer("INTRA_OP_THREADS", available_cpus(), 1, 256),
            max_batch_size=reader.integer("MAX_BATCH_SIZE", 100, 1, 10_000),
            max_body_bytes=reader.integer("MAX_BODY_BYTES", 1 << 20, 1024, 64 << 20),
            allow_unmarked=reader.boolean("ALLOW_UNMARKED", False),
            api_keys=reader.key_list("API_KEYS"),
            api_key_secret=reader.pattern(
                "API_KEY_SECRET", _SECRET_VERSION, "projects/PROJECT/secrets/NAME/versions/VERSION"
            ),
            secret_manager_endpoint=reader.text("SECRET_MANAGER_ENDPOINT", ""),
            log_level=reader.choice("LOG_LEVEL", "INFO", tuple(sorted(_LEVELS)), upper=True),
            project_id=reader.text("GOOGLE_CLOUD_PROJECT", "") or reader.text("GCP_PROJECT", ""),
            low_confidence_threshold=reader.fraction("LOW_CONFIDENCE_THRESHOLD", 0.6),
            infer_batch_size=reader.integer("INFER_BATCH_SIZE", 32, 1, 1024),
            verify_checksums=reader.boolean("VERIFY_CHECKSUMS", False),
        )
        if reader.problems:
            raise ConfigError("invalid configuration: " + "; ".join(reader.problems))
        return settings


class _Reader:
    """Reads variables, collecting every problem so one start reports all of them."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, default: str) -> str:
        return self.env.get(name, default).strip()

    def choice(self, name: str, default: str, allowed: tuple[str, ...], upper: bool = False) -> str:
        value = self.text(name, default) or default
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            self.problems.append(f"{name}={value!r} is not one of {list(allowed)}")
            return default
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.text(name, "")
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a whole number")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name}={value} is outside {low}..{high}")
            return default
        return value

    def fraction(self, name: str, default: float) -> float:
        raw = self.text(name, "")
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            self.problems.append(f"{name}={raw!r} is not a number between 0 and 1")
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name, "").lower()
        if name not in self.env:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        self.problems.append(f"{name}={raw!r} is not true or false")
        return default

    def key_list(self, name: str) -> tuple[str, ...]:
        keys = tuple(key.strip() for key in self.env.get(name, "").split(",") if key.strip())
        if any(len(key) < 16 for key in keys):
            # The value is secret: say what is wrong, never what it is.
            self.problems.append(f"{name} holds a key shorter than 16 characters")
        return keys

    def pattern(self, name: str, pattern: re.Pattern[str], shape: str) -> str:
        value = self.text(name, "")
        if value and not pattern.fullmatch(value):
            self.problems.append(f"{name}={value!r} is not a secret version name ({shape})")
        return value
