"""Lambda's cold start: process start to the first answered invocation, int8 bench model.

The Lambda container runs ``function.lambda_handler``: its init phase is that module's
import (configuration, the model, the handlers), then each invocation calls ``handler``.
Here `tests.support.lambda_invoke` plays the Lambda service (imports the module, then answers
the invoke API on a local port; no AWS), and the first invocation is a Function URL event
for ``POST /predict``, built by `tests.support.lambda_events` as AWS documents it. What this
leaves out is Lambda's own part (fetching the image, starting the runtime client), the same
for every version of our code.

    python -m bench.lambda_start [--before REF] [--repeats N]

With ``--before REF`` the commit's git worktree (the one `make bench --before` uses, with its
own bake of the same model) is measured in the same run, alternating with today's tree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

from bench.measure import Server, int8_env, save_results, start
from tests.support.lambda_events import build_event, read_response
from tests.support.lambda_invoke import INVOKE_PATH


def first_invocation(server: Server, sentence: str, timeout: float = 300.0) -> float:
    """Seconds from process start to the first invocation answered 200 (the harness answers
    the invoke API only once the init phase has finished)."""
    body = json.dumps({"sentence": sentence}).encode()
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=60) as client:
        while time.perf_counter() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"the Lambda harness exited with {server.process.returncode}")
            event = build_event("url", "POST", "/predict", "", {"content-type": "application/json"}, body)
            try:
                reply = client.post(server.url + INVOKE_PATH, json=event)
            except httpx.HTTPError:
                time.sleep(0.02)
                continue
            status, _, _ = read_response(reply.json())
            if status != 200:
                raise RuntimeError(f"the first invocation answered {status}")
            return time.perf_counter() - server.started
    raise TimeoutError("no answer")


def lambda_cold_starts(trees: dict[str, tuple[Path, Path]], sentences: list[str], repeats: int) -> dict:
    """{name: seconds per start} for each (source tree, baked folder), alternating between
    trees so drift on a shared machine falls on each alike."""
    found: dict[str, list[float]] = {name: [] for name in trees}
    command = [sys.executable, "-m", "tests.support.lambda_invoke", "--port", "{port}"]
    for repeat in range(repeats):
        for name, (tree, baked) in trees.items():
            server = start(command, int8_env(tree, baked), tree)
            try:
                found[name].append(first_invocation(server, sentences[repeat % len(sentences)]))
            finally:
                server.stop()
    return {
        name: {"median_s": statistics.median(values), "runs_s": [round(v, 3) for v in values]}
        for name, values in found.items()
    }


def lambda_lines(lambda_start: dict | None) -> list[str]:
    if not lambda_start:
        return []
    lines = [
        "",
        "Lambda's cold start (`bench/lambda_start.py`): process start to the first answered "
        "invocation (a Function URL event for POST /predict) of `function.lambda_handler`, the "
        "int8 variant, under the local stand-in of the invoke API (Lambda's own image fetch and "
        "runtime start are not in it):",
        "",
        "| Code | Median (s) | Each start (s) |",
        "|---|---|---|",
    ]
    for name, found in lambda_start.items():
        each = ", ".join(f"{v:.2f}" for v in found["runs_s"])
        lines.append(f"| {name} | {found['median_s']:.2f} | {each} |")
    return lines


def main() -> None:
    from bench.run import sentences, standalone_trees

    parser = argparse.ArgumentParser()
    parser.add_argument("--before", metavar="REF")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    found = lambda_cold_starts(standalone_trees(args.before), sentences(), args.repeats)
    print(json.dumps(found, indent=2))
    text = "\n".join(lambda_lines(found)).strip() + "\n"
    print(text)
    save_results("lambda", "Lambda's cold start", text, f"{args.repeats} starts each")


if __name__ == "__main__":
    main()
