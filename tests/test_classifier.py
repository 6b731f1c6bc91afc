"""The core classifier in-process: forward passes pad to their longest input, answers do
not depend on how inputs were batched, and concurrent callers each get their own answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from function.core.batching import BatchLimits
from function.core.classifier import AssertionClassifier
from function.core.errors import InputError
from function.core.markers import MarkedText
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
def classifier(baked_model: Path):
    loaded = AssertionClassifier.load(
        baked_model, backend="torch", precision="fp32", threads=1, limits=BatchLimits(max_items=8, max_wait=0)
    )
    yield loaded
    loaded.close()


@pytest.fixture
def recorder(classifier: AssertionClassifier):
    recording = RecordingBackend(classifier._backend)
    classifier._backend = recording
    yield recording
    classifier._backend = recording.backend


def items(sentences: list[str]) -> tuple[list[MarkedText], list[str]]:
    return [MarkedText(s) for s in sentences], [f"s[{i}]" for i in range(len(sentences))]


def test_passes_pad_to_their_longest_input_not_to_512(classifier: AssertionClassifier, recorder) -> None:
    sentences = [s for s in calibration_sentences() if len(s) < 400][:20]
    classifier.classify(*items(sentences))
    lengths = [len(i.ids) for i in classifier.tokenizer.encode(*items(sentences))]
    assert [rows for rows, _ in recorder.shapes] == [8, 8, 4]  # max_items=8
    # Each pass is as wide as the longest input it holds, far below the 512 maximum.
    assert [width for _, width in recorder.shapes] == [
        max(lengths[0:8]),
        max(lengths[8:16]),
        max(lengths[16:]),
    ]
    assert max(width for _, width in recorder.shapes) < 100


def test_a_pass_is_bounded_by_tokens_too(baked_model: Path) -> None:
    limited = AssertionClassifier.load(
        baked_model,
        backend="torch",
        precision="fp32",
        limits=BatchLimits(max_items=32, max_tokens=600, max_wait=0),
    )
    recorder = RecordingBackend(limited._backend)
    limited._backend = recorder
    try:
        long = [s for s in calibration_sentences() if len(s) > 1500][:4]  # windowed to ~512 tokens
        limited.classify(*items(long))
    finally:
        limited.close()
    assert all(rows * width <= 600 for rows, width in recorder.shapes) and len(recorder.shapes) == 4


def test_answers_do_not_depend_on_batching(classifier: AssertionClassifier) -> None:
    sentences = calibration_sentences()[::9]
    together = classifier.classify(*items(sentences))
    for sentence, prediction in zip(sentences, together, strict=True):
        alone = classifier.classify(*items([sentence]))[0]
        assert alone.label == prediction.label and alone.windowed == prediction.windowed
        assert alone.scores == pytest.approx(prediction.scores, abs=1e-5)


def test_concurrent_callers_share_passes_and_each_get_their_own_answer(baked_model: Path) -> None:
    shared = AssertionClassifier.load(
        baked_model, backend="torch", precision="fp32", limits=BatchLimits(max_items=32, max_wait=0.05)
    )
    recorder = RecordingBackend(shared._backend)
    try:
        groups = [calibration_sentences()[offset::40][:3] for offset in range(16)]
        expected = [shared.classify(*items(group)) for group in groups]
        shared._backend = recorder
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda group: shared.classify(*items(group)), groups))
    finally:
        shared.close()
    assert len(recorder.shapes) < len(groups)  # requests were joined into shared passes
    for want, got in zip(expected, results, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.label == b.label
            assert a.scores == pytest.approx(b.scores, abs=1e-5)


def test_a_bad_item_fails_the_request_before_any_inference(classifier: AssertionClassifier, recorder) -> None:
    with pytest.raises(InputError) as caught:
        classifier.classify_sentences(["ok [entity] a [entity]", "no markers"], where=["s[0]", "s[1]"])
    assert caught.value.code == "unmarked_sentence" and recorder.shapes == []
