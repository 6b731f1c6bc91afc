"""Items per second of the bulk pipeline (python -m function.bulk on Beam's DirectRunner, two
worker processes) against the HTTP service at concurrency 64, on the same sentences, the same
folder (onnx int8) and the same cores, one after the other in one run.

The bulk figure is wall time from launching the pipeline to its end (worker start, model
loads and the write of the outputs included) for `count` items; a second run of a fifth as
many items gives the marginal rate (the fixed start-up cost cancels out). The HTTP figure is
the service's steady rate at 64 callers. Beside them, in the same run, the compute ceiling on
these cores: the measured int8 GEMM peak over the encoder's operations per item of the
corpus's mean length, which no path (HTTP, bulk or in-process) can pass; its ratio to the
HTTP rate is what removing every overhead could gain if all the model's operations ran at
the GEMM peak. The in-process rate of the served variant on the same items (all cores, one
request cut into length-sorted passes) is what any path can reach with this runtime; its
ratio to the HTTP rate is the most a bulk path could gain here. The cost per million items on Dataflow
is estimated from the bulk rate with the list prices in PRICES (state them where shown).

    python -m bench.bulk [--count N]      # prints the figures as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import first_answer, start, throughput, wait_until_idle
from tests.support.servers import child_pids, http_target_command

ROOT = Path(__file__).resolve().parents[1]
BEAM_PYTHON = Path(os.environ.get("BEAM_PYTHON") or ROOT / ".venv-beam" / "bin" / "python")
# Dataflow batch list prices (us-central1, per hour) used for the estimate, and the worker
# machine they price: n1-standard-2 (2 vCPUs, 7.5 GB), as measured here on 2 cores.
MACHINE = "n1-standard-2"
PRICES: dict[str, float] = {"vcpu_hour": 0.056, "gb_hour": 0.003557, "vcpus": 2, "memory_gb": 7.5}


def bulk_vs_http(
    baked: Path, sentences: list[str], count: int = 1000, http_seconds: float = 30.0
) -> dict | None:
    if not BEAM_PYTHON.is_file():
        print(
            f"bench.bulk: skipped, the Beam environment is missing ({BEAM_PYTHON}): make beam-venv",
            file=sys.stderr,
        )
        return None
    from bench.ceiling import encoder_flops, gemm_peaks
    from bench.run import mean_tokens

    items = [sentences[n % len(sentences)] for n in range(count)]
    small = max(1, count // 5)
    bulk_seconds = run_bulk(baked, items)
    small_seconds = run_bulk(baked, items[:small])
    marginal = (count - small) / (bulk_seconds - small_seconds) if bulk_seconds > small_seconds else 0.0
    int8_peak = gemm_peaks(threads=os.cpu_count() or 1)["int8"]
    ceiling = int8_peak / encoder_flops(round(mean_tokens(baked, items)))
    in_process = in_process_rate(baked, items)
    # The HTTP service on the same cores (INTRA_OP_THREADS unset: all of them, as it serves).
    server = start(http_target_command(), {"MODEL_DIR": str(baked), "PRECISION": "int8"}, ROOT)
    try:
        first_answer(server, sentences[0])
        throughput(server, sentences, 64, seconds=5)  # warm-up
        wait_until_idle(child_pids(server.process.pid)[0])  # the warm-up's abandoned requests
        http_rate = throughput(server, sentences, 64, seconds=http_seconds)
    finally:
        server.stop()
    bulk_rate = count / bulk_seconds
    hourly = PRICES["vcpus"] * PRICES["vcpu_hour"] + PRICES["memory_gb"] * PRICES["gb_hour"]
    return {
        "items": count,
        "bulk_seconds": round(bulk_seconds, 1),
        "bulk_items_per_s": round(bulk_rate, 2),
        "small_run": {"items": small, "seconds": round(small_seconds, 1)},
        "bulk_marginal_items_per_s": round(marginal, 2),
        "http_c64_items_per_s": round(http_rate, 2),
        "ratio": round(bulk_rate / http_rate, 2),
        "marginal_ratio": round(marginal / http_rate, 2),
        "in_process_items_per_s": round(in_process, 2),
        "http_share_of_in_process": round(http_rate / in_process, 2),
        "bulk_marginal_share_of_in_process": round(marginal / in_process, 2),
        "ceiling_items_per_s": round(ceiling, 2),
        "int8_gemm_gops": round(int8_peak / 1e9, 1),
        "http_share_of_ceiling": round(http_rate / ceiling, 2),
        "best_possible_ratio": round(in_process / http_rate, 2),
        "gemm_bound_ratio": round(ceiling / http_rate, 2),
        "dataflow_usd_per_million": round(hourly / (bulk_rate * 3600) * 1e6, 2),
        "prices": {"machine": MACHINE, **PRICES},
    }


def in_process_rate(baked: Path, items: list[str]) -> float:
    """Items per second of the served int8 variant called in-process on all cores, every item
    in one request that the core cuts into length-sorted passes: no HTTP, no JSON, no Beam.
    What any path (HTTP, bulk) can reach at best with this runtime on these cores."""
    from function.core.classifier import AssertionClassifier

    classifier = AssertionClassifier.load(baked, precision="int8", threads=os.cpu_count() or 1)
    try:
        where = [f"s[{n}]" for n in range(len(items))]
        classifier.classify_sentences(items[:64], where=where[:64])  # warm-up
        began = time.perf_counter()
        classifier.classify_sentences(items, where=where)
        return len(items) / (time.perf_counter() - began)
    finally:
        classifier.close()


def run_bulk(baked: Path, items: list[str]) -> float:
    """Seconds from launching the pipeline on `items` to its end (2 worker processes)."""
    env = {"MODEL_DIR": str(baked), "PRECISION": "int8", "INTRA_OP_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as work:
        corpus = Path(work) / "corpus.jsonl"
        corpus.write_text(
            "".join(json.dumps({"id": f"i{n}", "sentence": s}) + "\n" for n, s in enumerate(items))
        )
        began = time.perf_counter()
        run = subprocess.run(
            [str(BEAM_PYTHON), "-m", "function.bulk", "--input", str(corpus), "--output", f"{work}/out",
             "--direct_num_workers=2", "--direct_running_mode=multi_processing"],
            cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - began
    if run.returncode != 0 or f"results {len(items)}, dead letters 0" not in run.stdout:
        raise RuntimeError(f"the bulk pipeline failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return seconds


def main() -> None:
    from bench.model import baked_bench_model
    from bench.run import WORK, sentences

    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(bulk_vs_http(baked_bench_model(WORK), sentences(), args.count), indent=2))


if __name__ == "__main__":
    main()
