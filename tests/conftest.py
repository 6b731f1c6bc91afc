"""Session fixtures: a small real model, baked with the real CLI, served by the real entry
points, and the reference pipeline the served answers must equal."""

from __future__ import annotations

import os
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
from tests.support.servers import ROOT, ServedProcess, functions_framework_server, lambda_process

KEY_A = "test-key-a-7c1f0e9b2d4a6c8e"
KEY_B = "test-key-b-1a3b5c7d9e0f2a4b"
ENTRY_POINTS = ("ff", *(f"lambda-{shape}" for shape in SHAPES))
OPEN_LIMITS = {"MAX_BATCH_SIZE": "4", "MAX_BODY_BYTES": "4096"}


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


@pytest.fixture(scope="session")
def baked_model(model_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baked") / "model"
    result = run_bake("--from-dir", str(model_source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


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


def _deploy(env: dict[str, str], key: str | None, logs: Path, name: str) -> Deployment:
    deployment = Deployment(
        functions_framework_server(env, logs / f"{name}-ff.log"),
        lambda_process(env, logs / f"{name}-lambda.log"),
        key,
    )
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(ServedProcess.wait_ready, deployment.processes()))
    return deployment


@pytest.fixture(scope="session")
def deployments(
    baked_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Deployment]]:
    """'secured': API keys on, default limits. 'open': no keys, unmarked input allowed, and
    small limits (MAX_BATCH_SIZE=4, MAX_BODY_BYTES=4096) so the limits are cheap to test."""
    logs = tmp_path_factory.mktemp("logs")
    common = {"MODEL_DIR": str(baked_model), "INTRA_OP_THREADS": "1", "GOOGLE_CLOUD_PROJECT": "test-project"}
    with ThreadPoolExecutor(2) as pool:
        secured = pool.submit(_deploy, {**common, "API_KEYS": f"{KEY_A},{KEY_B}"}, KEY_A, logs, "secured")
        opened = pool.submit(_deploy, {**common, "ALLOW_UNMARKED": "true", **OPEN_LIMITS}, None, logs, "open")
        result = {"secured": secured.result(), "open": opened.result()}
    yield result
    for deployment in result.values():
        for process in deployment.processes():
            process.stop()


@pytest.fixture(params=ENTRY_POINTS)
def endpoint(request: pytest.FixtureRequest, deployments: dict[str, Deployment]) -> Endpoint:
    """Every entry point, API keys required (KEY_A sent unless a test says otherwise)."""
    return deployments["secured"].endpoint(request.param)


@pytest.fixture(params=ENTRY_POINTS)
def open_endpoint(request: pytest.FixtureRequest, deployments: dict[str, Deployment]) -> Endpoint:
    """Every entry point, no keys, ALLOW_UNMARKED=true, small limits."""
    return deployments["open"].endpoint(request.param)
