"""Session fixtures: a small real model, baked with the real CLI, served by the real entry
points, and the reference pipeline the served answers must equal."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.bake import TEST_MIN_AGREEMENT, run_bake
from tests.support.endpoints import ENTRY_POINTS, Endpoint, HttpEndpoint, LambdaEndpoint
from tests.support.keys import KEY_A, KEY_B
from tests.support.models import build_bert_folder
from tests.support.pubsub_emulator import PubSubEmulator
from tests.support.pubsub_world import World
from tests.support.references import OnnxReference, Reference
from tests.support.servers import ServedProcess, functions_framework_server, lambda_process, stop_all

OPEN_LIMITS = {"MAX_BATCH_SIZE": "4", "MAX_BODY_BYTES": "4096"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that failed between starting a server and stopping it leaves nothing behind."""
    left = stop_all()
    if left:
        print(f"\nconftest: stopped {left} server process(es) that tests left running")


@pytest.fixture(scope="session")
def model_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder as the hub has it: config.json, vocab.txt, model.safetensors."""
    return build_bert_folder(tmp_path_factory.mktemp("source") / "model")


@pytest.fixture(scope="session")
def baked_model(model_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baked") / "model"
    result = run_bake(
        "--from-dir", str(model_source), "--out", str(out), "--min-agreement", TEST_MIN_AGREEMENT
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def baked_copy(baked_model: Path, tmp_path: Path) -> Path:
    """A copy of the session's baked folder, for a test that damages it."""
    copy = tmp_path / "model"
    shutil.copytree(baked_model, copy)
    return copy


@pytest.fixture(scope="session")
def int8_reference(model_source: Path, baked_model: Path) -> OnnxReference:
    return OnnxReference(model_source, baked_model, "int8")


@pytest.fixture(scope="session")
def reference(model_source: Path) -> Reference:
    return Reference(model_source)


@dataclass
class Deployment:
    """One configuration served by both entry points."""

    ff: ServedProcess
    lam: ServedProcess
    key: str | None

    def endpoint(self, name: str) -> Endpoint:
        if name == "ff":
            return HttpEndpoint(self.ff.url, self.key)
        return LambdaEndpoint(self.lam.url, name.removeprefix("lambda-"), self.key)

    def processes(self) -> list[ServedProcess]:
        return [self.ff, self.lam]


def _deploy(
    env: dict[str, str], key: str | None, logs: Path, name: str, started: list[ServedProcess]
) -> Deployment:
    """Start both entry points; `started` collects every process, so that the caller stops
    them all even when one of them fails to start."""
    ff = functions_framework_server(env, logs / f"{name}-ff.log")
    started.append(ff)
    lam = lambda_process(env, logs / f"{name}-lambda.log")
    started.append(lam)
    deployment = Deployment(ff, lam, key)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(ServedProcess.wait_ready, deployment.processes()))
    return deployment


@pytest.fixture(scope="session")
def deployments(
    baked_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Deployment]]:
    """'secured': the torch fp32 reference backend (answers must equal the pipeline's), API
    keys on, default limits. 'open': the serving default, onnx int8; no keys, unmarked input
    allowed, and small limits (MAX_BATCH_SIZE=4, MAX_BODY_BYTES=4096) so the limits are cheap
    to test."""
    logs = tmp_path_factory.mktemp("logs")
    common = {"MODEL_DIR": str(baked_model), "INTRA_OP_THREADS": "1", "GOOGLE_CLOUD_PROJECT": "test-project"}
    started: list[ServedProcess] = []
    try:
        with ThreadPoolExecutor(2) as pool:
            secured = pool.submit(
                _deploy,
                {**common, "BACKEND": "torch", "API_KEYS": f"{KEY_A},{KEY_B}"},
                KEY_A,
                logs,
                "secured",
                started,
            )
            opened = pool.submit(
                _deploy,
                {**common, "BACKEND": "onnx", "PRECISION": "int8", "ALLOW_UNMARKED": "true", **OPEN_LIMITS},
                None,
                logs,
                "open",
                started,
            )
            result = {"secured": secured.result(), "open": opened.result()}
        yield result
    finally:
        for process in started:
            process.stop()


@pytest.fixture(params=ENTRY_POINTS)
def endpoint(request: pytest.FixtureRequest, deployments: dict[str, Deployment]) -> Endpoint:
    """Every entry point on the torch reference, API keys required (KEY_A sent unless a test
    says otherwise)."""
    return deployments["secured"].endpoint(request.param)


@pytest.fixture(params=ENTRY_POINTS)
def open_endpoint(request: pytest.FixtureRequest, deployments: dict[str, Deployment]) -> Endpoint:
    """Every entry point on onnx int8, no keys, ALLOW_UNMARKED=true, small limits."""
    return deployments["open"].endpoint(request.param)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PubSubEmulator]:
    """The real Pub/Sub emulator, one per module that asks for it."""
    started = PubSubEmulator(tmp_path_factory.mktemp("emulator") / "emulator.log")
    yield started
    started.stop()


@pytest.fixture
def world(emulator: PubSubEmulator, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(emulator, monkeypatch)
