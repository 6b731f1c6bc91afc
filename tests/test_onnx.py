"""The ONNX serving path: no torch or transformers in the process, answers equal to the
reference (fp32) or to ONNX Runtime on the same graph (int8), and an agreement gate that
refuses an int8 variant that disagrees with the reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from function.core.classifier import AssertionClassifier
from function.core.cpus import cpu_features
from function.core.errors import ModelFolderError
from function.core.markers import MarkedText
from function.core.model_folder import EXACT_U8S8_GRAPH, ModelFolder
from model_bake import int8_recipes
from tests.support.bake import run_bake
from tests.support.models import build_bert_folder, calibration_sentences
from tests.support.references import OnnxReference, Reference, recipe_session
from tests.support.servers import ROOT, functions_framework_server

HEAVY = ("torch", "transformers")
LOADED_MODULES = """
import json, sys
import {module} as entry
entry.service.load()
print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}} & {heavy!r})))
"""


def modules_after_start(module: str, env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADED_MODULES.format(module=module, heavy=set(HEAVY))],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["function.main", "function.lambda_handler"])
def test_serving_onnx_imports_neither_torch_nor_transformers(module: str, baked_model: Path) -> None:
    assert modules_after_start(module, {"MODEL_DIR": str(baked_model), "BACKEND": "onnx"}) == []
    # The check can fail: the reference backend does import them.
    assert modules_after_start(module, {"MODEL_DIR": str(baked_model), "BACKEND": "torch"}) == list(HEAVY)


def sentences() -> list[str]:
    return [s for s in calibration_sentences() if len(s) < 500][::4]


def classify(classifier: AssertionClassifier, texts: list[str]):
    return classifier.classify([MarkedText(t) for t in texts], [f"s[{i}]" for i in range(len(texts))])


def test_onnx_fp32_equals_the_pipeline(baked_model: Path, reference: Reference, model_source: Path) -> None:
    classifier = AssertionClassifier.load(baked_model, backend="onnx", precision="fp32")
    raw = OnnxReference(model_source, baked_model, "fp32")
    try:
        texts = sentences()
        for text, prediction in zip(texts, classify(classifier, texts), strict=True):
            assert prediction.scores == pytest.approx(reference.scores(text), abs=1e-4)
            assert prediction.scores == pytest.approx(raw.scores(text), abs=1e-5)
    finally:
        classifier.close()


def random_feeds(baked_model: Path, *, rows: int, length: int, seed: int) -> dict[str, np.ndarray]:
    """A batch of random token ids, one row padded halfway (so masking is exercised)."""
    vocab = json.loads((baked_model / "config.json").read_text())["vocab_size"]
    ids = np.random.default_rng(seed).integers(5, vocab, size=(rows, length), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, length // 2 :] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def test_the_int8_graph_ships_as_onnxruntime_optimizes_it_and_answers_the_same_bits(
    baked_model: Path, tmp_path: Path
) -> None:
    """The bake saves the quantizer's graph optimized (fusions, and on x86 the weights
    rewritten for the exact kernels), so a start skips that work: the shipped graph answers
    exactly what the quantizer's own graph answers under the recipe's settings, and the
    manifest says what it holds."""
    import onnx

    entry = ModelFolder.open(baked_model).manifest.variants["onnx-int8"]
    recipe = next(r for r in int8_recipes.RECIPES if r.name == entry.recipe["name"])
    raw = tmp_path / "quantized.onnx"
    int8_recipes.quantize_only(baked_model / "model.onnx", raw, recipe)

    shipped = onnx.load(str(baked_model / "model.int8.onnx")).graph
    kinds = Counter(tensor.data_type for tensor in shipped.initializer)
    assert entry.recipe["optimized_at_bake"]["level"] == "extended"
    assert entry.recipe["optimized_at_bake"]["int8_tensors"] == kinds[onnx.TensorProto.INT8]
    assert entry.recipe["optimized_at_bake"]["uint8_tensors"] == kinds[onnx.TensorProto.UINT8]
    ops = Counter(node.op_type for node in shipped.node)
    assert ops["DynamicQuantizeMatMul"] > 0 and ops["MatMulInteger"] == 0, ops
    if cpu_features().kind in {"x86_64 AVX2, no VNNI", "x86_64 AVX-512, no VNNI"}:
        assert kinds[onnx.TensorProto.INT8] == 0  # every weight rewritten for the exact kernels

    feeds = random_feeds(baked_model, rows=4, length=24, seed=13)
    expected = recipe_session(raw, entry.recipe).run(["logits"], feeds)[0]
    shipped_logits = recipe_session(baked_model / "model.int8.onnx", entry.recipe).run(["logits"], feeds)[0]
    assert np.array_equal(shipped_logits, expected)


def test_the_int8_weights_ship_in_a_second_graph_for_cpus_whose_u8s8_sums_are_exact(
    baked_model: Path,
) -> None:
    """ONNX Runtime's switch to uint8 weights (the portable graph's) applies on every x86
    CPU, VNNI or not, where it trades VPDPBUSD for slower kernels: the bake also ships the
    graph with the quantizer's int8 weights, without the switch, and says so."""
    import onnx

    entry = ModelFolder.open(baked_model).manifest.variants["onnx-int8"]
    second = entry.recipe[EXACT_U8S8_GRAPH]
    assert second["file"] == "model.int8.vnni.onnx" and second["file"] in entry.all_files
    assert second["session_config"] == {}  # no session.x64quantprecision
    graph = onnx.load(str(baked_model / second["file"])).graph
    kinds = Counter(tensor.data_type for tensor in graph.initializer)
    assert second["optimized_at_bake"]["int8_tensors"] == kinds[onnx.TensorProto.INT8] > 0
    assert second["optimized_at_bake"]["uint8_tensors"] == kinds[onnx.TensorProto.UINT8]
    assert Counter(node.op_type for node in graph.node)["DynamicQuantizeMatMul"] > 0
    here = cpu_features()
    assert second["judged"]["on"] == here.kind
    if here.exact_u8s8:
        assert second["judged"]["max_abs_diff"] <= 1e-5 and second["judged"]["sentences"] == 274
    else:
        assert second["judged"]["result"].startswith("not run here")


@pytest.mark.skipif(
    not cpu_features().exact_u8s8,
    reason=f"needs an x86 CPU with AVX-512 VNNI, AVX-VNNI or AMX; this one is {cpu_features().kind}",
)
def test_where_u8s8_sums_are_exact_the_int8_weights_answer_the_portable_graphs_logits(
    baked_model: Path,
) -> None:
    folder = ModelFolder.open(baked_model)
    fast, portable = folder.candidates("onnx", "int8")
    assert fast.files == ("model.int8.vnni.onnx",) and portable.files == ("model.int8.onnx",)
    feeds = random_feeds(baked_model, rows=8, length=40, seed=17)
    expected = recipe_session(baked_model / portable.files[0], portable.recipe).run(["logits"], feeds)[0]
    answered = recipe_session(baked_model / fast.files[0], fast.recipe).run(["logits"], feeds)[0]
    assert float(np.abs(answered - expected).max()) <= 1e-5


def test_int8_alone_equals_onnxruntime_on_the_same_graph(
    baked_model: Path, int8_reference: OnnxReference
) -> None:
    """Alone, because int8 activations are quantized per batch: neighbours in a pass move
    an answer slightly (the bake's agreement figures are measured in batches)."""
    classifier = AssertionClassifier.load(baked_model, backend="onnx", precision="int8")
    try:
        assert classifier.info.precision == "int8"
        for text in sentences()[:25]:
            (prediction,) = classify(classifier, [text])
            assert prediction.scores == pytest.approx(int8_reference.scores(text), abs=1e-5)
    finally:
        classifier.close()


@pytest.fixture(scope="module")
def gated_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose int8 weights change its answers (near-tied logits under wide random
    weights: some 10 % of its int8 labels differ from fp32, on every CPU), baked with the
    default gate (99.5 %)."""
    source = build_bert_folder(tmp_path_factory.mktemp("gated") / "source", head_scale=8.0, seed=5)
    out = source.parent / "baked"
    result = run_bake("--from-dir", str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "onnx-int8" in result.stderr and "NOT servable" in result.stderr
    return out


def test_the_gate_refuses_an_int8_variant_that_disagrees(gated_model: Path) -> None:
    manifest = json.loads((gated_model / "manifest.json").read_text())
    int8, fp32 = manifest["variants"]["onnx-int8"], manifest["variants"]["onnx-fp32"]
    assert int8["servable"] is False and int8["agreement"]["argmax_agreement"] < 0.995
    assert int8["check"] is None  # never served, so never checked
    assert fp32["servable"] is True and fp32["agreement"]["argmax_agreement"] >= 0.995
    # Every recipe was tried before giving up; the one that agreed best is kept, with why.
    tried = manifest["checks"]["int8_recipes"]
    assert [t["recipe"] for t in tried] == ["dynamic-per-channel", "dynamic-per-channel-ffn-out-fp32"]
    assert not any(t["servable"] for t in tried)
    assert int8["recipe"]["name"] == max(tried, key=lambda t: t["argmax_agreement"])["recipe"]
    assert "below 99.50%" in int8["reason"] and "the best of 2 int8 recipes tried" in int8["reason"]
    folder = ModelFolder.open(gated_model)
    assert folder.select("onnx", "auto").precision == "fp32"  # auto serves what passed
    with pytest.raises(ModelFolderError, match="onnx-int8 is not servable"):
        folder.select("onnx", "int8")


def test_asking_for_a_refused_variant_stops_the_start(gated_model: Path, tmp_path: Path) -> None:
    server = functions_framework_server(
        {"MODEL_DIR": str(gated_model), "PRECISION": "int8"}, tmp_path / "ff.log"
    )
    server.refuses_to_start("onnx-int8 is not servable", "below 99.50%")
    assert server.process.returncode == 1
