"""The test harness itself: the models it builds are the same bytes on every run (so a figure
measured on one machine means the same model on another), and it leaves no server running,
whatever happened to the test that started it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from function.core.model_folder import sha256_file
from tests.support.models import build_bert_folder
from tests.support.servers import ServedProcess, functions_framework_server


def test_the_test_model_is_the_same_bytes_on_every_build(model_source: Path, tmp_path: Path) -> None:
    again = build_bert_folder(tmp_path / "again")
    names = sorted(path.name for path in model_source.iterdir())
    assert names == ["config.json", "model.safetensors", "vocab.txt"]
    assert [sha256_file(again / name) for name in names] == [
        sha256_file(model_source / name) for name in names
    ]
    # It can fail: another seed is another model.
    other = build_bert_folder(tmp_path / "other", seed=1)
    assert sha256_file(other / "model.safetensors") != sha256_file(model_source / "model.safetensors")


def group_alive(process: ServedProcess, wait: float = 5.0) -> bool:
    """Whether any process of its group is left (given a moment for killed ones to be reaped)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.killpg(process.process.pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)


def test_a_server_that_fails_to_start_is_stopped_with_its_children(tmp_path: Path) -> None:
    """gunicorn's master and worker both: wait_ready raises, and nothing of it remains."""
    server = functions_framework_server({"MODEL_DIR": str(tmp_path / "nowhere")}, tmp_path / "ff.log")
    with pytest.raises(RuntimeError, match="exited with"):
        server.wait_ready(timeout=60)
    assert not group_alive(server)


def test_a_server_that_never_refuses_is_stopped_when_the_refusal_check_times_out(tmp_path: Path) -> None:
    sleeper = ServedProcess(["sh", "-c", "sleep 300 & exec sleep 300"], {}, tmp_path / "s.log", "/health")
    with pytest.raises(AssertionError, match="still running"):
        sleeper.refuses_to_start(timeout=1)
    assert not group_alive(sleeper)
