"""Run the bake's CLI as users run it (a subprocess, the project on PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from function.core.model_folder import ModelFolder
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


def int8_forms(folder: Path) -> list[tuple[str, str]]:
    """The int8 graphs this CPU would try, in order, as (variant, graph): the int8 weights
    first where u8s8 sums are exact (VNNI, AMX), then the portable graph (see
    `VariantEntry.forms_for`). What a test expects in reports and logs on this host."""
    return [(v.name, v.files[0]) for v in ModelFolder.open(folder).candidates("onnx", "int8")]


def served_int8_graph(folder: Path) -> str:
    """The int8 graph file this CPU serves first (the one a fault must reach to be seen)."""
    return ModelFolder.open(folder).select("onnx", "int8").files[0]
