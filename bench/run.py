"""python -m bench.run: the served function against the naive way, over real HTTP.

Variants, all on the same BERT-base-shaped folder and the same machine, in one run:
  baseline      the seed's way: FastAPI + transformers.pipeline on torch (bench/baseline_app.py)
  torch fp32    ours, on the reference backend
  onnx fp32     ours, ONNX Runtime
  onnx int8     ours, ONNX Runtime with int8 weights (the serving default)
For each: process start to first answered /predict (cold start), batch-1 latency, throughput
at concurrency 1, 8 and 64, peak RSS of the serving process, and the size of the files it
loads. Every figure is a median over --repeats fresh server processes; ratios are to the
baseline measured in the same run, because these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.bulk import bulk_vs_http, in_process_rate
from bench.ceiling import encoder_flops, gemm_peaks
from bench.goodput import compare, goodput_lines, timeout_for
from bench.lambda_start import lambda_cold_starts, lambda_lines
from bench.measure import (
    can_drop_page_cache,
    drop_page_cache,
    first_answer,
    latencies,
    percentile,
    results_file,
    start,
    throughput,
    wait_until_idle,
    worker_peak_rss_mb,
)
from bench.model import bake_command, baked_bench_model
from bench.profile import where_the_time_goes
from bench.pubsub import messages_per_second
from bench.soak import saved_soak_lines
from function.core.cpus import cpu_features
from function.core.model_folder import COMMON_FILES, ModelFolder
from model_bake.agreement import calibration_sentences
from tests.support.models import marked_negex_sentences
from tests.support.servers import child_pids, http_target_command

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
GOODPUT_SECONDS = 60.0  # per tree, callers giving up (bench/goodput.py)
IN_PROCESS_ITEMS = 300  # sentences for the in-process rate beside the profile (about 30 s here)
CONCURRENCY = (1, 8, 64)


@dataclass
class Variant:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    agreement: dict | None = None
    cwd: Path = ROOT


def sentences() -> list[str]:
    """NegEx sentences marked around their concept (realistic clinical input); the project's
    calibration sentences where the shared data is absent."""
    return marked_negex_sentences() or [s for s in calibration_sentences() if len(s) < 600]


def variants(source: Path, baked: Path) -> list[Variant]:
    python = str(Path(sys.executable))
    served = http_target_command()
    folder = ModelFolder.open(baked)
    found = [
        Variant(
            "baseline (pipeline)",
            [python, "-m", "uvicorn", "bench.baseline_app:app", "--host", "127.0.0.1", "--port", "{port}",
             "--log-level", "warning"],
            {"MODEL_DIR": str(source)},
            [source / name for name in ("config.json", "vocab.txt", "model.safetensors")],
        )
    ]  # fmt: skip
    for backend, precision, streams in (
        ("torch", "fp32", 1),
        ("onnx", "fp32", 1),
        ("onnx", "int8", 1),
        ("onnx", "int8", 2),
    ):
        entry = folder.manifest.variants[f"{backend}-{precision}"]
        env = {
            "MODEL_DIR": str(baked),
            "BACKEND": backend,
            "PRECISION": precision,
            "INFERENCE_STREAMS": str(streams),
        }
        found.append(
            Variant(
                f"{backend} {precision}" + (f", {streams} streams" if streams > 1 else ""),
                served,
                env,
                [baked / name for name in {*COMMON_FILES, *entry.files}],
                entry.agreement,
            )
        )
    return found


def measure(variant: Variant, texts: list[str], repeats: int, requests: int) -> dict:
    env = {"PYTHONPATH": str(variant.cwd), **variant.env}
    runs = []
    for repeat in range(repeats):
        run = {}
        if can_drop_page_cache():
            drop_page_cache()
            server = start(variant.command, env, variant.cwd)
            try:
                run["cold_cache_start_s"] = first_answer(server, texts[repeat])
            finally:
                server.stop()
        server = start(variant.command, env, variant.cwd)
        try:
            run["cold_start_s"] = first_answer(server, texts[repeat])
            check = startup_check(server)
            if check is not None:  # ours: the variant's check on this CPU, part of the cold start
                run["check_s"] = check["serving"]["seconds"]
                run["check_share"] = check["serving"]["seconds"] / run["cold_start_s"]
                if check["failed"]:
                    raise RuntimeError(f"{variant.name} fell back at start: {check['failed']}")
            lat = latencies(server, texts[:requests])
            run["p50_ms"] = statistics.median(lat) * 1000
            run["p99_ms"] = percentile(lat, 0.99) * 1000
            serving = (child_pids(server.process.pid) or [server.process.pid])[0]
            for concurrency in CONCURRENCY:
                count = max(requests, 10 * concurrency)
                wait_until_idle(serving)  # the last run's abandoned requests are still computed
                run[f"rps_c{concurrency}"] = throughput(
                    server, texts[:count], concurrency, window_seconds(concurrency, run.get("rps_c8"))
                )
            run["peak_rss_mb"] = worker_peak_rss_mb(server.process.pid)
        finally:
            server.stop()
        runs.append(run)
        print(
            f"  {variant.name} #{repeat + 1}: " + ", ".join(f"{k}={v:.3g}" for k, v in run.items()),
            flush=True,
        )
    result: dict = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    result["folder_mb"] = sum(path.stat().st_size for path in variant.files) / 1e6
    if variant.agreement:
        result["agreement"] = variant.agreement
    return result


def window_seconds(concurrency: int, rate_c8: float | None) -> float:
    """Long enough for about ten full passes of the micro-batcher (32 inputs each) at this
    concurrency, between 10 and 60 s: a pass answers all its callers at once, so a window of a
    few passes counts a partial one as nothing (measured on the AVX2 EPYC, where a pass of 32
    takes 3.4 s: 10 s windows gave 6.1-9.6 sentences/s for the same server)."""
    if concurrency < 32 or not rate_c8:
        return 10.0
    return min(60.0, max(10.0, 10 * 32 / rate_c8))


def before_variant(ref: str, source: Path) -> Variant:
    """The int8 service as commit `ref` served it: a git worktree of `ref`, its own bake of the
    same source model, its own code; measured in the same run as today's, for a before/after
    table on one machine at one time."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = WORK / f"before-{sha}"
    if not (tree / "function").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True)
    baked = tree / "bench-baked"
    bake_command(source, baked, cwd=tree)
    compile_sources(tree)
    entry = ModelFolder.open(baked).manifest.variants["onnx-int8"]
    return Variant(
        f"onnx int8 at {sha} (before)",
        http_target_command(),
        {"MODEL_DIR": str(baked), "BACKEND": "onnx", "PRECISION": "int8", "INFERENCE_STREAMS": "1"},
        [baked / name for name in {*COMMON_FILES, *entry.files}],
        entry.agreement,
        cwd=tree,
    )


def code_trees(baked: Path, before: Variant | None) -> dict[str, tuple[Path, Path]]:
    """{name: (source tree, its baked bench model)}: today's, and the `--before` variant's
    worktree when there is one."""
    trees = {"today": (ROOT, baked)}
    if before is not None:
        trees[before.name] = (before.cwd, Path(before.env["MODEL_DIR"]))
    return trees


def standalone_trees(ref: str | None) -> dict[str, tuple[Path, Path]]:
    """`code_trees` for a standalone comparison (bench.lambda_start, bench.goodput): the bench
    model baked and the sources byte-compiled first, as `make bench` does."""
    baked = baked_bench_model(WORK)
    compile_sources(ROOT)
    return code_trees(baked, before_variant(ref, WORK / "source") if ref else None)


def compile_sources(tree: Path) -> None:
    """Byte-compile the function's code, as the image does (Dockerfile): a start then reads
    .pyc files instead of compiling every module, whatever PYTHONDONTWRITEBYTECODE says."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "function")], check=True)


def startup_check(server) -> dict | None:
    """The /health report of the start-up check (None for the baseline, which has none)."""
    return httpx.get(f"{server.url}/health", timeout=30).json().get("startup_check")


def machine() -> dict:
    """The CPU every figure of the run comes from: int8 kernels, their numbers and their speed
    differ between CPU kinds (VNNI/AMX Xeons, AVX2-only EPYCs, ...)."""
    features = cpu_features()
    return {
        "cpu": features.model,
        "cpu_kind": features.kind,
        "cpu_flags": list(features.flags),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "python": platform.python_version(),
    }


def mean_tokens(baked: Path, texts: list[str]) -> float:
    from function.core.markers import MarkedText
    from function.core.tokenization import AssertionTokenizer

    tokenizer = AssertionTokenizer.of_folder(ModelFolder.open(baked))
    inputs = tokenizer.encode([MarkedText(t) for t in texts], ["s"] * len(texts))
    return statistics.mean(len(i.ids) for i in inputs)


def write(results: dict) -> None:
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    base = results["variants"]["baseline (pipeline)"]
    ceiling = results["ceiling"]
    rows = [
        "| Variant | Cold start (s), warm / dropped page cache | p50 / p99 (ms) | Sentences/s c=1 / 8 / 64 "
        "| Peak RSS (MB) | Files loaded (MB) | Agreement with torch fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results["variants"].items():
        agreement = r.get("agreement")
        agreed = (
            f"{agreement['argmax_agreement']:.2%} (max Δp {agreement['max_abs_diff']:.1e})"
            if agreement
            else "reference"
        )
        rows.append(
            f"| {name} | {r['cold_start_s']:.2f} / {r.get('cold_cache_start_s', float('nan')):.2f} "
            f"| {r['p50_ms']:.1f} / {r['p99_ms']:.1f} "
            f"| {r['rps_c1']:.1f} / {r['rps_c8']:.1f} / {r['rps_c64']:.1f} | {r['peak_rss_mb']:.0f} "
            f"| {r['folder_mb']:.0f} | {agreed if name != 'baseline (pipeline)' else '-'} |"
        )
    ratios = [
        "| Variant | Cold start, warm / dropped cache | p50 latency | Throughput c=64 | Peak RSS "
        "| Share of the compute ceiling, c=64 |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results["variants"].items():
        peak = ceiling["int8_flops"] if "int8" in name else ceiling["fp32_flops"]
        share = r["rps_c64"] * ceiling["flops_per_sentence"] / peak
        cold_cache = base.get("cold_cache_start_s", float("nan")) / r.get("cold_cache_start_s", float("nan"))
        ratios.append(
            f"| {name} | {base['cold_start_s'] / r['cold_start_s']:.1f}x / {cold_cache:.1f}x faster | "
            f"{base['p50_ms'] / r['p50_ms']:.1f}x faster | {r['rps_c64'] / base['rps_c64']:.1f}x | "
            f"{r['peak_rss_mb'] / base['peak_rss_mb']:.2f}x | {share:.0%} |"
        )
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {results['when']} with `make bench` on **{m['cpu']}, {m.get('cpu_kind', '?')}** "
        f"(int8-relevant features: {', '.join(m.get('cpu_flags') or ['none'])}; {m['cpus']} CPUs, "
        f"load average {m['load_before'][0]:.2f} before the run). Every figure below comes from this "
        "CPU. Model: **BERT-base-shaped with random weights** (12 "
        "layers, hidden 768, 3 labels, the bert-base-uncased WordPiece vocabulary): the real model's shape "
        "and cost, not its answers. Input: "
        f"{results['sentences']} NegEx sentences marked around their concept (mean "
        f"{results['mean_tokens']:.1f} tokens). Over real HTTP on loopback; medians of {results['repeats']} "
        "fresh server processes.",
        "",
        *rows,
        "",
        f"Ratios to the baseline, measured in the same run. The compute ceiling is the measured peak of "
        f"the model's largest matrix product in ONNX Runtime on these cores: "
        f"{ceiling['fp32_flops'] / 1e9:.0f} GFLOP/s fp32, {ceiling['int8_flops'] / 1e9:.0f} GOP/s int8, "
        f"against {ceiling['flops_per_sentence'] / 1e9:.2f} GFLOP per sentence of mean length "
        f"(ceilings: {ceiling['fp32_flops'] / ceiling['flops_per_sentence']:.0f} sentences/s fp32, "
        f"{ceiling['int8_flops'] / ceiling['flops_per_sentence']:.0f} int8).",
        "",
        *ratios,
        "",
        *check_lines(results),
        *profile_lines(results.get("profile"), results["variants"], ceiling),
        *pubsub_lines(results.get("pubsub") or []),
        *bulk_lines(results.get("bulk")),
        *lambda_lines(results.get("lambda_start")),
        *(
            goodput_lines(found["trees"], found["timeout_s"], found["seconds"])
            if (found := results.get("goodput"))
            else []
        ),
        "",
        *saved_soak_lines(),
        "Cold start: process start to the first 200 from `/predict`, with the page cache warm, and "
        "after dropping it (`/proc/sys/vm/drop_caches`, as root; what the first start after a deploy "
        "sees: every library and weight file read from disk). Peak RSS: the "
        "process that serves (gunicorn's worker for ours, uvicorn for the baseline). Files loaded: what "
        "the variant reads from the model folder. Throughput: sentences per second with N callers each "
        "sending one sentence per request, back to back.",
    ]
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "results.md").write_text(text)
    results_file().write_text(text)


def check_lines(results: dict) -> list[str]:
    """The int8 recipe's agreement as judged on this CPU, and what the start-up check costs."""
    lines = []
    int8 = results.get("int8")
    if int8:
        agreement = int8["agreement"]
        lines += [
            f"The shipped int8 recipe (`{int8['recipe']}`) agreed with torch fp32 on "
            f"{agreement['argmax_agreement']:.2%} of the {agreement['sentences']} calibration sentences "
            f"(largest probability difference {agreement['max_abs_diff']:.1e}), judged at bake on "
            f"{int8['judged_on']['model']}, {int8['judged_on']['kind']}.",
            "",
        ]
    checked = [(name, r) for name, r in results["variants"].items() if "check_s" in r]
    if checked:
        lines += [
            "The start-up check (the variant's check set, one forward pass on this CPU, before the "
            "first request is served). Since the worker loads its model on a thread while it imports "
            "and builds the app, the check runs beside those imports (slower, as they share the two "
            "cores), so its share is of the wall-clock cold start, not what it adds to it:",
            "",
            "| Variant | Check (ms) | Share of the warm cold start |",
            "|---|---|---|",
            *(f"| {name} | {r['check_s'] * 1000:.1f} | {r['check_share']:.1%} |" for name, r in checked),
            "",
        ]
    return lines


def profile_lines(profile: dict | None, measured: dict, ceiling: dict) -> list[str]:
    """Where the int8 service's CPU goes at concurrency 64 (bench/profile.py)."""
    if not profile:
        return ["Where the time goes: not measured (--skip-profile).", ""]
    if "incomplete" in profile:
        return [f"Where the time goes: incomplete: {profile['incomplete']}.", ""]
    ceiling_rate = ceiling["int8_flops"] / ceiling["flops_per_sentence"]
    http = profile["requests_per_s_without_profiler"]
    rows = [f"| {name} | {share:.1f}% |" for name, share in profile["shares_percent"].items()]
    served = measured.get("onnx int8", {}).get("rps_c64")
    return [
        f"Where the time goes: the onnx int8 service under wrk at concurrency {profile['concurrency']} for "
        f"{profile['seconds']:.0f} s, the kernel's CPU time of each thread of the worker split over what "
        f"py-spy saw it run ({profile['samples']} samples at {profile['rate_hz']} Hz over "
        f"{profile['python_threads']} Python threads; threads it never saw in Python are native: ONNX "
        f"Runtime's pool). Shares of the {profile['cores']} cores over the window (method: "
        "`bench/profile.py`, docs/benchmarks.md):",
        "",
        "| Where | Share of the CPUs |",
        "|---|---|",
        *rows,
        "",
        f"In the same run: {http:.2f} sentences/s over HTTP without the profiler "
        f"({profile['requests_per_s']:.2f} with it: sampling costs the two-thread ONNX Runtime pool "
        f"more than its own CPU time); the same int8 session in-process on {IN_PROCESS_ITEMS} of the "
        f"sentences, all cores, no HTTP: {profile['in_process_per_s']:.2f} sentences/s (HTTP at "
        f"{http / profile['in_process_per_s']:.0%} of it); the GEMM-bound ceiling {ceiling_rate:.2f} "
        f"sentences/s (HTTP at {http / ceiling_rate:.0%} of it"
        + (f"; the throughput table's c=64 figure: {served / ceiling_rate:.0%})." if served else ")."),
        "",
    ]


def pubsub_lines(runs: list[dict]) -> list[str]:
    if not runs:
        return ["Pub/Sub path: not measured (gcloud's emulator or java absent, or --skip-pubsub).", ""]
    lines = [
        "Through Pub/Sub (the real emulator, a push subscription to `predict_pubsub` on onnx int8, results "
        "pulled back; from the first publish to the last result; the emulator shares the two cores):",
        "",
        "| Messages | Sentences each | Messages/s | Sentences/s |",
        "|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['received']} of {run['messages']} | {run['per_message']} | {run['messages_per_s']:.1f} "
            f"| {run['sentences_per_s']:.1f} |"
        )
    return [*lines, ""]


def bulk_lines(bulk: dict | None) -> list[str]:
    if not bulk:
        return ["Bulk path: not measured (no Beam environment, `make beam-venv`, or --skip-bulk).", ""]
    prices = bulk["prices"]
    return [
        f"Bulk (`python -m function.bulk`, DirectRunner, 2 worker processes, onnx int8, {bulk['items']} "
        f"NegEx sentences, wall time from launch to the last output written: "
        f"{bulk['bulk_seconds']:.0f} s) against the HTTP service at concurrency 64 on the same sentences "
        f"and cores, one after the other: **{bulk['bulk_items_per_s']:.1f} vs "
        f"{bulk['http_c64_items_per_s']:.1f} items/s ({bulk['ratio']:.2f}x)**; marginal bulk rate (a run of "
        f"{bulk['small_run']['items']} items subtracted, so the start-up cancels) "
        f"{bulk['bulk_marginal_items_per_s']:.1f} items/s ({bulk['marginal_ratio']:.2f}x). "
        f"The compute ceiling in the same run ({bulk['int8_gemm_gops']:.0f} GOP/s int8 GEMM peak): "
        f"{bulk['ceiling_items_per_s']:.1f} items/s (HTTP at {bulk['http_share_of_ceiling']:.0%} of it); the "
        f"served variant in-process on the same items, all cores, no HTTP and no Beam: "
        f"{bulk['in_process_items_per_s']:.1f} items/s (HTTP at {bulk['http_share_of_in_process']:.0%} of "
        f"it), so no bulk path with this runtime can exceed {bulk['best_possible_ratio']:.2f}x HTTP here. "
        f"Estimated Dataflow cost at "
        f"this rate: ${bulk['dataflow_usd_per_million']:.2f} per million items on {prices['machine']} "
        f"workers (list prices assumed: ${prices['vcpu_hour']}/vCPU-hour, ${prices['gb_hour']}/GB-hour, "
        "batch, us-central1; storage and shuffle not counted).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100, help="sentences per latency and c=1 run")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--skip-pubsub", action="store_true", help="skip the Pub/Sub emulator measurement")
    parser.add_argument("--skip-bulk", action="store_true", help="skip the bulk (Beam) measurement")
    parser.add_argument("--skip-profile", action="store_true", help="skip the where-the-time-goes profile")
    parser.add_argument("--skip-lambda", action="store_true", help="skip Lambda's cold start")
    parser.add_argument("--skip-goodput", action="store_true", help="skip goodput when callers give up")
    parser.add_argument(
        "--before", metavar="REF", help="also measure the int8 service of commit REF (from a git worktree)"
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    baked = baked_bench_model(WORK)
    compile_sources(ROOT)
    texts = sentences()
    chosen = [v for v in variants(WORK / "source", baked) if not args.only or v.name in args.only]
    before = before_variant(args.before, WORK / "source") if args.before else None
    if before is not None:
        chosen.insert(1, before)
    trees = code_trees(baked, before)
    results: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sentences": len(texts),
        "mean_tokens": mean_tokens(baked, texts),
        "repeats": args.repeats,
    }
    peaks = gemm_peaks(threads=os.cpu_count() or 1)
    results["ceiling"] = {
        "fp32_flops": peaks["fp32"],
        "int8_flops": peaks["int8"],
        "flops_per_sentence": encoder_flops(round(results["mean_tokens"])),
    }
    int8 = ModelFolder.open(baked).manifest.variants["onnx-int8"]
    results["int8"] = {
        "recipe": int8.recipe.get("name"),
        "agreement": int8.agreement,
        "judged_on": int8.judged_on,
    }
    results["variants"] = {v.name: measure(v, texts, args.repeats, args.requests) for v in chosen}
    if not args.skip_pubsub:
        results["pubsub"] = [
            found
            for count, per_message in ((600, 1), (200, 5))
            if (found := messages_per_second(baked, texts, count, per_message)) is not None
        ]
    if not args.skip_profile:
        results["profile"] = {
            **where_the_time_goes(baked, texts),
            "in_process_per_s": round(in_process_rate(baked, texts[:IN_PROCESS_ITEMS]), 2),
        }
    if not args.skip_lambda:
        results["lambda_start"] = lambda_cold_starts(trees, texts, args.repeats)
    int8_rate = results["variants"].get("onnx int8", {}).get("rps_c64")
    if not args.skip_goodput and int8_rate:
        timeout = timeout_for(int8_rate)
        results["goodput"] = {
            "timeout_s": timeout,
            "seconds": GOODPUT_SECONDS,
            "trees": compare(trees, texts, GOODPUT_SECONDS, timeout, repeats=1),
        }
    if not args.skip_bulk:
        results["bulk"] = bulk_vs_http(baked, texts, count=1000)
    write(results)
    print((ROOT / "bench" / "results.md").read_text())


if __name__ == "__main__":
    main()
