"""Judged where it serves: every variant answers a small check set on THIS CPU before the
service reports ready, and must answer it as well as it did when the bake judged it.

The bake's agreement gate runs once, on the build machine. The same image then lands on
hosts nobody chooses (Cloud Run and Lambda mix Intel and AMD generations, with and without
VNNI), and int8 kernels compute different numbers on different CPUs: without VNNI, ONNX
Runtime's fast u8s8 kernels saturate 16-bit intermediate sums. So the bake records, for each
servable variant, a handful of short calibration sentences chosen where the variant moves
furthest from the fp32 reference, the reference's probabilities for them, and the variant's
own probabilities in one forward pass on the bake's CPU. At start the service runs the same
pass here and compares:

- no sentence may end further from the reference than it was at bake by more than
  `tolerance` (kernels that compute something else move answers away from it), and
- at least as many labels must match the reference as matched at bake.

`drift` (the largest difference from the bake's own answers) is logged too: 0 on the same kind
of CPU, and the measure of how far another kind moves the numbers.

A variant that fails is not served: with PRECISION=auto the next one is tried (int8, then
fp32) and a WARNING names the variant, the figures and the CPU; with a PRECISION named
explicitly, the process refuses to start. The int8 variant may come in two copies of its
graph (int8 weights first where the CPU's u8s8 sums are exact, then the portable one: see
`VariantEntry.forms_for`): a copy that fails gives way to the next copy of the same variant,
which still serves int8; each outcome names its `graph`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from function.core.cpus import CpuFeatures, cpu_features
from function.core.errors import ModelFolderError
from function.core.model_folder import ModelFolder, VariantEntry

if TYPE_CHECKING:
    from function.core.batching import BatchLimits
    from function.core.classifier import AssertionClassifier


@dataclass(frozen=True)
class CheckSet:
    """What the bake recorded for one variant (the manifest's ``check``)."""

    sentences: tuple[str, ...]
    reference: np.ndarray  # (sentences, labels): the torch fp32 reference
    baked: np.ndarray  # the variant's answers in one pass on the bake's CPU
    tolerance: float

    @property
    def agreed(self) -> int:
        return agreed_labels(self.baked, self.reference)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sentences": list(self.sentences),
            "reference": self.reference.tolist(),
            "baked": self.baked.tolist(),
            "tolerance": self.tolerance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckSet:
        sentences = tuple(str(sentence) for sentence in data["sentences"])
        reference = np.asarray(data["reference"], dtype=np.float64)
        baked = np.asarray(data["baked"], dtype=np.float64)
        if not sentences or reference.shape != baked.shape or reference.shape[0] != len(sentences):
            raise ValueError("sentences, reference and baked answers do not line up")
        return cls(sentences, reference, baked, float(data["tolerance"]))


def agreed_labels(probabilities: np.ndarray, reference: np.ndarray) -> int:
    return int(np.sum(probabilities.argmax(axis=1) == reference.argmax(axis=1)))


def distance(probabilities: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per sentence, the largest difference over the labels."""
    return np.abs(np.asarray(probabilities, dtype=np.float64) - reference).max(axis=1)


@dataclass(frozen=True)
class CheckOutcome:
    variant: str
    passed: bool
    excess: float  # furthest any sentence moved from the reference beyond its distance at bake
    tolerance: float
    agreed: int  # labels that match the reference here
    agreed_at_bake: int
    sentences: int
    drift: float  # largest difference from the bake's own answers
    seconds: float
    cpu: CpuFeatures
    graph: str = ""  # the file an ONNX variant ran (its int8 weights' copy, or the portable one)

    def describe(self) -> str:
        graph = f" ({self.graph})" if self.graph else ""
        return (
            f"{self.variant}{graph} on {self.cpu.model} ({self.cpu.kind}): {self.agreed}/{self.sentences} "
            f"check labels match the reference (bake: {self.agreed_at_bake}); answers moved up to "
            f"{self.excess:.4f} further from it than at bake (allowed {self.tolerance:g}); "
            f"largest difference from the bake's answers {self.drift:.2e}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "graph": self.graph,
            "passed": self.passed,
            "excess": round(self.excess, 6),
            "tolerance": self.tolerance,
            "agreed": self.agreed,
            "agreed_at_bake": self.agreed_at_bake,
            "sentences": self.sentences,
            "drift": float(f"{self.drift:.3e}"),
            "seconds": round(self.seconds, 4),
        }


def judge(
    variant: str, check: CheckSet, probabilities: np.ndarray, seconds: float = 0.0, graph: str = ""
) -> CheckOutcome:
    """Compare this CPU's answers to what the bake recorded."""
    excess = float(np.max(distance(probabilities, check.reference) - distance(check.baked, check.reference)))
    agreed = agreed_labels(probabilities, check.reference)
    return CheckOutcome(
        variant=variant,
        passed=bool(excess <= check.tolerance and agreed >= check.agreed),
        excess=max(0.0, excess),
        tolerance=check.tolerance,
        agreed=agreed,
        agreed_at_bake=check.agreed,
        sentences=len(check.sentences),
        drift=float(distance(probabilities, check.baked).max()),
        seconds=seconds,
        cpu=cpu_features(),
        graph=graph,
    )


def check_set_of(variant: VariantEntry) -> CheckSet:
    if not variant.check:
        raise ModelFolderError(
            f"{variant.name} has no start-up check recorded in its manifest: bake the folder again"
        )
    try:
        return CheckSet.from_dict(variant.check)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFolderError(
            f"{variant.name}: the manifest's start-up check is unreadable ({error})"
        ) from None


def check_here(classifier: AssertionClassifier) -> CheckOutcome:
    """Run a loaded variant's check set on this CPU, in one pass."""
    check = check_set_of(classifier.variant)
    started = time.perf_counter()
    probabilities = classifier.probabilities_in_one_pass(check.sentences)
    variant = classifier.variant
    graph = variant.files[0] if variant.backend == "onnx" else ""
    return judge(variant.name, check, probabilities, time.perf_counter() - started, graph)


class CheckFailed(ModelFolderError):
    """No variant that may serve passed its start-up check on this CPU."""


@dataclass(frozen=True)
class CheckedClassifier:
    classifier: AssertionClassifier
    outcome: CheckOutcome
    failed: tuple[CheckOutcome, ...]  # the variants tried first, which failed here


def load_checked(
    folder: ModelFolder,
    candidates: Sequence[VariantEntry],
    *,
    threads: int = 1,
    streams: int = 1,
    limits: BatchLimits | None = None,
    verify_checksums: bool = False,
) -> CheckedClassifier:
    """Load the first candidate that passes its check here; raises CheckFailed naming each
    failure when none does. The caller logs the failures of a fallback."""
    from function.core.classifier import AssertionClassifier

    failed: list[CheckOutcome] = []
    for variant in candidates:
        check_set_of(variant)  # a folder without checks is refused before anything loads
        if verify_checksums:
            folder.verify_files(variant)
        classifier = AssertionClassifier.from_folder(
            folder, variant, threads=threads, streams=streams, limits=limits
        )
        outcome = check_here(classifier)
        if outcome.passed:
            return CheckedClassifier(classifier, outcome, tuple(failed))
        classifier.close()
        failed.append(outcome)
    alone = len({variant.name for variant in candidates}) == 1  # its graphs are one variant
    raise CheckFailed(
        "no variant passed its start-up check on this CPU: "
        + "; ".join(outcome.describe() for outcome in failed)
        + (
            " (nothing to fall back on: PRECISION names this variant, or the folder holds no other)"
            if alone
            else ""
        )
    )
