"""Session fixtures: a small real model, baked with the real CLI, served by the real entry
points, and the reference pipeline the served answers must equal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from tests.support.endpoints import Endpoint, HttpEndpoint, LambdaEndpoint
from tests.support.lambda_events import SHAPES
from tests.support.models import build_bert_folder
from tests.support.servers import ROOT, ServedProcess, functions_framework_server, lambda_process, stop_all

KEY_A = "test-key-a-7c1f0e9b2d4a6c8e"
KEY_B = "test-key-b-1a3b5c7d9e0f2a4b"
ENTRY_POINTS = ("ff", *(f"lambda-{shape}" for shape in SHAPES))
OPEN_LIMITS = {"MAX_BATCH_SIZE": "4", "MAX_BODY_BYTES": "4096"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that failed between starting a server and stopping it leaves nothing behind."""
    left = stop_all()
    if left:
        print(f"\nconftest: stopped {left} server process(es) that tests left running")


def run_bake(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model_bake", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def model_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder as the hub has it: config.json, vocab.txt, model.safetensors."""
    return build_bert_folder(tmp_path_factory.mktemp("source") / "model")


# The small random test model's int8 variant agrees with its fp32 reference on about 98 % of
# the calibration set (a trained model has wider margins), the same on every x86 CPU since the
# int8 recipe takes exact kernels everywhere; the session's folder is baked with a lower gate
# so that int8 serving is exercised too. tests/test_onnx.py shows a stricter gate refusing it.
TEST_MIN_AGREEMENT = "0.9"


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


class OnnxReference:
    """The baked ONNX graph run with onnxruntime directly, one input at a time, tokenized by
    AutoTokenizer: what a served onnx variant must give for a request that runs alone."""

    def __init__(self, source: Path, baked: Path, precision: str) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from function.model_folder import ModelFolder

        self.tokenizer = AutoTokenizer.from_pretrained(source)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        variant = ModelFolder.open(baked).manifest.variants[f"onnx-{precision}"]
        for key, value in variant.recipe.get("session_config", {}).items():  # as the bake judged it
            options.add_session_config_entry(key, value)
        self.session = ort.InferenceSession(
            str(baked / variant.files[0]), options, providers=["CPUExecutionProvider"]
        )
        self.labels = ModelFolder.open(baked).manifest.labels
        self.scores = lru_cache(maxsize=None)(self._scores)

    def _scores(self, sentence: str) -> dict[str, float]:
        import numpy as np

        encoded = self.tokenizer(sentence, return_tensors="np")
        feeds = {
            name: encoded[name].astype(np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        logits = self.session.run(["logits"], feeds)[0][0]
        shifted = np.exp(logits - logits.max())
        return dict(zip(self.labels, (shifted / shifted.sum()).tolist(), strict=True))


@pytest.fixture(scope="session")
def int8_reference(model_source: Path, baked_model: Path) -> OnnxReference:
    return OnnxReference(model_source, baked_model, "int8")


class Reference:
    """transformers.TextClassificationPipeline(top_k=None) on the source folder."""

    def __init__(self, folder: Path) -> None:
        from transformers import (
            AutoModelForSequenceClassification,
            AutoTokenizer,
            TextClassificationPipeline,
        )

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        self.pipeline = TextClassificationPipeline(model=model, tokenizer=self.tokenizer, top_k=None)
        self.scores = lru_cache(maxsize=None)(self._scores)

    def _scores(self, sentence: str) -> dict[str, float]:
        return {entry["label"]: entry["score"] for entry in self.pipeline(sentence)[0]}


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
