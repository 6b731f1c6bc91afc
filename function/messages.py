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
`source_message_id` attribute lets consumers drop the duplicate.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from function.classifier import AssertionClassifier, Prediction, Prepared
from function.config import Settings
from function.errors import InputError, ModelNotReady, Overloaded
from function.logs import PredictionTally, log_event
from function.model_folder import LABELS

log = logging.getLogger("function.messages")
ITEM_FIELDS = frozenset({"id", "sentence", "text", "entities"})
MAX_ID_CHARS = 256
ATTRIBUTE_LIMIT = 1024  # Pub/Sub's limit on an attribute value, in bytes


class RetryLater(RuntimeError):
    """Do not acknowledge: the message should be delivered again."""


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
    prepared: Prepared
    spans: Sequence[tuple[int, int]] | None  # None for a marked sentence


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


class MessageProcessor:
    def __init__(
        self,
        classifier: Callable[[], AssertionClassifier],
        sink: Callable[[], Sink],
        *,
        source: str,
        max_bytes: int,
        max_items: int,
        allow_unmarked: bool = False,
        low_confidence_threshold: float = 0.6,
    ) -> None:
        self._classifier, self._sink = classifier, sink
        self.source, self.max_bytes, self.max_items = source, max_bytes, max_items
        self.allow_unmarked = allow_unmarked
        self.low_confidence_threshold = low_confidence_threshold

    def handle(self, envelope: Envelope) -> Outcome:
        """Process one message; raises RetryLater when it must not be acknowledged."""
        started = time.perf_counter()
        try:
            classifier = self._classifier()
        except ModelNotReady as error:
            self._log(envelope, "retry", started, error_code="not_ready")
            raise RetryLater("the model is not loaded yet") from error
        try:
            items = self._prepare(classifier, envelope)
        except InputError as error:
            try:
                self._reject(envelope, error)
            except RetryLater:
                self._log(envelope, "retry", started, error_code="errors_publish_failed")
                raise
            self._log(envelope, "rejected", started, error_code=error.code)
            return Outcome("rejected", error_code=error.code)
        inputs = Prepared(
            [x for item in items for x in item.prepared.items],
            [x for item in items for x in item.prepared.inputs],
        )
        try:
            predictions = classifier.infer_blocking(inputs, isolated=True)
        except Overloaded as error:
            self._log(envelope, "retry", started, error_code="overloaded")
            raise RetryLater("the inference queue is full") from error
        body = self._result_body(envelope, items, predictions, classifier)
        try:
            self._sink().publish_result(body, {"source_message_id": envelope.message_id})
        except Exception as error:  # noqa: BLE001 (any transport failure: redeliver, lose nothing)
            self._log(envelope, "retry", started, error_code="results_publish_failed")
            raise RetryLater(f"the result was not published: {type(error).__name__}") from None
        self._log(envelope, "published", started, predictions=predictions)
        return Outcome("published", item_count=len(predictions))

    # --- parsing ------------------------------------------------------------------------------

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
        items = [self._item(classifier, envelope, index, entry) for index, entry in enumerate(raw)]
        total = sum(len(item.prepared.inputs) for item in items)
        if total > self.max_items:
            raise InputError(
                "too_many_items",
                f"the message asks for {total} predictions; at most {self.max_items} (MAX_BATCH_SIZE)",
            )
        return items

    def _item(self, classifier: AssertionClassifier, envelope: Envelope, index: int, entry: Any) -> _Item:
        where = f"items[{index}]"
        if not isinstance(entry, dict):
            raise InputError("wrong_shape", f"{where} must be a JSON object")
        unknown = set(entry) - ITEM_FIELDS
        if unknown:  # the key names are caller input: say which are allowed instead
            raise InputError(
                "wrong_shape", f"{where} has an unknown field (allowed: {', '.join(sorted(ITEM_FIELDS))})"
            )
        item_id = entry.get("id", f"{envelope.message_id}:{index}")
        if not isinstance(item_id, str) or not item_id or len(item_id) > MAX_ID_CHARS:
            raise InputError("wrong_shape", f"{where}.id must be a string of 1 to {MAX_ID_CHARS} characters")
        if "sentence" in entry:
            if "text" in entry or "entities" in entry:
                raise InputError("wrong_shape", f"{where} has both a sentence and a text: send one form")
            if not isinstance(entry["sentence"], str):
                raise InputError("wrong_shape", f"{where}.sentence must be a string")
            prepared = classifier.prepare_sentences(
                [entry["sentence"]], where=[f"{where}.sentence"], allow_unmarked=self.allow_unmarked
            )
            return _Item(item_id, prepared, None)
        text, entities = entry.get("text"), entry.get("entities")
        if not isinstance(text, str) or not isinstance(entities, list):
            raise InputError(
                "wrong_shape", f"{where} needs a 'sentence' string, or a 'text' string and an 'entities' list"
            )
        if not entities:
            raise InputError("empty_batch", f"{where}.entities is empty")
        spans = [self._span(f"{where}.entities[{n}]", entity) for n, entity in enumerate(entities)]
        return _Item(item_id, classifier.prepare_spans(text, spans, field=f"{where}.entities"), spans)

    @staticmethod
    def _span(where: str, entity: Any) -> tuple[int, int]:
        if not isinstance(entity, dict) or set(entity) != {"start", "end"}:
            raise InputError("wrong_shape", f"{where} must be an object with 'start' and 'end' only")
        start, end = entity["start"], entity["end"]
        if type(start) is not int or type(end) is not int:  # not bools, not floats
            raise InputError("wrong_shape", f"{where}.start and .end must be integers")
        return start, end

    # --- output -------------------------------------------------------------------------------

    def _result_body(
        self,
        envelope: Envelope,
        items: Sequence[_Item],
        predictions: Sequence[Prediction],
        classifier: AssertionClassifier,
    ) -> bytes:
        remaining = iter(predictions)
        results = []
        for item in items:
            mine = [next(remaining) for _ in item.prepared.inputs]
            entries = [p.as_dict() for p in mine]
            if item.spans is not None:
                entries = [
                    {"start": s, "end": e, **entry} for (s, e), entry in zip(item.spans, entries, strict=True)
                ]
            results.append({"id": item.id, "predictions": entries})
        body = {
            "source_message_id": envelope.message_id,
            "items": results,
            "model": classifier.info.as_dict(),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

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
            raise RetryLater(f"the rejected message was not published: {type(failure).__name__}") from None

    def _log(
        self,
        envelope: Envelope,
        outcome: str,
        started: float,
        *,
        predictions: Sequence[Prediction] = (),
        error_code: str = "",
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
        level = logging.INFO if outcome == "published" else logging.WARNING
        log_event(log, level, f"{self.source} message {outcome}", **fields)


def processor_for(
    settings: Settings, classifier: Callable[[], AssertionClassifier], sink: Callable[[], Sink], source: str
) -> MessageProcessor:
    """A processor with the service's own limits: the same as its HTTP contract's."""
    return MessageProcessor(
        classifier,
        sink,
        source=source,
        max_bytes=settings.max_body_bytes,
        max_items=settings.max_batch_size,
        allow_unmarked=settings.allow_unmarked,
        low_confidence_threshold=settings.low_confidence_threshold,
    )
