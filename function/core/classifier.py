"""`AssertionClassifier`: requests in, labels with all three probabilities out.

Transport-free: the HTTP surface, Pub/Sub and SQS adapters all call this. A request is
first prepared (every item validated and tokenized, so a bad item fails the request at once
and costs no compute), then its inputs join the micro-batcher's queue and share forward
passes with other requests' inputs. Each pass sorts its inputs by length and pads to the
longest of each chunk (never to 512: padding every input to the maximum costs about 15x on
these sentences).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from function.core.backends import Backend, load_backend
from function.core.batching import BatchLimits, MicroBatcher
from function.core.markers import MarkedText, check_sentence, check_span_text, mark_entity
from function.core.model_folder import ModelFolder, VariantEntry
from function.core.tokenization import AssertionTokenizer, ModelInput


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

    def as_dict(self) -> dict[str, object]:
        """The wire form, the same in HTTP answers and in result messages."""
        return {
            "label": self.label,
            "score": self.score,
            "scores": self.scores,
            "marked": self.marked,
            "windowed": self.windowed,
        }


@dataclass(frozen=True)
class Prepared:
    """A request that passed validation, ready for inference."""

    items: Sequence[MarkedText]
    inputs: Sequence[ModelInput]


# What a forward pass costs beyond its padded tokens (session overhead, the head), in tokens.
PASS_COST_TOKENS = 48


def softmax(logits: np.ndarray) -> np.ndarray:
    """The softmax `TextClassificationPipeline` applies, in the same float32 arithmetic."""
    shifted = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class AssertionClassifier:
    def __init__(
        self,
        folder: ModelFolder,
        variant: VariantEntry,
        backends: Sequence[Backend],
        limits: BatchLimits | None = None,
    ) -> None:
        manifest = folder.manifest
        self.manifest = manifest
        self.variant = variant
        self.labels = manifest.labels
        self.info = ModelInfo(manifest.model_id, manifest.revision, variant.backend, variant.precision)
        self.tokenizer = AssertionTokenizer.of_folder(folder)
        self._backends = list(backends)
        self.limits = limits or BatchLimits()
        self._batcher = MicroBatcher(
            [partial(self._forward, stream=stream) for stream in range(len(self._backends))], self.limits
        )

    @property
    def _backend(self) -> Backend:
        """The first stream's backend (the only one, unless several streams were asked for)."""
        return self._backends[0]

    @_backend.setter
    def _backend(self, backend: Backend) -> None:
        self._backends[0] = backend

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        *,
        backend: str = "onnx",
        precision: str = "auto",
        threads: int = 1,
        streams: int = 1,
        verify_checksums: bool = False,
        limits: BatchLimits | None = None,
        servable_only: bool = True,
    ) -> AssertionClassifier:
        """`threads` CPU threads in all, split over `streams` inference threads, each with its
        own copy of the model: several small passes at once can use the cores better than one
        pass split across them."""
        folder = ModelFolder.open(model_dir, verify_checksums=verify_checksums)
        variant = folder.select(
            backend, precision, verify_checksums=verify_checksums, servable_only=servable_only
        )
        return cls.from_folder(folder, variant, threads=threads, streams=streams, limits=limits)

    @classmethod
    def from_folder(
        cls,
        folder: ModelFolder,
        variant: VariantEntry,
        *,
        threads: int = 1,
        streams: int = 1,
        limits: BatchLimits | None = None,
    ) -> AssertionClassifier:
        """Load a variant of a folder already opened and checked (see `load`)."""
        per_stream = max(1, threads // streams)
        backends = [load_backend(variant, folder, threads=per_stream) for _ in range(streams)]
        return cls(folder, variant, backends, limits)

    def close(self) -> None:
        self._batcher.close()

    @property
    def pending(self) -> int:
        """Inputs waiting for inference now (the micro-batcher's queue)."""
        return self._batcher.pending

    # --- preparing requests (any thread) -----------------------------------------------------

    def prepare_sentences(
        self, sentences: Sequence[str], *, where: Sequence[str], allow_unmarked: bool = False
    ) -> Prepared:
        """Pre-marked sentences (``... [entity] X [entity] ...``), one input each."""
        items = [
            check_sentence(sentence, where=name, allow_unmarked=allow_unmarked)
            for sentence, name in zip(sentences, where, strict=True)
        ]
        return self.prepare(items, where)

    def prepare_spans(
        self, text: str, spans: Sequence[tuple[int, int]], *, where: Sequence[str], text_where: str = "text"
    ) -> Prepared:
        """One text and concept offsets into it; the markers are written here, one input each.
        `where` names each span in errors (``entities[0]``), `text_where` the text."""
        check_span_text(text, where=text_where)
        items = [
            mark_entity(text, start, end, where=name) for (start, end), name in zip(spans, where, strict=True)
        ]
        return self.prepare(items, where)

    def prepare(self, items: Sequence[MarkedText], where: Sequence[str]) -> Prepared:
        return Prepared(items, self.tokenizer.encode(items, where))

    # --- inference ---------------------------------------------------------------------------

    async def infer(self, prepared: Prepared) -> list[Prediction]:
        """Await the predictions without holding a thread (for async callers)."""
        probabilities = await asyncio.wrap_future(self._batcher.submit(prepared.inputs))
        return self._predictions(prepared, probabilities)

    def infer_blocking(self, prepared: Prepared, *, isolated: bool = False) -> list[Prediction]:
        """`isolated`: run in passes of its own, so the same request always gives the same
        bits (see `MicroBatcher.submit`)."""
        future = self._batcher.submit(prepared.inputs, isolated=isolated)
        return self._predictions(prepared, future.result())

    def classify(self, items: Sequence[MarkedText], where: Sequence[str]) -> list[Prediction]:
        return self.infer_blocking(self.prepare(items, where))

    def classify_sentences(
        self, sentences: Sequence[str], *, where: Sequence[str], allow_unmarked: bool = False
    ) -> list[Prediction]:
        return self.infer_blocking(
            self.prepare_sentences(sentences, where=where, allow_unmarked=allow_unmarked)
        )

    def probabilities_in_one_pass(self, sentences: Sequence[str]) -> np.ndarray:
        """Marked sentences in ONE forward pass, outside the queue, one row each: the
        start-up check's pass. With int8 activations quantized per pass, only the same pass
        gives the same numbers, so the bake records and the service checks exactly this."""
        where = [f"check[{index}]" for index in range(len(sentences))]
        inputs = self.tokenizer.encode(
            [check_sentence(s, where=w) for s, w in zip(sentences, where, strict=True)], where
        )
        ids, mask = self._pad(inputs)
        return softmax(self._backend.logits(ids, mask).astype(np.float32, copy=False))

    def _predictions(self, prepared: Prepared, probabilities: np.ndarray) -> list[Prediction]:
        return [
            self._prediction(row, item, model_input)
            for row, item, model_input in zip(probabilities, prepared.items, prepared.inputs, strict=True)
        ]

    def _forward(self, inputs: Sequence[ModelInput], stream: int = 0) -> np.ndarray:
        """Probabilities for inputs in their order; runs on the stream's inference thread."""
        probabilities = np.zeros((len(inputs), len(self.labels)), dtype=np.float32)
        for chunk in self._chunks(inputs):
            ids, mask = self._pad([inputs[index] for index in chunk])
            logits = self._backends[stream].logits(ids, mask)
            probabilities[chunk] = softmax(logits.astype(np.float32, copy=False))
        return probabilities

    def _chunks(self, inputs: Sequence[ModelInput]) -> list[list[int]]:
        """Indices grouped into forward passes, sorted by length. The split minimizes the
        padded tokens computed plus a fixed cost per pass, so one long sentence does not
        pad thirty short ones to its length, and short ones still share a pass."""
        order = sorted(range(len(inputs)), key=lambda index: len(inputs[index].ids))
        lengths = [len(inputs[index].ids) for index in order]
        count = len(order)
        # best[i]: least cost of the first i inputs; cut[i]: where their last pass starts.
        best = [0.0] + [float("inf")] * count
        cut = [0] * (count + 1)
        for end in range(1, count + 1):
            longest = lengths[end - 1]
            for begin in range(end - 1, -1, -1):
                size = end - begin
                if size > self.limits.max_items or (size > 1 and size * longest > self.limits.max_tokens):
                    break
                cost = best[begin] + size * longest + PASS_COST_TOKENS
                if cost < best[end]:
                    best[end], cut[end] = cost, begin
        chunks: list[list[int]] = []
        end = count
        while end > 0:
            chunks.append(order[cut[end] : end])
            end = cut[end]
        return chunks[::-1]

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
