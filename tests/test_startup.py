"""Both entry points refuse to start, with one clear message, on a folder or configuration
they cannot run with; neither ever serves half-configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bake import served_int8_graph
from tests.support.lambda_invoke import invoke
from tests.support.servers import functions_framework_server, lambda_process


@pytest.mark.parametrize("start", [functions_framework_server, lambda_process])
def test_a_missing_model_folder_stops_the_start(start, tmp_path: Path) -> None:
    start({"MODEL_DIR": str(tmp_path / "nowhere")}, tmp_path / "log").refuses_to_start("does not exist")


@pytest.mark.parametrize("start", [functions_framework_server, lambda_process])
@pytest.mark.parametrize(
    ("backend", "weights"), [("onnx", "model.int8.onnx"), ("torch", "model.safetensors")]
)
def test_a_truncated_model_file_stops_the_start(
    start, backend: str, weights: str, baked_copy: Path, tmp_path: Path
) -> None:
    (baked_copy / weights).write_bytes((baked_copy / weights).read_bytes()[:1000])
    start({"MODEL_DIR": str(baked_copy), "BACKEND": backend}, tmp_path / "log").refuses_to_start(
        weights, "truncated"
    )


@pytest.mark.parametrize("start", [functions_framework_server, lambda_process])
def test_weights_that_do_not_load_stop_the_start(start, baked_copy: Path, tmp_path: Path) -> None:
    """Same size, other bytes: only loading can tell. Under Functions Framework the worker
    loads after the fork; it exits with gunicorn's boot-error status, which stops the master
    instead of respawning the worker forever."""
    served = served_int8_graph(baked_copy)  # the int8 weights on a VNNI or AMX CPU
    weights = baked_copy / served
    weights.write_bytes(bytes(weights.stat().st_size))
    process = start({"MODEL_DIR": str(baked_copy)}, tmp_path / "log")
    logs = process.refuses_to_start(served, "ONNX Runtime cannot load it")
    if start is functions_framework_server:
        assert process.process.returncode == 3 and "Worker failed to boot" in logs


def test_bad_configuration_stops_the_start_naming_each_variable(baked_model: Path, tmp_path: Path) -> None:
    env = {"MODEL_DIR": str(baked_model), "MAX_BATCH_SIZE": "-3", "API_KEYS": "tiny-key", "LOG_LEVEL": "LOUD"}
    logs = functions_framework_server(env, tmp_path / "log").refuses_to_start(
        "MAX_BATCH_SIZE", "API_KEYS", "LOG_LEVEL"
    )
    assert "tiny-key" not in logs


def test_an_event_no_handler_claims_is_an_invocation_error(deployments) -> None:
    event = {"detail-type": "Scheduled Event", "source": "aws.events"}
    reply = invoke(deployments["open"].lam.url, event, timeout=30)
    assert reply.headers.get("x-amz-function-error") == "Unhandled"
    assert "no handler for an event with keys ['detail-type', 'source']" in reply.json()["errorMessage"]
