"""Start-up: configuration, logging, API keys and the model, once per process.

An entry point starts the service at import. Under Functions Framework (`start_service`)
the module is imported by gunicorn's master, which then forks the one worker that serves:
ONNX Runtime's and torch's thread pools do not survive a fork, so the master only checks the
folder (cheap, and a bad one stops the start there) and the worker loads the model right
after the fork, before it accepts a request.
The worker loads it on a thread while its main thread does the rest of its start (the
entry point's `in_worker`: importing and building the app): ONNX Runtime builds and checks
the session without the GIL, so the two overlap on two cores instead of adding up. Lambda
loads the model in its init phase, the same way without a fork (`start_service_beside`): its
handlers are imported and built while the model loads.

Any problem stops the process with one clear log line and a non-zero exit: the service
never starts half-configured, open without its keys, or on a folder it cannot vouch for.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

from function.core.classifier import AssertionClassifier
from function.core.errors import ModelFolderError, ModelNotReady
from function.core.logs import configure_logging, log_event
from function.core.model_folder import ModelFolder, VariantEntry
from function.core.variant_check import CheckOutcome, load_checked
from function.startup.keys import ApiKeys, KeySourceError, load_api_keys
from function.startup.settings import ConfigError, Settings

log = logging.getLogger("function.service")
PROCESS_STARTED = time.perf_counter()
# gunicorn's arbiter stops, instead of respawning, when a worker exits with this status.
WORKER_BOOT_ERROR = 3
T = TypeVar("T")


class StartupError(SystemExit):
    """Raised at import; SystemExit prints the message and exits with status 1."""


@dataclass
class ServiceState:
    settings: Settings
    api_keys: ApiKeys
    classifier: AssertionClassifier | None = None
    loader: Callable[[], AssertionClassifier] | None = None
    # The start-up check of the variant that serves, and of those that failed before it.
    check: CheckOutcome | None = None
    failed_checks: tuple[CheckOutcome, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load(self) -> AssertionClassifier:
        """Load the model once (later calls return it); raises what loading raises."""
        with self._lock:
            if self.classifier is None:
                if self.loader is None:
                    raise ModelNotReady("the model is not loaded")
                self.classifier = self.loader()
            return self.classifier

    def require_classifier(self) -> AssertionClassifier:
        # Normally loaded already; a server that never forks (functions-framework --debug)
        # loads on first use instead.
        return self.classifier if self.classifier is not None else self.load()


def refuse(error: Exception | str) -> StartupError:
    """Log why the process will not start, and the exception that stops it."""
    log.critical("refusing to start: %s", error)
    return StartupError(f"refusing to start: {error}")


def start_service(
    settings: Settings | None = None, *, in_worker: Callable[[], object] = lambda: None
) -> ServiceState:
    """Start in gunicorn's master (Functions Framework): the folder is checked here, and the
    forked worker loads the model on a thread while `in_worker` runs on its main thread. A
    server that never forks (functions-framework --debug) loads on first use."""
    state = _configured(settings)
    os.register_at_fork(after_in_child=lambda: _load_in_worker(state, in_worker))
    return state


def start_service_beside(
    build: Callable[[ServiceState], T], settings: Settings | None = None
) -> tuple[ServiceState, T]:
    """Start without a fork (Lambda's init): the model loads on a thread while `build(state)`
    imports and builds the entry point's handlers here; returns both once both are done. A
    model that does not load, or handlers that cannot be built, refuse the start with one
    line, as `start_service` does."""
    state = _configured(settings)
    try:
        built, failure = _beside(state, lambda: build(state))
    except Exception as error:  # any build failure refuses the start
        raise refuse(f"the handlers cannot be built: {error}") from error
    if failure is not None:
        if isinstance(failure, ModelFolderError):
            raise refuse(failure) from None
        raise failure
    return state, built


def _configured(settings: Settings | None) -> ServiceState:
    """Configuration, logging, keys and the folder, checked; the model not loaded yet."""
    try:
        settings = settings or Settings.from_env()
    except ConfigError as error:
        configure_logging()
        raise refuse(error) from None
    configure_logging(settings.log_level)
    if os.environ.get("WORKERS", "1") != "1":
        log.warning("WORKERS=%s: every worker competes for the same CPUs; 1 is faster", os.environ["WORKERS"])
    try:
        keys = load_api_keys(settings)
        verify = settings.verify_checksums
        folder = ModelFolder.open(settings.model_dir, verify_checksums=verify)
        candidates = folder.candidates(settings.backend, settings.precision)
    except (ModelFolderError, KeySourceError) as error:
        raise refuse(error) from None
    # The folder is opened and checked once, here (in gunicorn's master, so a bad one stops
    # the start); the loader, in the worker, builds the model from it and checks it on the
    # CPU it will serve on.
    state = ServiceState(settings, keys)
    state.loader = lambda: _load_model(state, folder, candidates, len(keys))
    return state


def _load_model(
    state: ServiceState, folder: ModelFolder, candidates: list[VariantEntry], key_count: int
) -> AssertionClassifier:
    settings = state.settings
    checked = load_checked(
        folder,
        candidates,
        threads=settings.threads,
        streams=settings.streams,
        limits=settings.batch_limits(),
        verify_checksums=settings.verify_checksums,
    )
    classifier, outcome = checked.classifier, checked.outcome
    state.check, state.failed_checks = outcome, checked.failed
    cpu = outcome.cpu.as_dict()
    _log_passed_over(checked.failed, outcome, cpu)
    info = classifier.info
    log_event(
        log,
        logging.INFO,
        f"ready: {info.id}@{info.revision[:12]} on {info.backend}/{info.precision}",
        event="ready",
        model_id=info.id,
        revision=info.revision,
        backend=info.backend,
        precision=info.precision,
        recipe=classifier.variant.recipe.get("name", ""),
        graph=outcome.graph,
        check=outcome.as_dict(),
        cpu=cpu,
        threads=settings.threads,
        auth=settings.auth_enabled,
        api_key_count=key_count,
        startup_seconds=round(time.perf_counter() - PROCESS_STARTED, 3),
    )
    return classifier


def _log_passed_over(failed: Sequence[CheckOutcome], serving: CheckOutcome, cpu: dict) -> None:
    """One WARNING per variant passed over (`variant_check_failed`: what the on-call alert
    counts, a slower variant serves), and one per copy of the serving variant's graph passed
    over (`graph_check_failed`: the same variant serves from its portable copy, the same
    answers, at the speed it had before the int8-weight copy existed)."""
    passed_over: dict[str, list[CheckOutcome]] = {}
    for outcome in failed:
        if outcome.variant != serving.variant:
            passed_over.setdefault(outcome.variant, []).append(outcome)
            continue
        log_event(
            log,
            logging.WARNING,
            f"not serving {outcome.variant} from {outcome.graph}: it failed its start-up check on this "
            f"CPU; serving it from {serving.graph} instead (the same answers, slower). {outcome.describe()}",
            event="graph_check_failed",
            variant=outcome.variant,
            graph=outcome.graph,
            fallback_graph=serving.graph,
            check=outcome.as_dict(),
            cpu=cpu,
        )
    for variant, outcomes in passed_over.items():
        log_event(
            log,
            logging.WARNING,
            f"not serving {variant}: it failed its start-up check on this CPU; serving "
            f"{serving.variant} instead. " + " ".join(outcome.describe() for outcome in outcomes),
            event="variant_check_failed",
            variant=variant,
            fallback=serving.variant,
            graphs=[outcome.graph for outcome in outcomes if outcome.graph],
            check=outcomes[-1].as_dict(),  # its last copy tried: the portable one
            cpu=cpu,
        )


def _beside(state: ServiceState, work: Callable[[], T]) -> tuple[T, BaseException | None]:
    """Run `work` here while the model loads on a thread; return when both are done, with what
    `work` returned and the loader's failure, if any. An error of `work` propagates at once
    (the loader is a daemon thread: the start is refused without waiting for the model)."""
    failure: list[BaseException] = []

    def load() -> None:
        try:
            state.load()
        except BaseException as error:  # noqa: BLE001 (reported to the caller, which joins)
            failure.append(error)

    loader = threading.Thread(target=load, name="model-loader", daemon=True)
    loader.start()
    done = work()
    loader.join()
    return done, (failure[0] if failure else None)


def _load_in_worker(state: ServiceState, in_worker: Callable[[], object]) -> None:
    """Load the model on a thread while `in_worker` runs here; return when both are done, so
    the worker accepts its first request with the model loaded and checked."""
    try:
        _, failure = _beside(state, in_worker)
    except Exception as error:  # noqa: BLE001 (a fork hook cannot raise: log, then stop the worker)
        _stop_worker(f"the worker cannot start: {error}")
    if failure is not None:
        _stop_worker(f"the worker cannot load the model: {failure}")


def _stop_worker(reason: str) -> NoReturn:
    log.critical("refusing to start: %s", reason)
    logging.shutdown()
    os._exit(WORKER_BOOT_ERROR)
