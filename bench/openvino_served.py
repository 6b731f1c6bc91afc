"""python -m bench.openvino_served: BACKEND=openvino against BACKEND=onnx, served over HTTP.

`make bench-openvino` (bench/runtimes.py) compares the runtimes in-process; this serves the
bench model's folder (baked with --openvino) both ways through Functions Framework, one server
at a time in alternating order (onnx, openvino, openvino, onnx, ...), and measures what a
caller sees: process start to the first answer, p50 at one caller, sentences/s at 64 callers
(wrk) and the worker's peak RSS. Both serve PRECISION=auto, so each process serves what it
would in production on this CPU (`/health` names it).

Writes ``bench/results/<cpu>.openvino-served.md``. Exits 2 ("incomplete") when openvino or
nncf is not installed.
"""

from __future__ import annotations

import statistics
import sys

import httpx

from bench.measure import (
    first_answer,
    latencies,
    save_results,
    start,
    throughput,
    wait_until_idle,
    worker_peak_rss_mb,
)
from bench.model import baked_bench_model
from bench.run import ROOT, WORK, sentences, window_seconds
from model_bake import openvino_int8
from tests.support.servers import child_pids, http_target_command

ROUNDS = 2  # servers per backend, in the order A B B A
REQUESTS = 100


def serve_once(backend: str, baked: str, texts: list[str], first: str) -> dict:
    env = {"PYTHONPATH": str(ROOT), "MODEL_DIR": baked, "BACKEND": backend, "PRECISION": "auto"}
    server = start(http_target_command(), env, ROOT)
    try:
        found: dict = {"cold_start_s": first_answer(server, first)}
        health = httpx.get(f"{server.url}/health", timeout=10).json()
        found["serving"] = f"{health['model']['backend']}-{health['model']['precision']}"
        found["p50_ms"] = statistics.median(latencies(server, texts[:REQUESTS])) * 1000
        worker = (child_pids(server.process.pid) or [server.process.pid])[0]
        wait_until_idle(worker)
        rate_c8 = throughput(server, texts[: 10 * 8], 8, 10.0)
        wait_until_idle(worker)
        found["rps_c64"] = throughput(server, texts[: 10 * 64], 64, window_seconds(64, rate_c8))
        found["peak_rss_mb"] = worker_peak_rss_mb(server.process.pid)
    finally:
        server.stop()
    print(f"  BACKEND={backend}: " + ", ".join(f"{k}={v}" for k, v in found.items()), flush=True)
    return found


def main() -> int:
    if missing := openvino_int8.missing():
        print(f"incomplete: {missing}")
        return 2
    baked = str(baked_bench_model(WORK))
    texts = sentences()
    runs: dict[str, list[dict]] = {"onnx": [], "openvino": []}
    order = ["onnx", "openvino"]
    for n, backend in enumerate([*order, *reversed(order)] * (ROUNDS // 2)):
        runs[backend].append(serve_once(backend, baked, texts, texts[n]))
    onnx, openvino = runs["onnx"], runs["openvino"]

    def median(found: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in found)

    def spread(found: list[dict], key: str, digits: int) -> str:
        values = [run[key] for run in found]
        return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"

    lines = [
        "| BACKEND | Serves here | Cold start (s) | p50, one caller (ms) | Sentences/s at 64 callers "
        "| Peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for name, found in runs.items():
        lines.append(
            f"| {name} | {', '.join(sorted({run['serving'] for run in found}))} "
            f"| {spread(found, 'cold_start_s', 2)} | {spread(found, 'p50_ms', 1)} "
            f"| {spread(found, 'rps_c64', 1)} | {spread(found, 'peak_rss_mb', 0)} |"
        )
    lines += [
        "",
        f"openvino against onnx: {median(openvino, 'rps_c64') / median(onnx, 'rps_c64'):.2f}x "
        f"the sentences/s at 64 callers, {median(openvino, 'p50_ms') / median(onnx, 'p50_ms'):.2f}x the p50, "
        f"{median(openvino, 'cold_start_s') - median(onnx, 'cold_start_s'):+.2f} s of cold start, "
        f"{median(openvino, 'peak_rss_mb') - median(onnx, 'peak_rss_mb'):+.0f} MB of peak RSS.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    save_results(
        "openvino-served",
        "BACKEND=openvino against BACKEND=onnx, served",
        text,
        f"{ROUNDS} servers per backend in alternating order, PRECISION=auto, NegEx sentences",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
