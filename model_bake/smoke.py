"""The bake's last gate: load the baked folder the way the runtime will, and compare it with
the reference (`TextClassificationPipeline` on the source files) on a fixed set of sentences.

Any difference in tokenization, any probability further than `TOLERANCE` from the reference,
any non-finite output, or weights the model had to initialize because the checkpoint lacked
them, fails the bake: a folder that would serve wrong answers must never ship.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_bake.errors import BakeError

if TYPE_CHECKING:
    from function.core.classifier import AssertionClassifier

TOLERANCE = 1e-5

SMOKE_SENTENCES = (
    "Patient denies [entity] shortness of breath [entity].",
    "The patient reports [entity] chest pain [entity] radiating to the left arm.",
    "No evidence of [entity] pneumothorax [entity] on the chest x-ray.",
    "Findings are concerning for [entity] pneumonia [entity], clinical correlation advised.",
    "[entity] Hypertension [entity].",
    "Mother has a history of [entity] breast cancer [entity].",
    "Rule out [entity] myocardial infarction [entity].",
    "She was started on metformin for [entity] type 2 diabetes [entity] in 2015.",
    "Possible [entity] small left pleural effusion [entity].",
    "Extremities reveal no peripheral cyanosis or [entity] edema [entity].",
    "If he develops [entity] fever [entity], return to the emergency department.",
    "Héllo: [entity] CAFÉ-au-lait spots [entity] noted (naïve exam) 中文.",
)
# Longer than any BERT window: the concept sits near the end, so a tail cut would lose it.
LONG_SENTENCE = "Vital signs were stable on every check. " * 120 + (
    "Today the patient denies [entity] abdominal pain [entity]."
)


def load_reference(baked_dir: Path, *, threads: int = 1) -> AssertionClassifier:
    """The baked folder's torch fp32 variant, loaded as the runtime loads it: what the smoke
    set and the agreement gate both compare against. The caller closes it."""
    from function.core.classifier import AssertionClassifier
    from function.core.errors import ModelFolderError

    try:
        return AssertionClassifier.load(
            baked_dir, backend="torch", precision="fp32", threads=threads, servable_only=False
        )
    except ModelFolderError as error:
        raise BakeError(f"the baked folder does not load: {error}") from None


def run(source_dir: Path, baked_dir: Path, classifier: AssertionClassifier) -> dict[str, Any]:
    """`classifier`: the folder's reference variant (`load_reference`)."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        TextClassificationPipeline,
    )
    from transformers.utils import logging as hf_logging

    from function.core.markers import MarkedText

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    reference_tokenizer = AutoTokenizer.from_pretrained(source_dir, local_files_only=True)
    baked_tokenizer = AutoTokenizer.from_pretrained(baked_dir, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(source_dir, local_files_only=True)
    pipeline = TextClassificationPipeline(model=model, tokenizer=reference_tokenizer, top_k=None)

    names = [f"smoke[{index}]" for index in range(len(SMOKE_SENTENCES))]
    items = [MarkedText(sentence) for sentence in SMOKE_SENTENCES]
    for item, name, model_input in zip(items, names, classifier.tokenizer.encode(items, names), strict=True):
        expected = reference_tokenizer(item.text)["input_ids"]
        if model_input.ids != expected or baked_tokenizer(item.text)["input_ids"] != expected:
            raise BakeError(f"{name}: the baked tokenizer differs from AutoTokenizer on the source")

    predictions = classifier.classify(items, names)
    worst = 0.0
    for name, sentence, prediction in zip(names, SMOKE_SENTENCES, predictions, strict=True):
        answers: Any = pipeline(sentence)
        reference = {entry["label"]: entry["score"] for entry in answers[0]}
        for label, score in prediction.scores.items():
            if not math.isfinite(score):
                raise BakeError(f"{name}: the baked model gives a non-finite {label} probability")
            worst = max(worst, abs(score - reference[label]))
        if worst > TOLERANCE:
            raise BakeError(
                f"{name}: probabilities differ from the reference pipeline by {worst:.2e} "
                f"(tolerance {TOLERANCE:.0e})"
            )
    long_prediction = classifier.classify([MarkedText(LONG_SENTENCE)], ["smoke[long]"])[0]
    if not long_prediction.windowed or not math.isfinite(long_prediction.score):
        raise BakeError("smoke[long]: the long sentence was not windowed around its concept")
    return {
        "smoke": {
            "sentences": len(SMOKE_SENTENCES) + 1,
            "max_abs_diff_vs_pipeline": worst,
            "tolerance": TOLERANCE,
            "labels": [prediction.label for prediction in predictions],
        }
    }


def check_weights_complete(source_dir: Path) -> list[str]:
    """Fail when the checkpoint lacks weights the model needs (transformers would initialize
    them at random and carry on: a silent wrong answer). Returns the unexpected keys."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        _, info = AutoModelForSequenceClassification.from_pretrained(
            source_dir, local_files_only=True, output_loading_info=True
        )
    except Exception as error:  # noqa: BLE001 (any load failure fails the bake, named)
        raise BakeError(f"{source_dir}: the weights do not load: {error!r}") from None
    missing = sorted(info["missing_keys"])
    mismatched = sorted(str(key) for key in info["mismatched_keys"])
    if missing or mismatched:
        raise BakeError(
            f"{source_dir}: the checkpoint lacks weights the model needs "
            f"(missing {missing[:5]}, mismatched {mismatched[:5]})"
        )
    return sorted(info["unexpected_keys"])
