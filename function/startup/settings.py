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

from function.core.batching import BatchLimits
from function.core.cpus import available_cpus
from function.core.messages import MessageLimits

# A Google Secret Manager version name, or an AWS Secrets Manager secret ARN
# (function.startup.aws_secrets checks the ARN in full).
_SECRET_VERSION = re.compile(
    r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$|^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$"
)
# Pub/Sub topic ids: 3-255 characters, a letter first (projects/P/topics/T also accepted).
_TOPIC = re.compile(r"^(projects/[a-z][-a-z0-9.:]{4,61}[a-z0-9]/topics/)?[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


class ConfigError(ValueError):
    """An environment variable with a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    model_dir: str = "model"
    backend: str = "onnx"
    precision: str = "auto"
    threads: int = 1
    streams: int = 1
    max_batch_size: int = 100
    max_body_bytes: int = 1 << 20
    allow_unmarked: bool = False
    api_keys: tuple[str, ...] = ()
    api_key_secret: str = ""
    secret_manager_endpoint: str = ""
    log_level: str = "INFO"
    project_id: str = ""
    low_confidence_threshold: float = 0.6
    batch_max_items: int = 32
    batch_max_tokens: int = 8192
    batch_wait_ms: float = 2.0
    queue_max_items: int = 2048
    verify_checksums: bool = False
    results_topic: str = ""
    errors_topic: str = ""
    results_queue_url: str = ""
    errors_queue_url: str = ""

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys or self.api_key_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            model_dir=reader.text("MODEL_DIR", "model"),
            backend=reader.choice("BACKEND", "onnx", ("onnx", "torch")),
            precision=reader.choice("PRECISION", "auto", ("auto", "fp32", "int8")),
            threads=reader.integer("INTRA_OP_THREADS", available_cpus(), 1, 256),
            streams=reader.integer("INFERENCE_STREAMS", 1, 1, 64),
            max_batch_size=reader.integer("MAX_BATCH_SIZE", 100, 1, 10_000),
            max_body_bytes=reader.integer("MAX_BODY_BYTES", 1 << 20, 1024, 64 << 20),
            allow_unmarked=reader.boolean("ALLOW_UNMARKED", False),
            api_keys=reader.key_list("API_KEYS"),
            api_key_secret=reader.pattern(
                "API_KEY_SECRET",
                _SECRET_VERSION,
                "projects/PROJECT/secrets/NAME/versions/VERSION, "
                "or arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME",
            ),
            secret_manager_endpoint=reader.text("SECRET_MANAGER_ENDPOINT", ""),
            log_level=reader.choice("LOG_LEVEL", "INFO", tuple(sorted(_LEVELS)), upper=True),
            project_id=reader.text("GOOGLE_CLOUD_PROJECT", "") or reader.text("GCP_PROJECT", ""),
            low_confidence_threshold=reader.fraction("LOW_CONFIDENCE_THRESHOLD", 0.6),
            batch_max_items=reader.integer("BATCH_MAX_ITEMS", 32, 1, 1024),
            batch_max_tokens=reader.integer("BATCH_MAX_TOKENS", 8192, 512, 1 << 20),
            batch_wait_ms=reader.number("BATCH_WAIT_MS", 2.0, 0.0, 1000.0),
            queue_max_items=reader.integer("QUEUE_MAX_ITEMS", 2048, 1, 1 << 20),
            verify_checksums=reader.boolean("VERIFY_CHECKSUMS", False),
            results_topic=reader.topic("RESULTS_TOPIC"),
            errors_topic=reader.topic("ERRORS_TOPIC"),
            results_queue_url=reader.text("RESULTS_QUEUE_URL", ""),
            errors_queue_url=reader.text("ERRORS_QUEUE_URL", ""),
        )
        if settings.queue_max_items < settings.max_batch_size:
            reader.problems.append(
                f"QUEUE_MAX_ITEMS={settings.queue_max_items} is below "
                f"MAX_BATCH_SIZE={settings.max_batch_size}: a full-size request could never be queued"
            )
        if settings.backend == "torch" and settings.precision == "int8":
            reader.problems.append(
                "PRECISION=int8 needs BACKEND=onnx (the torch backend is the fp32 reference)"
            )
        if reader.problems:
            raise ConfigError("invalid configuration: " + "; ".join(reader.problems))
        return settings

    def message_limits(self) -> MessageLimits:
        """Event messages take what a request may: MAX_BODY_BYTES, MAX_BATCH_SIZE."""
        return MessageLimits(
            max_bytes=self.max_body_bytes,
            max_items=self.max_batch_size,
            allow_unmarked=self.allow_unmarked,
            low_confidence_threshold=self.low_confidence_threshold,
        )

    def batch_limits(self) -> BatchLimits:
        return BatchLimits(
            max_items=self.batch_max_items,
            max_tokens=self.batch_max_tokens,
            max_wait=self.batch_wait_ms / 1000,
            max_pending=self.queue_max_items,
        )


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
        return self.number(name, default, 0.0, 1.0)

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.text(name, "")
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            self.problems.append(f"{name}={raw!r} is not a number between {low:g} and {high:g}")
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

    def topic(self, name: str) -> str:
        value = self.text(name, "")
        if value and not _TOPIC.fullmatch(value):
            self.problems.append(f"{name}={value!r} is neither a topic id nor projects/PROJECT/topics/TOPIC")
        return value

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
