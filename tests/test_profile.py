"""`bench.profile`, the "where the time goes" table of `make bench`: its stack rules, and one
short profile of the real server on the test model (py-spy and wrk, real processes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.profile import NATIVE, OTHER, categorize, py_spy, where_the_time_goes
from tests.support.models import calibration_sentences


def stack(*frames: str) -> str:
    return "thread (1): MainThread;" + ";".join(frames)


REQUEST = (
    "run_asgi (uvicorn/protocols/http/h11_impl.py:411)",
    "__call__ (function/api/request_log.py:60)",
    "app (starlette/routing.py:65)",
)


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ((*REQUEST, "render (starlette/responses.py:200)", "dumps (json/__init__.py:238)"), "JSON encoding"),
        ((*REQUEST, "_log (function/api/request_log.py:107)", "dumps (json/__init__.py:238)"), "logging"),
        ((*REQUEST, "validate_python (pydantic/type_adapter.py:1)"), "request parsing and validation"),
        ((*REQUEST, "prepare (function/core/items.py:1)", "encode (function/core/tokenization.py:48)"),
         "tokenization"),
        (("_serve (function/core/batching.py:104)", "run (onnxruntime/capi/onnxruntime_inference_collection.py:1)"),
         "ONNX Runtime, called from Python"),
        (("_serve (function/core/batching.py:104)", "_take (function/core/batching.py:120)"), "micro-batcher"),
        (REQUEST, "routing and middleware (Starlette, FastAPI, Functions Framework, ours)"),
        (("_run_once (asyncio/base_events.py:1922)",), "HTTP stack (uvicorn, h11, asyncio)"),
        (("run (gunicorn/arbiter.py:247)",), OTHER),
    ],
)  # fmt: skip
def test_a_stack_goes_to_the_most_specific_place_it_reaches(frames: tuple[str, ...], expected: str) -> None:
    assert categorize(stack(*frames)) == expected


def test_a_short_profile_of_the_real_server_accounts_for_the_machine(baked_model: Path) -> None:
    if py_spy() is None or shutil.which("wrk") is None:
        pytest.skip("needs py-spy (requirements-dev.txt) and wrk (apt install wrk)")
    texts = [s for s in calibration_sentences() if len(s) < 400][:200]
    found = where_the_time_goes(baked_model, texts, seconds=6, concurrency=8)
    if "incomplete" in found and "py-spy could not sample" in found["incomplete"]:
        pytest.skip(f"py-spy cannot attach to a process here (ptrace): {found['incomplete']}")
    assert "incomplete" not in found, found
    shares = found["shares_percent"]
    # Kernel CPU times of the worker, the load and the machine: the rows and idle make the whole.
    assert 95 <= sum(shares.values()) <= 105, shares
    assert found["samples"] > 0 and found["python_threads"] >= 2
    inference = shares.get("ONNX Runtime, called from Python", 0) + shares.get(NATIVE, 0)
    assert inference > 0 and found["requests_per_s"] > 0 and found["requests_per_s_without_profiler"] > 0
