"""Where the int8 service's CPU goes under load: `python -m bench.profile` (part of `make bench`).

One int8 server (the HTTP target as Cloud Run runs it) under wrk at concurrency 64, after a
warm-up and once the warm-up's abandoned requests are done. Over the window:

- the kernel's CPU time of every thread of the worker (/proc/PID/task/TID/stat), of wrk and
  py-spy (this process's waited children), and of the whole machine (/proc/stat);
- py-spy sampling the worker's Python threads (`--threads --nonblocking`), each stack put in
  the first category below that one of its frames matches;
- each Python thread's measured CPU time split over categories in proportion to its samples.
  Threads py-spy never sees running Python are native: ONNX Runtime's intra-op pool (and
  tokenizers' Rust pool, if it ran), counted as ONNX Runtime.

Shares are of the machine's capacity (cores x window), so the rows and idle add up to 100 %.
Sampling is an estimate (a few hundred samples per thread); the CPU times are the kernel's.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.measure import (
    TICK,
    Server,
    first_answer,
    int8_env,
    requests_per_s,
    run_wrk,
    start,
    thread_ticks,
    wait_until_idle,
    wrk_bodies,
)
from tests.support.servers import child_pids, http_target_command

ROOT = Path(__file__).resolve().parent.parent
NATIVE = "ONNX Runtime, its own threads"
# Highest priority first: a stack belongs to the first category one of its frames matches
# (ONNX Runtime called by the batcher is ONNX Runtime; JSON written by logging is logging).
_ENCODING = (
    "dumps (json/", "json/encoder.py", "orjson", "fastapi/encoders.py", "render (starlette/responses.py",
    "serialize_response (fastapi/routing.py",
)  # fmt: skip
_PARSING = (
    "loads (json/", "json/decoder.py", "pydantic", "fastapi/dependencies/", "json (starlette/requests.py",
    "body (starlette/requests.py", "function/core/items.py", "function/core/markers.py",
    "function/api/body_guard.py", "function/api/schemas.py",
)  # fmt: skip
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ONNX Runtime, called from Python", ("onnxruntime/",)),
    ("tokenization", ("tokenizers", "function/core/tokenization.py")),
    ("logging", ("logging/__init__.py", "function/core/logs.py", "_log (function/api/request_log.py")),
    ("JSON encoding", _ENCODING),
    ("request parsing and validation", _PARSING),
    ("micro-batcher", ("function/core/batching.py", "function/core/classifier.py")),
    (
        "routing and middleware (Starlette, FastAPI, Functions Framework, ours)",
        ("starlette/", "fastapi/", "functions_framework/", "function/api/", "function/main.py", "anyio/"),
    ),
    ("HTTP stack (uvicorn, h11, asyncio)", ("uvicorn/", "h11/", "httptools", "asyncio/", "selectors.py")),
)
OTHER = "other Python"


def categorize(stack: str) -> str:
    for name, needles in CATEGORIES:
        if any(needle in stack for needle in needles):
            return name
    return OTHER


def machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return total - idle, total


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_raw(path: Path) -> dict[int, Counter[str]]:
    """py-spy's raw output (`thread (TID): NAME;frame;...;frame COUNT`) as samples per
    category, per thread."""
    found: dict[int, Counter[str]] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        match = re.match(r"thread \((\d+)\)", stack)
        if not match or not count.isdigit():
            continue
        found.setdefault(int(match.group(1)), Counter())[categorize(stack)] += int(count)
    return found


def py_spy() -> str | None:
    """py-spy from this interpreter's environment (requirements-dev), else from PATH."""
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def where_the_time_goes(
    baked: Path, texts: list[str], *, seconds: float = 20.0, concurrency: int = 64, rate: int = 20
) -> dict:
    spy = py_spy()
    if spy is None or not shutil.which("wrk"):
        return {"incomplete": "needs py-spy (requirements-dev.txt) and wrk (apt) on PATH"}
    server = start(http_target_command(), int8_env(ROOT, baked), ROOT)
    try:
        first_answer(server, texts[0])
        (worker,) = child_pids(server.process.pid)
        with wrk_bodies(texts) as bodies:
            run_wrk(server, bodies, concurrency, 5)  # warm-up: every batch shape, every path
            wait_until_idle(worker)
            unprofiled = requests_per_s(run_wrk(server, bodies, concurrency, seconds))
            wait_until_idle(worker)
            return _profiled_window(server, worker, bodies, spy, seconds, concurrency, rate) | {
                "requests_per_s_without_profiler": unprofiled,
                "concurrency": concurrency,
                "rate_hz": rate,
            }
    finally:
        server.stop()


def _profiled_window(
    server: Server, worker: int, bodies: str, spy: str, seconds: float, concurrency: int, rate: int
) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "stacks.txt"
        threads_before, (busy_before, total_before) = thread_ticks(worker), machine_ticks()
        children_before, began = children_seconds(), time.perf_counter()
        profiler = subprocess.Popen(
            [spy, "record", "--pid", str(worker), "--rate", str(rate), "--duration", f"{seconds:.0f}",
             "--format", "raw", "--threads", "--nonblocking", "--output", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        report = run_wrk(server, bodies, concurrency, seconds)
        _, error = profiler.communicate(timeout=60)
        wall = time.perf_counter() - began
        threads_after, (busy_after, total_after) = thread_ticks(worker), machine_ticks()
        helpers = children_seconds() - children_before
        if profiler.returncode != 0 or not raw.exists():
            return {"incomplete": f"py-spy could not sample the worker: {error.strip()[-300:]}"}
        samples = parse_raw(raw)
    cores = os.cpu_count() or 1
    capacity = cores * wall
    cpu: dict[str, float] = defaultdict(float)
    for tid, after in threads_after.items():
        used = (after - threads_before.get(tid, 0)) / TICK
        seen = samples.get(tid)
        if not seen:
            cpu[NATIVE] += used
            continue
        total = sum(seen.values())
        for category, count in seen.items():
            cpu[category] += used * count / total
    worker_s = sum(cpu.values())
    machine_busy_s = (busy_after - busy_before) / (total_after - total_before) * capacity
    ranked = sorted(cpu.items(), key=lambda kv: -kv[1])
    shares = {name: round(100 * value / capacity, 1) for name, value in ranked}
    shares["wrk (load) and py-spy"] = round(100 * helpers / capacity, 1)
    shares["other processes"] = round(100 * max(0.0, machine_busy_s - worker_s - helpers) / capacity, 1)
    shares["idle"] = round(100 * max(0.0, capacity - machine_busy_s) / capacity, 1)
    return {
        "cores": cores,
        "seconds": round(wall, 1),
        "requests_per_s": requests_per_s(report),
        "samples": sum(sum(seen.values()) for seen in samples.values()),
        "python_threads": len(samples),
        "shares_percent": shares,
        "worker_share_percent": round(100 * worker_s / capacity, 1),
    }


def main() -> None:
    from bench.model import baked_bench_model
    from bench.run import WORK, sentences

    print(json.dumps(where_the_time_goes(baked_bench_model(WORK), sentences()), indent=2))


if __name__ == "__main__":
    main()
