"""Start-up: configuration, logging, API keys and the model, once per process.

Entry points call `start_service()` at import (Cloud Run: before Functions Framework forks
its worker; Lambda: in the init phase), so the first request never pays for a load. Any
problem stops the process with one clear log line and a non-zero exit: the service never
starts half-configured, open without its keys, or on a folder it cannot vouch for.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from function.api.keys import ApiKeys, KeySourceError, load_api_keys
from function.classifier import AssertionClassifier
from function.config import ConfigError, Settings
from function.errors import ModelFolderError, ModelNotReady
from function.logs import configure_logging, log_event

log = logging.getLogger("function.service")


class StartupError(SystemExit):
    """Raised at import; SystemExit prints the message and exits with status 1."""


@dataclass
class ServiceState:
    settings: Settings
    api_keys: ApiKeys
    classifier: AssertionClassifier | None = None

    def require_classifier(self) -> AssertionClassifier:
        if self.classifier is None:
            raise ModelNotReady("the model is not loaded")
        return self.classifier


def start_service(settings: Settings | None = None) -> ServiceState:
    started = time.perf_counter()
    try:
        settings = settings or Settings.from_env()
    except ConfigError as error:
        configure_logging()
        log.critical("refusing to start: %s", error)
        raise StartupError(f"refusing to start: {error}") from None
    configure_logging(settings.log_level, settings.project_id)
    if os.environ.get("WORKERS", "1") != "1":
        log.warning("WORKERS=%s: every worker competes for the same CPUs; 1 is faster", os.environ["WORKERS"])
    try:
        keys = load_api_keys(settings)
        classifier = AssertionClassifier.load(
            settings.model_dir,
            backend=settings.backend,
            threads=settings.threads,
            verify_checksums=settings.verify_checksums,
            batch_items=settings.infer_batch_size,
        )
    except (ModelFolderError, KeySourceError) as error:
        log.critical("refusing to start: %s", error)
        raise StartupError(f"refusing to start: {error}") from None
    info = classifier.info
    log_event(
        log,
        logging.INFO,
        f"ready: {info.id}@{info.revision[:12]} on {info.backend}/{info.precision}",
        event="ready",
        model_id=info.id,
        revision=info.revision,
        backend=info.backend,
        threads=settings.threads,
        auth=settings.auth_enabled,
        api_key_count=len(keys),
        startup_seconds=round(time.perf_counter() - started, 3),
    )
    return ServiceState(settings, keys, classifier)
