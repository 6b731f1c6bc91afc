"""Goodput when callers give up: answers that reach a caller still waiting, per second.

Under overload real callers time out and go. Each of 64 callers here sends one sentence at a
time and gives up after `--timeout` seconds (httpx closes the connection, as a client library
does), then sends the next. Counted: answers received in time per second of the window, and
the share of attempts that timed out. The int8 HTTP target as Cloud Run runs it: today's
code and, with ``--before REF``, that commit's worktree (its own bake), alternating.

    python -m bench.goodput [--before REF] [--timeout 6] [--seconds 60] [--repeats 2]

`make bench` runs it with a timeout of 0.9x the int8 service's mean wait at 64 callers in
the same run (64 / its c=64 rate): callers give up just before a typical answer, the
overloaded regime on any CPU. Standalone, 6 s suits the AVX2 EPYC (a 6.6 s mean wait there).

A service that computes the requests of callers who have gone serves each new request behind
a queue of dead ones: past some load, almost nothing arrives in time (congestion collapse).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx

from bench.measure import Server, first_answer, int8_env, save_results, start
from tests.support.servers import http_target_command

CALLERS = 64


def goodput(server: Server, sentences: list[str], seconds: float, timeout: float) -> dict:
    """Answers in time per second, and the share of attempts that timed out."""

    async def run() -> dict:
        counts = {"answered": 0, "timed_out": 0, "other": 0}
        limits = httpx.Limits(max_connections=CALLERS, max_keepalive_connections=CALLERS)
        deadline = time.perf_counter() + seconds
        async with httpx.AsyncClient(base_url=server.url, timeout=timeout, limits=limits) as client:

            async def caller(offset: int) -> None:
                sent = offset
                while time.perf_counter() < deadline:
                    sentence = sentences[sent % len(sentences)]
                    sent += CALLERS
                    try:
                        reply = await client.post("/predict", json={"sentence": sentence})
                    except httpx.TimeoutException:
                        counts["timed_out"] += 1
                        continue
                    if time.perf_counter() > deadline:
                        return  # answered after the window: not counted either way
                    counts["answered" if reply.status_code == 200 else "other"] += 1

            began = time.perf_counter()
            await asyncio.gather(*(caller(n) for n in range(CALLERS)))
            elapsed = time.perf_counter() - began
        attempts = counts["answered"] + counts["timed_out"] + counts["other"]
        return {
            "answered_per_s": counts["answered"] / elapsed,
            "timed_out_share": counts["timed_out"] / attempts if attempts else 0.0,
            **counts,
        }

    return asyncio.run(run())


def compare(
    trees: dict[str, tuple[Path, Path]], sentences: list[str], seconds: float, timeout: float, repeats: int
) -> dict:
    found: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(repeats):
        for name, (tree, baked) in trees.items():
            server = start(http_target_command(), int8_env(tree, baked), tree)
            try:
                first_answer(server, sentences[0])
                found[name].append(goodput(server, sentences, seconds, timeout))
            finally:
                server.stop()
            print(f"  {name}: {json.dumps(found[name][-1])}", flush=True)
    return {
        name: {
            "answered_per_s": statistics.median(run["answered_per_s"] for run in runs),
            "runs": runs,
        }
        for name, runs in found.items()
    }


def timeout_for(rate_c64: float) -> float:
    """Just under the mean wait of a caller at 64 callers when nobody gives up."""
    return round(0.9 * CALLERS / rate_c64, 2)


def goodput_lines(found: dict | None, timeout: float, seconds: float) -> list[str]:
    if not found:
        return []
    lines = [
        "",
        f"Goodput when callers give up (`bench/goodput.py`): {CALLERS} callers, each giving up after "
        f"{timeout:g} s and sending the next sentence, {seconds:g} s windows; answers received in time "
        "per second, onnx int8:",
        "",
        "| Code | Answered in time per second (median) | Each run: answered/s, share timed out |",
        "|---|---|---|",
    ]
    for name, result in found.items():
        each = "; ".join(f"{r['answered_per_s']:.2f}, {r['timed_out_share']:.0%}" for r in result["runs"])
        lines.append(f"| {name} | {result['answered_per_s']:.2f} | {each} |")
    return lines


def main() -> None:
    from bench.run import sentences, standalone_trees

    parser = argparse.ArgumentParser()
    parser.add_argument("--before", metavar="REF")
    parser.add_argument("--timeout", type=float, default=6.0, help="seconds a caller waits")
    parser.add_argument("--seconds", type=float, default=60.0, help="window per run")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    found = compare(standalone_trees(args.before), sentences(), args.seconds, args.timeout, args.repeats)
    text = "\n".join(goodput_lines(found, args.timeout, args.seconds)).strip() + "\n"
    print(text)
    save_results("goodput", "Goodput when callers give up", text)


if __name__ == "__main__":
    main()
