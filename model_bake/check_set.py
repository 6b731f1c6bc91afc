"""Choose and record each servable variant's start-up check (run by `function.core.variant_check`
in every serving process, on its own CPU, before it reports ready).

The check must be cheap (it runs at every cold start) and sharp (kernels that compute other
numbers must fail it). So it is a handful of short calibration sentences, run as ONE forward
pass, chosen where this variant moved furthest from the fp32 reference on the calibration
set; a sentence whose two likeliest labels are within `MARGIN_FLOOR` of each other in that
pass is replaced, so that no label of the check can flip on float rounding alone. What is
recorded is exactly that pass on the bake's CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from function.core.variant_check import CheckSet, distance

if TYPE_CHECKING:
    from function.core.classifier import AssertionClassifier

CHECK_SIZE = 4
MAX_CHECK_TOKENS = 16
MARGIN_FLOOR = 0.02
# How much further from the reference a check answer may move than it was at bake. Exact
# int8 kernels on another CPU move answers by far less (float rounding that shifts a
# quantized activation by one step); kernels with saturated sums move them by tenths.
TOLERANCE = {"int8": 0.02, "fp32": 0.002}


def margins(probabilities: np.ndarray) -> np.ndarray:
    ordered = np.sort(probabilities, axis=1)
    return ordered[:, -1] - ordered[:, -2]


def build(
    classifier: AssertionClassifier,
    sentences: Sequence[str],
    reference: np.ndarray,
    answers: np.ndarray,
) -> CheckSet:
    """`reference`, `answers`: the reference's and this variant's probabilities on
    `sentences` (the calibration set), as the agreement gate measured them."""
    lengths = [
        len(model_input.ids)
        for model_input in classifier.tokenizer.encode(
            [_marked(sentence) for sentence in sentences], [f"s[{i}]" for i in range(len(sentences))]
        )
    ]
    moved = distance(answers, reference)
    pool = sorted(
        (index for index, length in enumerate(lengths) if length <= MAX_CHECK_TOKENS),
        key=lambda index: (-moved[index], index),
    )
    if len(pool) < CHECK_SIZE:
        raise ValueError(f"only {len(pool)} calibration sentences are short enough for the start-up check")
    chosen, rest = pool[:CHECK_SIZE], pool[CHECK_SIZE:]
    while True:
        texts = [sentences[index] for index in chosen]
        baked = classifier.probabilities_in_one_pass(texts)
        tied = [position for position, margin in enumerate(margins(baked)) if margin < MARGIN_FLOOR]
        if not tied or len(rest) < len(tied):
            break
        chosen = [index for position, index in enumerate(chosen) if position not in tied] + rest[: len(tied)]
        rest = rest[len(tied) :]
    return CheckSet(
        sentences=tuple(texts),
        reference=np.asarray(reference[chosen], dtype=np.float64),
        baked=np.asarray(baked, dtype=np.float64),
        tolerance=TOLERANCE[classifier.variant.precision],
    )


def _marked(sentence: str):
    from function.core.markers import MarkedText

    return MarkedText(sentence)
