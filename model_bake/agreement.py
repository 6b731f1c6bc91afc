"""The agreement gate: every exported variant against the torch fp32 reference, on the
calibration set that ships with the project (model_bake/data/calibration.jsonl).

A variant is servable only when its argmax agrees with the reference on at least
`min_agreement` of the sentences; the largest probability difference is recorded too.
With the real model this is what protects accuracy: int8 weights move probabilities, and
only the trained model's own margins say by how much its answers change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from function.core.classifier import AssertionClassifier

CALIBRATION = Path(__file__).resolve().parent / "data" / "calibration.jsonl"
DEFAULT_MIN_AGREEMENT = 0.995


def calibration_sentences() -> list[str]:
    return [json.loads(line)["sentence"] for line in CALIBRATION.read_text(encoding="utf-8").splitlines()]


def probabilities(
    folder: Path, backend: str, precision: str, sentences: list[str], threads: int
) -> np.ndarray:
    """A variant of the folder, loaded for this and closed after."""
    from function.core.classifier import AssertionClassifier

    classifier = AssertionClassifier.load(
        folder, backend=backend, precision=precision, threads=threads, servable_only=False
    )
    try:
        return probabilities_of(classifier, sentences)
    finally:
        classifier.close()


def probabilities_of(classifier: AssertionClassifier, sentences: list[str]) -> np.ndarray:
    """One row per sentence, the probabilities in the classifier's label order."""
    from function.core.markers import MarkedText

    predictions = classifier.classify(
        [MarkedText(s) for s in sentences], [f"calibration[{i}]" for i in range(len(sentences))]
    )
    return np.array([[p.scores[label] for label in classifier.labels] for p in predictions])


def measure(reference: np.ndarray, candidate: np.ndarray, min_agreement: float) -> dict[str, Any]:
    agreement = float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1)))
    return {
        "sentences": len(reference),
        "argmax_agreement": agreement,
        "max_abs_diff": float(np.abs(reference - candidate).max()),
        "min_agreement": min_agreement,
    }
