"""python -m bench.run: measure the served function over real HTTP and write
bench/results.json and bench/results.md.

Every figure is a median over REPEATS fresh server processes; the machine is shared and
noisy, so compare variants measured in the same run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import first_answer, latencies, median, percentile, start, throughput, tree_rss_peak_mb
from bench.model import baked_bench_model
from tests.support.models import calibration_sentences, negex_rows

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"


@dataclass
class Variant:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


def sentences() -> list[str]:
    """NegEx sentences marked around their concept (realistic clinical input); the project's
    calibration sentences where the shared data is absent."""
    rows = negex_rows()
    if not rows:
        return [s for s in calibration_sentences() if len(s) < 600]
    return [mark(row["text"], row["start"], row["end"]) for row in rows]


def mark(text: str, start: int, end: int) -> str:
    return f"{text[:start]}[entity] {text[start:end]} [entity]{text[end:]}"


def variants(model_dir: Path) -> list[Variant]:
    functions_framework = str(Path(sys.executable).parent / "functions-framework")
    served = [
        functions_framework,
        "--source",
        "function/main.py",
        "--target",
        "predict_http",
        "--asgi",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ]
    return [Variant("torch fp32 (ours)", served, {"MODEL_DIR": str(model_dir), "BACKEND": "torch"})]


def measure(variant: Variant, texts: list[str], repeats: int, requests: int) -> dict:
    env = {"PYTHONPATH": str(ROOT), **variant.env}
    runs = []
    for repeat in range(repeats):
        server = start(variant.command, env, ROOT)
        try:
            cold = first_answer(server, texts[repeat])
            lat = latencies(server, texts[:requests])
            runs.append(
                {
                    "cold_start_s": cold,
                    "p50_ms": median(lat) * 1000,
                    "p99_ms": percentile(lat, 0.99) * 1000,
                    "rps_c1": throughput(server, texts[:requests], 1),
                    "rps_c8": throughput(server, texts[: requests * 2], 8),
                    "peak_rss_mb": tree_rss_peak_mb(server.process.pid),
                }
            )
        finally:
            server.stop()
    return {key: median([run[key] for run in runs]) for key in runs[0]} | {"repeats": repeats}


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "python": platform.python_version(),
    }


def write(results: dict) -> None:
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Benchmark results",
        "",
        f"Measured {results['when']} on {results['machine']['cpu']} ({results['machine']['cpus']} CPUs, "
        f"load before {results['machine']['load_before'][0]:.2f}), with a BERT-base-shaped model with random "
        "weights (12 layers, hidden 768, the bert-base-uncased vocabulary), "
        f"{results['sentences']} NegEx sentences marked around their concept. Medians of "
        f"{results['repeats']} fresh server processes each; over real HTTP on loopback. Peak RSS sums "
        "every process of the server (gunicorn's master and its worker share the model's pages, "
        "so the sum overstates what the instance needs).",
        "",
        "| Variant | Cold start to first /predict (s) | Batch-1 p50 (ms) | p99 (ms) "
        "| Sentences/s, c=1 | c=8 | Peak RSS, all processes (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results["variants"].items():
        lines.append(
            f"| {name} | {r['cold_start_s']:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['rps_c1']:.1f} | {r['rps_c8']:.1f} | {r['peak_rss_mb']:.0f} |"
        )
    (ROOT / "bench" / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="sentences per latency run")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    model_dir = baked_bench_model(WORK)
    texts = sentences()
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sentences": len(texts),
        "repeats": args.repeats,
        "variants": {v.name: measure(v, texts, args.repeats, args.requests) for v in variants(model_dir)},
    }
    write(results)
    print((ROOT / "bench" / "results.md").read_text())


if __name__ == "__main__":
    main()
