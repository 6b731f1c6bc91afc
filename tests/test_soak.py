"""The soak's short form (CI): `python -m bench.soak` for 30 seconds on the small model, in
three 10-second windows, at concurrency 64. Errors and memory growth are judged here; the p99
ratio is reported, not asserted (a speed figure on a shared machine: `make soak` judges it
over ten minutes, bench/results.md holds the figures)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak import RSS_GROWTH_LIMIT

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)


def test_thirty_seconds_at_concurrency_64_without_an_error_or_a_leak(
    baked_model: Path, tmp_path: Path
) -> None:
    figures = tmp_path / "soak.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", "0.5", "--window", "10", "--model", str(baked_model),
         "--json", str(figures), "--no-results-md"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stderr[-3000:]
    soak = json.loads(figures.read_text())
    print(run.stdout)
    assert len(soak["windows"]) == 3
    assert soak["errors"] == 0 and all(row["worker_alive"] for row in soak["windows"])
    assert soak["requests"] > 0
    assert soak["rss_growth"] < RSS_GROWTH_LIMIT, soak["windows"]
    assert soak["p99_ratio"] > 0 and "p99 of the last window" in run.stdout
