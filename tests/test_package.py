"""The project is a real Python package: a wheel built from pyproject.toml carries every
package of the run time and the bake, and the calibration set the bake reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.servers import ROOT


def test_the_wheel_carries_every_package_and_the_calibration_set(tmp_path: Path) -> None:
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools in this venv")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("function", "model_bake"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {
        str(init.parent.relative_to(ROOT))
        for top in ("function", "model_bake")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert packages >= {"function/core", "function/core/backends", "function/startup", "function/events"}
    missing = sorted(p for p in packages if f"{p}/__init__.py" not in names)
    assert not missing, f"packages left out of the wheel: {missing}"
    assert "model_bake/data/calibration.jsonl" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]
