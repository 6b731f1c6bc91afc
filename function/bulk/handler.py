"""The RunInference model handler: the baked folder loaded once per worker process (Beam
shares it across the process's threads), the same variant the service would serve after the
same start-up check, and batches cut by tokens the way the service cuts them.

Each element is a `Line` whose item parsed; the handler prepares (validates and tokenizes)
every item of a batch, runs the prepared ones together (the core sorts them by length and
splits them into passes that minimize padding), and answers one `Outcome` per element: its
predictions, or the input error that makes it a dead letter. A fault of the model itself
(not of an item) raises: Beam retries the bundle, and a pipeline never writes a silent wrong
answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler

from function.core.batching import BatchLimits
from function.core.classifier import AssertionClassifier, Prediction, Prepared
from function.core.errors import InputError
from function.core.items import Item, prepare
from function.core.model_folder import ModelFolder
from function.core.variant_check import load_checked

log = logging.getLogger("function.bulk")
NAMESPACE = "assertion_bulk"


@dataclass(frozen=True)
class Line:
    """One input line: where it came from, and the line whole (it is what a dead letter
    carries). `item_id` and `item` are set once the line parsed."""

    file: str
    number: int
    text: str
    item_id: str = ""
    item: Item | None = None


@dataclass(frozen=True)
class Outcome:
    line: Line
    predictions: list[Prediction] = field(default_factory=list)
    error: InputError | None = None
    model: dict[str, str] = field(default_factory=dict)  # id, revision, backend, precision


@dataclass(frozen=True)
class BulkSettings:
    """What a worker needs to load the model: the service's own settings, picked."""

    model_dir: str
    backend: str = "onnx"
    precision: str = "auto"
    threads: int = 1
    batch_max_items: int = 32
    batch_max_tokens: int = 8192
    allow_unmarked: bool = False
    low_confidence_threshold: float = 0.6
    # Passes of one item each: results independent of what else is in a batch (int8
    # activations are quantized per pass), for byte-identical reruns.
    isolated: bool = False
    min_batch_size: int = 8
    max_batch_size: int = 256


class AssertionModelHandler(ModelHandler[Line, Outcome, AssertionClassifier]):
    def __init__(self, settings: BulkSettings) -> None:
        super().__init__()
        self.settings = settings
        self._batch_sizes = Metrics.distribution(NAMESPACE, "batch_size")
        self._items = Metrics.counter(NAMESPACE, "items_predicted")
        self._rejected = Metrics.counter(NAMESPACE, "rejected")
        self._windowed = Metrics.counter(NAMESPACE, "windowed")
        self._low_confidence = Metrics.counter(NAMESPACE, "low_confidence")

    def load_model(self) -> AssertionClassifier:
        s = self.settings
        folder = ModelFolder.open(s.model_dir)
        checked = load_checked(
            folder,
            folder.candidates(s.backend, s.precision),
            threads=s.threads,
            # One request holds a whole Beam batch: no queue limit applies to it.
            limits=BatchLimits(
                max_items=s.batch_max_items, max_tokens=s.batch_max_tokens, max_pending=1 << 30
            ),
        )
        for failed in checked.failed:
            log.warning(
                "not using %s: it failed its start-up check on this CPU; using %s. %s",
                failed.variant,
                checked.classifier.variant.name,
                failed.describe(),
            )
        info = checked.classifier.info
        log.info(
            "bulk worker ready: %s@%s on %s/%s", info.id, info.revision[:12], info.backend, info.precision
        )
        return checked.classifier

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {
            "min_batch_size": self.settings.min_batch_size,
            "max_batch_size": self.settings.max_batch_size,
        }

    def run_inference(
        self,
        batch: Sequence[Line],
        model: AssertionClassifier,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[Outcome]:
        self._batch_sizes.update(len(batch))
        prepared: list[Prepared | None] = []
        errors: list[InputError | None] = []
        for line in batch:
            assert line.item is not None, "only parsed lines reach the model"
            try:
                prepared.append(prepare(model, line.item, allow_unmarked=self.settings.allow_unmarked))
                errors.append(None)
            except InputError as invalid:
                prepared.append(None)
                errors.append(invalid)
        answers = self._infer(model, [p for p in prepared if p is not None])
        outcomes: list[Outcome] = []
        for line, ready, problem in zip(batch, prepared, errors, strict=True):
            if ready is None:
                self._rejected.inc()
                outcomes.append(Outcome(line, error=problem))
                continue
            predictions = next(answers)
            self._items.inc()
            self._windowed.inc(sum(p.windowed for p in predictions))
            self._low_confidence.inc(
                sum(p.score < self.settings.low_confidence_threshold for p in predictions)
            )
            outcomes.append(Outcome(line, predictions=predictions, model=model.info.as_dict()))
        return outcomes

    def _infer(self, model: AssertionClassifier, prepared: list[Prepared]) -> Iterator[list[Prediction]]:
        """Predictions per prepared item, in order. Together: one request of all their inputs,
        which the core cuts into length-sorted passes; isolated: passes of each item alone."""
        if not prepared:
            return iter(())
        if self.settings.isolated:
            return iter([model.infer_blocking(p, isolated=True) for p in prepared])
        combined = Prepared(
            [item for p in prepared for item in p.items], [inp for p in prepared for inp in p.inputs]
        )
        flat = model.infer_blocking(combined)
        answers, start = [], 0
        for p in prepared:
            answers.append(flat[start : start + len(p.inputs)])
            start += len(p.inputs)
        return iter(answers)

    def get_metrics_namespace(self) -> str:
        return NAMESPACE
