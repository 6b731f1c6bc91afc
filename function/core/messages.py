"""Event messages (Pub/Sub, SQS): the message contract, transport-free.

A message body is JSON: one request item or a list of them, each either
``{"id": "...", "sentence": "..."}`` or ``{"id": "...", "text": "...", "entities": [{"start", "end"}]}``,
validated exactly as the HTTP contract validates the same fields. For a valid message, one
result message goes to the results sink; for a message that can never succeed, the message
itself goes whole to the errors sink with a reason code; either way the caller may then
acknowledge it. A failure that may pass on retry (model not ready, a sink that did not
confirm) raises `RetryLater`: the message must not be acknowledged, so it is redelivered.

Result bodies are deterministic (no timestamps, sorted keys, the message's items run in
passes of their own): delivering the same message twice yields the same body, and the
`source_message_id` attribute lets consumers drop the duplicate. A message with the attribute
``format=fhir`` (and optionally ``bundle_type=transaction``) is answered with one FHIR R4
Bundle for all its items (`function.core.fhir`); there only ``Provenance.recorded`` differs
between deliveries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from function.core import fhir, items
from function.core.classifier import AssertionClassifier, Prediction, Prepared
from function.core.errors import InputError, ModelNotReady, Overloaded
from function.core.logs import PredictionTally, log_event
from function.core.model_folder import LABELS

log = logging.getLogger("function.messages")
ATTRIBUTE_LIMIT = 1024  # Pub/Sub's limit on an attribute value, in bytes
FORMAT, BUNDLE_TYPE = "format", "bundle_type"  # message attributes: how the result is written


class RetryLater(RuntimeError):
    """Do not acknowledge: the message should be delivered again. `cause` names the failure's
    class (e.g. NotFound, TimeoutError) for the log line; never a message, which may quote data."""

    def __init__(self, message: str, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class Envelope:
    """One delivered message, whatever the transport."""

    message_id: str
    data: bytes
    attributes: Mapping[str, str]


class Sink(Protocol):
    """Where results and rejected messages go. Each call returns only once the transport
    confirmed the publish, and raises otherwise."""

    def publish_result(self, body: bytes, attributes: dict[str, str]) -> None: ...

    def publish_error(self, body: bytes, attributes: dict[str, str]) -> None: ...


@dataclass(frozen=True)
class Outcome:
    status: str  # "published" (results sent) or "rejected" (sent to the errors sink)
    item_count: int = 0
    error_code: str = ""


@dataclass(frozen=True)
class _Item:
    id: str
    item: items.Item
    prepared: Prepared


class Lazy:
    """Makes its object (a transport client) on first use, in the process that serves: gRPC
    channels, like the model's thread pools, must not cross gunicorn's fork."""

    def __init__(self, make: Any) -> None:
        self._make, self._made, self._lock = make, None, threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._made is None:
                self._made = self._make()
            return self._made


@dataclass(frozen=True)
class MessageLimits:
    """The service's own limits, the same as its HTTP contract's (`Settings.message_limits`)."""

    max_bytes: int = 1 << 20
    max_items: int = 100
    allow_unmarked: bool = False
    low_confidence_threshold: float = 0.6


class MessageProcessor:
    def __init__(
        self,
        classifier: Callable[[], AssertionClassifier],
        sink: Callable[[], Sink],
        *,
        source: str,
        limits: MessageLimits | None = None,
    ) -> None:
        self._classifier, self._sink, self.source = classifier, sink, source
        limits = limits or MessageLimits()
        self.max_bytes, self.max_items = limits.max_bytes, limits.max_items
        self.allow_unmarked = limits.allow_unmarked
        self.low_confidence_threshold = limits.low_confidence_threshold

    def handle(self, envelope: Envelope) -> Outcome:
        """Process one message; raises RetryLater when it must not be acknowledged."""
        started = time.perf_counter()
        try:
            classifier = self._classifier()
        except ModelNotReady as error:
            self._log(envelope, "retry", started, error_code="not_ready")
            raise RetryLater("the model is not loaded yet") from error
        try:
            bundle_type = self._format(envelope)
            parsed = self._prepare(classifier, envelope)
        except InputError as error:
            try:
                self._reject(envelope, error)
            except RetryLater as retry:
                self._log(envelope, "retry", started, error_code="errors_publish_failed", cause=retry.cause)
                raise
            self._log(envelope, "rejected", started, error_code=error.code)
            return Outcome("rejected", error_code=error.code)
        inputs = Prepared(
            [x for entry in parsed for x in entry.prepared.items],
            [x for entry in parsed for x in entry.prepared.inputs],
        )
        try:
            predictions = classifier.infer_blocking(inputs, isolated=True)
        except Overloaded as error:
            self._log(envelope, "retry", started, error_code="overloaded")
            raise RetryLater("the inference queue is full") from error
        attributes = {"source_message_id": envelope.message_id}
        if bundle_type:
            body = self._fhir_body(envelope, parsed, predictions, classifier, bundle_type)
            attributes[FORMAT] = "fhir"
        else:
            body = self._result_body(envelope, parsed, predictions, classifier)
        try:
            self._sink().publish_result(body, attributes)
        except Exception as error:  # noqa: BLE001 (any transport failure: redeliver, lose nothing)
            cause = type(error).__name__
            self._log(envelope, "retry", started, error_code="results_publish_failed", cause=cause)
            raise RetryLater(f"the result was not published: {cause}", cause) from None
        self._log(envelope, "published", started, predictions=predictions)
        return Outcome("published", item_count=len(predictions))

    # --- parsing ------------------------------------------------------------------------------

    @staticmethod
    def _format(envelope: Envelope) -> str | None:
        """The message's `format` attribute: json (the default) or fhir, with `bundle_type`."""
        answer_format = envelope.attributes.get(FORMAT, "json")
        if answer_format not in ("json", "fhir"):
            raise InputError("bad_format", f"the {FORMAT} attribute must be json or fhir")
        if answer_format == "json":
            return None
        return fhir.check_bundle_type(envelope.attributes.get(BUNDLE_TYPE), f"the {BUNDLE_TYPE} attribute")

    def _prepare(self, classifier: AssertionClassifier, envelope: Envelope) -> list[_Item]:
        if len(envelope.data) > self.max_bytes:
            raise InputError("too_large", f"the message body is larger than {self.max_bytes} bytes")
        try:
            body = json.loads(envelope.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InputError("not_json", "the message body is not UTF-8 JSON") from None
        raw = [body] if isinstance(body, dict) else body
        if not isinstance(raw, list):
            raise InputError("wrong_shape", "the message body must be a JSON object or a list of them")
        if not raw:
            raise InputError("empty_message", "the message holds no item")
        parsed = [self._item(classifier, envelope, index, entry) for index, entry in enumerate(raw)]
        total = sum(len(entry.prepared.inputs) for entry in parsed)
        if total > self.max_items:
            raise InputError(
                "too_many_items",
                f"the message asks for {total} predictions; at most {self.max_items} (MAX_BATCH_SIZE)",
            )
        return parsed

    def _item(self, classifier: AssertionClassifier, envelope: Envelope, index: int, entry: Any) -> _Item:
        where = f"items[{index}]"
        item_id, item = items.parse_item(entry, where, default_id=f"{envelope.message_id}:{index}")
        return _Item(
            item_id, item, items.prepare(classifier, item, where, allow_unmarked=self.allow_unmarked)
        )

    # --- output -------------------------------------------------------------------------------

    def _result_body(
        self,
        envelope: Envelope,
        parsed: Sequence[_Item],
        predictions: Sequence[Prediction],
        classifier: AssertionClassifier,
    ) -> bytes:
        remaining = iter(predictions)
        results = []
        for entry in parsed:
            mine = [next(remaining) for _ in entry.prepared.inputs]
            results.append({"id": entry.id, "predictions": items.answer(entry.item, mine)})
        body = {
            "source_message_id": envelope.message_id,
            "items": results,
            "model": classifier.info.as_dict(),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def _fhir_body(
        self,
        envelope: Envelope,
        parsed: Sequence[_Item],
        predictions: Sequence[Prediction],
        classifier: AssertionClassifier,
        bundle_type: str,
    ) -> bytes:
        remaining = iter(predictions)
        answered = [
            fhir.Answered(entry.id, entry.item, [next(remaining) for _ in entry.prepared.inputs])
            for entry in parsed
        ]
        bundle = fhir.bundle(
            answered,
            classifier.info,
            seed=envelope.message_id,
            bundle_type=bundle_type,
            low_confidence_threshold=self.low_confidence_threshold,
        )
        return json.dumps(bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def _reject(self, envelope: Envelope, error: InputError) -> None:
        ours = {
            "source_message_id": envelope.message_id,
            "error_code": error.code,
            "error_message": error.message.encode()[:ATTRIBUTE_LIMIT].decode(errors="ignore"),
        }
        # Ours first: a transport that keeps only some attributes (SQS: 10) keeps the reason.
        attributes = {**ours, **{k: v for k, v in envelope.attributes.items() if k not in ours}}
        try:
            self._sink().publish_error(envelope.data, attributes)
        except Exception as failure:  # noqa: BLE001 (not parked yet: redeliver, lose nothing)
            cause = type(failure).__name__
            raise RetryLater(f"the rejected message was not published: {cause}", cause) from None

    def _log(
        self,
        envelope: Envelope,
        outcome: str,
        started: float,
        *,
        predictions: Sequence[Prediction] = (),
        error_code: str = "",
        cause: str = "",
    ) -> None:
        tally = PredictionTally()
        tally.add(predictions, self.low_confidence_threshold)
        fields: dict[str, Any] = {
            "event": "message",
            "source": self.source,
            "message_id": envelope.message_id,
            "outcome": outcome,
            "bytes": len(envelope.data),
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            **tally.fields(LABELS),
        }
        if error_code:
            fields["error_code"] = error_code
        if cause:
            fields["cause"] = cause
        level = logging.INFO if outcome == "published" else logging.WARNING
        log_event(log, level, f"{self.source} message {outcome}", **fields)
