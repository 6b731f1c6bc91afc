"""`AssertionClassifier`: requests in, labels with all three probabilities out.

Transport-free: the HTTP surface, Pub/Sub and SQS adapters all call this. Every item of a
request is validated and tokenized before any inference runs, so a bad item fails the
request at once and costs no compute. Inputs are sorted by length and run in chunks padded
to the longest of the chunk (never to 512: padding every input to the maximum costs about
15x on these sentences).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from function.backends import Backend, load_backend
from function.markers import MarkedText, check_sentence, check_span_text, mark_entity
from function.model_folder import ModelFolder
from function.tokenization import AssertionTokenizer, ModelInput


@dataclass(frozen=True)
class ModelInfo:
    id: str
    revision: str
    backend: str
    precision: str

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "revision": self.revision,
            "backend": self.backend,
            "precision": self.precision,
        }


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    scores: dict[str, float]
    marked: bool
    windowed: bool


def softmax(logits: np.ndarray) -> np.ndarray:
    """The softmax `TextClassificationPipeline` applies, in the same float32 arithmetic."""
    shifted = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class AssertionClassifier:
    def __init__(
        self,
        folder: ModelFolder,
        backend: Backend,
        *,
        batch_items: int = 32,
        batch_tokens: int = 16384,
    ) -> None:
        manifest = folder.manifest
        self.manifest = manifest
        self.labels = manifest.labels
        self.info = ModelInfo(manifest.model_id, manifest.revision, backend.name, backend.precision)
        self.tokenizer = AssertionTokenizer.from_file(folder.file("tokenizer.json"), manifest.max_length)
        self._backend = backend
        self._batch_items = batch_items
        self._batch_tokens = batch_tokens
        # One forward pass at a time: the backend already uses every core it was given, and
        # two passes at once would only fight over them.
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        *,
        backend: str = "torch",
        threads: int = 1,
        verify_checksums: bool = False,
        batch_items: int = 32,
    ) -> AssertionClassifier:
        folder = ModelFolder.open(model_dir, verify_checksums=verify_checksums)
        return cls(folder, load_backend(backend, folder, threads=threads), batch_items=batch_items)

    def classify_sentences(
        self, sentences: Sequence[str], *, where: Sequence[str], allow_unmarked: bool = False
    ) -> list[Prediction]:
        """Pre-marked sentences (``... [entity] X [entity] ...``), one prediction each."""
        items = [
            check_sentence(sentence, where=name, allow_unmarked=allow_unmarked)
            for sentence, name in zip(sentences, where, strict=True)
        ]
        return self.classify(items, where)

    def classify_spans(
        self, text: str, spans: Sequence[tuple[int, int]], *, field: str = "entities"
    ) -> list[Prediction]:
        """One text and concept offsets into it; the markers are written here, one input each."""
        check_span_text(text, where="text")
        where = [f"{field}[{index}]" for index in range(len(spans))]
        items = [
            mark_entity(text, start, end, where=name) for (start, end), name in zip(spans, where, strict=True)
        ]
        return self.classify(items, where)

    def classify(self, items: Sequence[MarkedText], where: Sequence[str]) -> list[Prediction]:
        inputs = self.tokenizer.encode(items, where)
        results: list[Prediction | None] = [None] * len(inputs)
        for chunk in self._chunks(inputs):
            ids, mask = self._pad([inputs[index] for index in chunk])
            with self._lock:
                logits = self._backend.logits(ids, mask)
            probabilities = softmax(logits.astype(np.float32, copy=False))
            for row, index in enumerate(chunk):
                results[index] = self._prediction(probabilities[row], items[index], inputs[index])
        return results  # type: ignore[return-value]  # every slot is filled above

    def _chunks(self, inputs: Sequence[ModelInput]) -> list[list[int]]:
        """Indices grouped into forward passes: sorted by length, bounded by items and by
        padded tokens."""
        order = sorted(range(len(inputs)), key=lambda index: len(inputs[index].ids))
        chunks: list[list[int]] = []
        current: list[int] = []
        for index in order:
            longest = len(inputs[index].ids)  # sorted: the newest is the longest
            if current and (
                len(current) >= self._batch_items or longest * (len(current) + 1) > self._batch_tokens
            ):
                chunks.append(current)
                current = []
            current.append(index)
        if current:
            chunks.append(current)
        return chunks

    def _pad(self, inputs: Sequence[ModelInput]) -> tuple[np.ndarray, np.ndarray]:
        length = max(len(item.ids) for item in inputs)
        ids = np.full((len(inputs), length), self.tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(inputs), length), dtype=np.int64)
        for row, item in enumerate(inputs):
            ids[row, : len(item.ids)] = item.ids
            mask[row, : len(item.ids)] = 1
        return ids, mask

    def _prediction(self, probabilities: np.ndarray, item: MarkedText, model_input: ModelInput) -> Prediction:
        best = int(np.argmax(probabilities))
        return Prediction(
            label=self.labels[best],
            score=float(probabilities[best]),
            scores={label: float(p) for label, p in zip(self.labels, probabilities, strict=True)},
            marked=item.marked,
            windowed=model_input.windowed,
        )
