"""Run the bake's CLI as users run it (a subprocess, the project on PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.servers import ROOT

# The small random test model's int8 variant agrees with its fp32 reference on about 98 % of
# the calibration set (a trained model has wider margins), the same on every x86 CPU since the
# int8 recipe takes exact kernels everywhere; the session's folder is baked with a lower gate
# so that int8 serving is exercised too. tests/test_onnx.py shows a stricter gate refusing it.
TEST_MIN_AGREEMENT = "0.9"


def run_bake(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model_bake", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
