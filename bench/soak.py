"""python -m bench.soak: the int8 service under steady load for minutes (`make soak`).

One server process (the HTTP target as Cloud Run runs it, ONNX Runtime int8), wrk at
concurrency 64 in back-to-back windows (60 s each by default), real NegEx sentences. Per
window: requests, errors (non-2xx and socket errors), p50/p99 latency from wrk's
distribution, and the serving worker's resident and peak memory. Judged:
  - 0 errors, and the same worker process throughout (none died and was replaced);
  - p99 stable: the last window's p99 within 1.5x of the first's;
  - memory: peak RSS (VmHWM) growth under 5 % from the end of the first window to the end.
Exit status 0 when every criterion holds, 1 when one does not, 2 when the soak could not run
(wrk missing): "incomplete", never "passed". The figures go to bench/soak.json and into
bench/results.md's "Soak" section.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import first_answer, int8_env, memory_kb, run_wrk, start, wrk_bodies
from tests.support.models import marked_negex_sentences
from tests.support.servers import child_pids, http_target_command

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.md"
SOAK_JSON = ROOT / "bench" / "soak.json"
BEGIN, END = "<!-- soak: written by python -m bench.soak -->", "<!-- /soak -->"
P99_RATIO_LIMIT = 1.5
RSS_GROWTH_LIMIT = 0.05
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_wrk(output: str) -> dict:
    """Requests, errors and the p50/p99 latency (ms) of one `wrk --latency` run."""

    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([0-9.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"cannot read the {percent}th percentile in wrk's output:\n{output}")
        return float(match.group(1)) * UNITS[match.group(2)]

    requests = re.search(r"([0-9]+) requests in", output)
    if requests is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", output)
    sockets = re.search(
        r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", output
    )
    return {
        "requests": int(requests.group(1)),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(int(n) for n in sockets.groups()) if sockets else 0),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
    }


def serving_pid(master: int) -> int:
    """gunicorn's worker: the process that serves and holds the model."""
    children = child_pids(master)
    if len(children) != 1:
        raise RuntimeError(f"expected one worker under {master}, found {children}")
    return children[0]


def soak(model: Path, minutes: float, window: float, concurrency: int, texts: list[str]) -> dict:
    server = start(http_target_command(), int8_env(ROOT, model), ROOT)
    windows = []
    try:
        cold_start = first_answer(server, texts[0])
        worker = serving_pid(server.process.pid)
        count = max(2, round(minutes * 60 / window))
        with wrk_bodies(texts) as bodies:
            for index in range(count):
                row = parse_wrk(run_wrk(server, bodies, concurrency, window, timeout="30s", latency=True))
                alive = server.process.poll() is None and Path(f"/proc/{worker}").exists()
                row.update(memory_kb(worker) if alive else {"VmRSS": 0, "VmHWM": 0})
                row["worker_alive"] = alive
                row["window"] = index + 1
                windows.append(row)
                print(
                    f"  window {index + 1}/{count}: {row['requests'] / window:.1f} req/s, "
                    f"errors {row['errors']}, p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms, "
                    f"RSS {row['VmRSS'] / 1024:.0f} MB, peak {row['VmHWM'] / 1024:.0f} MB",
                    flush=True,
                )
                if not alive:
                    break
    finally:
        server.stop()
    return judge(windows, cold_start, window, concurrency)


def judge(windows: list[dict], cold_start: float, window: float, concurrency: int) -> dict:
    first, last = windows[0], windows[-1]
    errors = sum(row["errors"] for row in windows)
    p99_ratio = last["p99_ms"] / first["p99_ms"]
    rss_growth = (last["VmHWM"] - first["VmHWM"]) / first["VmHWM"] if first["VmHWM"] else float("inf")
    criteria = {
        "no_errors": errors == 0 and all(row["worker_alive"] for row in windows),
        "p99_stable": p99_ratio <= P99_RATIO_LIMIT,
        "rss_growth": rss_growth < RSS_GROWTH_LIMIT,
    }
    return {
        "windows": windows,
        "window_s": window,
        "concurrency": concurrency,
        "cold_start_s": cold_start,
        "errors": errors,
        "requests": sum(row["requests"] for row in windows),
        "p99_ratio": p99_ratio,
        "rss_growth": rss_growth,
        "criteria": criteria,
        "verdict": "passed" if all(criteria.values()) else "failed",
    }


def lines(soak: dict) -> list[str]:
    """The "Soak" section of bench/results.md."""
    m = soak["machine"]
    rows = [
        "| Window | Requests/s | Errors | p50 (ms) | p99 (ms) | RSS (MB) | Peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in soak["windows"]:
        rows.append(
            f"| {row['window']} | {row['requests'] / soak['window_s']:.1f} | {row['errors']} "
            f"| {row['p50_ms']:.0f} | {row['p99_ms']:.0f} "
            f"| {row['VmRSS'] / 1024:.0f} | {row['VmHWM'] / 1024:.0f} |"
        )
    c = soak["criteria"]
    return [
        BEGIN,
        "## Soak",
        "",
        f"`make soak`, {soak['when']}, on **{m['cpu']}** ({m['cpus']} CPUs): the int8 service on "
        f"{soak['model']}, wrk at concurrency {soak['concurrency']} for "
        f"{len(soak['windows']) * soak['window_s'] / 60:g} minutes in {soak['window_s']:.0f}-second windows, "
        f"{soak['requests']} requests. Verdict: **{soak['verdict']}**.",
        "",
        f"- Errors: {soak['errors']} (non-2xx and socket errors), worker never replaced: "
        f"{'yes' if c['no_errors'] else 'NO'}.",
        f"- p99 of the last window / the first: {soak['p99_ratio']:.2f}x (limit {P99_RATIO_LIMIT}x): "
        f"{'held' if c['p99_stable'] else 'MISSED'}.",
        f"- Peak RSS growth from the end of the first window to the end: {soak['rss_growth']:+.1%} "
        f"(limit {RSS_GROWTH_LIMIT:.0%}): {'held' if c['rss_growth'] else 'MISSED'}.",
        "",
        *rows,
        END,
    ]


def saved_soak_lines() -> list[str]:
    """The last soak's section (bench/soak.json), for `make bench` to keep in results.md."""
    if not SOAK_JSON.exists():
        return []
    return [*lines(json.loads(SOAK_JSON.read_text())), ""]


def write_section(section: list[str]) -> None:
    """Put the section into bench/results.md, replacing the previous one."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = "\n".join(section)
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=60.0, help="seconds per measured window")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--model", type=Path, help="a baked folder (default: the bench's BERT-base-shaped one)"
    )
    parser.add_argument("--json", type=Path, default=SOAK_JSON, help="where the figures go")
    parser.add_argument("--no-results-md", action="store_true", help="leave bench/results.md alone")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("soak: incomplete: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        sys.exit(2)
    from bench.run import WORK, machine, sentences

    if args.model is None:
        from bench.model import baked_bench_model

        WORK.mkdir(parents=True, exist_ok=True)
        model, described = baked_bench_model(WORK), "the BERT-base-shaped bench model (random weights)"
    else:
        model, described = args.model, "the baked folder given with --model"
    texts = marked_negex_sentences() or sentences()
    result = soak(model, args.minutes, args.window, args.concurrency, texts)
    result.update(when=datetime.now(UTC).isoformat(timespec="seconds"), machine=machine(), model=described)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    section = lines(result)
    if not args.no_results_md:
        write_section(section)
    print("\n".join(section[1:-1]))
    sys.exit(0 if result["verdict"] == "passed" else 1)


if __name__ == "__main__":
    main()
