"""The int8 graph's two copies on this CPU: the one the folder serves here against the other.

The bake ships `model.int8.onnx` (uint8 weights, run with `session.x64quantprecision`: exact
on every CPU) and `model.int8.vnni.onnx` (the quantizer's int8 weights, no switch: exact only
where the CPU has VNNI or AMX), and the folder serves the second where `/proc/cpuinfo` shows
those (`VariantEntry.forms_for`). This times both on the service's own length-sorted passes of
the NegEx sentences, in-process on all cores, in alternating order, and compares their answers.

    python -m bench.int8_copies

Prints a markdown table and writes ``bench/results/<cpu>.int8-copies.md``. On a CPU without
VNNI or AMX the second copy saturates: its speed is shown, its answers are not to be served.
"""

from __future__ import annotations

import os
import statistics
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from bench.measure import save_results
from bench.model import baked_bench_model
from bench.runtimes import ITEMS, Run, alternate, service_passes
from function.core.backends import load_backend
from function.core.classifier import AssertionClassifier
from function.core.cpus import cpu_features
from function.core.model_folder import EXACT_U8S8_GRAPH, ModelFolder, VariantEntry
from tests.support.models import marked_negex_sentences

ROOT = Path(__file__).resolve().parent.parent


def _logits(entry: VariantEntry, folder: ModelFolder, threads: int) -> Run:
    return load_backend(entry, folder, threads=threads).logits


def main() -> int:
    baked = baked_bench_model(ROOT / "bench" / "work")
    threads = os.cpu_count() or 1
    texts = (marked_negex_sentences() or [])[:ITEMS]
    folder = ModelFolder.open(baked)
    portable = folder.manifest.variants["onnx-int8"]
    if not texts or EXACT_U8S8_GRAPH not in portable.recipe:
        print("incomplete: needs the NegEx sentences and a folder baked with the int8-weight copy")
        return 2
    cpu = cpu_features()
    claims_exact = replace(cpu, flags=(*cpu.flags, "avx512_vnni")) if not cpu.exact_u8s8 else cpu
    exact = portable.forms_for(claims_exact)[0]
    served = AssertionClassifier.load(baked, precision="int8", threads=threads)
    try:
        passes = service_passes(served, texts)
        copies = {
            f"{portable.files[0]} (uint8 weights, the switch)": portable,
            f"{exact.files[0]} (int8 weights, no switch)": exact,
        }
        builders = {name: partial(_logits, entry, folder, threads) for name, entry in copies.items()}
        measured, probabilities = alternate(builders, passes, len(texts))
    finally:
        served.close()
    first, second = builders
    base = statistics.median(measured[first])
    difference = float(np.abs(probabilities[second] - probabilities[first]).max())
    lines = [
        f"{len(texts)} NegEx sentences in the service's {len(passes)} length-sorted passes, in-process on "
        f"{threads} cores, {len(measured[first])} rounds per copy in alternating order. This CPU "
        f"serves `{served.variant.files[0]}` (exact u8s8 sums here: {cpu.exact_u8s8}).",
        "",
        "| Copy | Sentences/s, median [range] | vs the portable copy |",
        "|---|---|---|",
        *(
            f"| {name} | {statistics.median(found):.2f} [{min(found):.2f}-{max(found):.2f}] "
            f"| {statistics.median(found) / base:.2f}x |"
            for name, found in measured.items()
        ),
        "",
        f"Largest probability difference between the copies: {difference:.1e}"
        + ("" if cpu.exact_u8s8 else " (u8s8 sums saturate on this CPU: the int8-weight copy is not served)")
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    save_results("int8-copies", "The int8 graph's two copies", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
