"""The core classifier in-process: batching pads to the longest of each chunk, answers do not
depend on how inputs were batched, and concurrent callers each get their own answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from function.classifier import AssertionClassifier
from function.markers import MarkedText
from tests.support.models import calibration_sentences


class RecordingBackend:
    """Passes every call to the real backend and remembers the shapes it was given."""

    def __init__(self, backend) -> None:
        self.backend, self.shapes = backend, []
        self.name, self.precision = backend.name, backend.precision

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.shapes.append(input_ids.shape)
        return self.backend.logits(input_ids, attention_mask)


@pytest.fixture(scope="module")
def classifier(baked_model: Path) -> AssertionClassifier:
    return AssertionClassifier.load(baked_model, threads=1, batch_items=8)


def items(sentences: list[str]) -> tuple[list[MarkedText], list[str]]:
    return [MarkedText(s) for s in sentences], [f"s[{i}]" for i in range(len(sentences))]


def test_batches_pad_to_the_longest_of_each_chunk_not_to_512(classifier: AssertionClassifier) -> None:
    sentences = [s for s in calibration_sentences() if len(s) < 400][:20]
    recorder = RecordingBackend(classifier._backend)
    classifier._backend = recorder
    try:
        classifier.classify(*items(sentences))
    finally:
        classifier._backend = recorder.backend
    lengths = sorted(len(item.ids) for item in classifier.tokenizer.encode(*items(sentences)))
    assert [rows for rows, _ in recorder.shapes] == [8, 8, 4]  # batch_items=8
    # Sorted by length: each chunk is as wide as its own longest input.
    assert [width for _, width in recorder.shapes] == [lengths[7], lengths[15], lengths[19]]
    assert max(width for _, width in recorder.shapes) < 100


def test_answers_do_not_depend_on_batching(classifier: AssertionClassifier) -> None:
    sentences = calibration_sentences()[::9]
    together = classifier.classify(*items(sentences))
    for sentence, prediction in zip(sentences, together, strict=True):
        alone = classifier.classify(*items([sentence]))[0]
        assert alone.label == prediction.label and alone.windowed == prediction.windowed
        for label in alone.scores:
            assert alone.scores[label] == pytest.approx(prediction.scores[label], abs=1e-6)


def test_concurrent_callers_each_get_their_own_answer(classifier: AssertionClassifier) -> None:
    groups = [calibration_sentences()[offset::40][:6] for offset in range(16)]
    expected = [classifier.classify(*items(group)) for group in groups]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda group: classifier.classify(*items(group)), groups))
    for want, got in zip(expected, results, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.label == b.label
            assert a.scores == pytest.approx(b.scores, abs=1e-6)


def test_a_bad_item_fails_the_request_before_any_inference(classifier: AssertionClassifier) -> None:
    from function.errors import InputError

    recorder = RecordingBackend(classifier._backend)
    classifier._backend = recorder
    try:
        with pytest.raises(InputError) as caught:
            classifier.classify_sentences(["ok [entity] a [entity]", "no markers"], where=["s[0]", "s[1]"])
    finally:
        classifier._backend = recorder.backend
    assert caught.value.code == "unmarked_sentence" and recorder.shapes == []
