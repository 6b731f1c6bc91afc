"""The optional OpenVINO backend (BACKEND=openvino): baked by NNCF with `--openvino`, judged by
the agreement gate and the start-up check like every variant, offered only on CPUs where it
pays (VNNI or AMX), with ONNX Runtime's variants as its fallbacks.

Real parts only: the bake's CLI with real openvino and nncf, a real Functions Framework server,
and the IR compiled by OpenVINO directly as the reference for what the server answers.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from function.core.classifier import AssertionClassifier
from function.core.cpus import CpuFeatures, cpu_features
from function.core.errors import ModelFolderError
from function.core.model_folder import MANIFEST_NAME, OPENVINO_INT8, OPENVINO_INT8_FILES, ModelFolder
from function.startup.settings import ConfigError, Settings
from model_bake import agreement
from model_bake.trim import trim
from tests.support.bake import TEST_MIN_AGREEMENT, run_bake
from tests.support.servers import ROOT, functions_framework_server

MISSING = [name for name in ("openvino", "nncf") if importlib.util.find_spec(name) is None]
needs_openvino = pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs {' and '.join(MISSING)} (pip install -r requirements-openvino.txt; make venv does)",
)
VNNI = CpuFeatures("a VNNI host", "x86_64", ("avx2", "avx512f", "avx512bw", "avx512_vnni"))
AVX2 = CpuFeatures("an AVX2 host", "x86_64", ("avx2",))
SENTENCES = [
    "Patient denies [entity] shortness of breath [entity] at rest.",
    "[entity] Pneumonia [entity] cannot be ruled out.",
    "The chest film shows a [entity] right lower lobe infiltrate [entity] .",
]


@pytest.fixture(scope="module")
def openvino_baked(model_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if MISSING:
        pytest.skip(f"needs {' and '.join(MISSING)} (pip install -r requirements-openvino.txt)")
    out = tmp_path_factory.mktemp("openvino") / "model"
    result = run_bake(
        "--from-dir", str(model_source), "--out", str(out), "--min-agreement", TEST_MIN_AGREEMENT, "--openvino"
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def openvino_copy(openvino_baked: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(openvino_baked, copy)
    return copy


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def health_and_log(folder: Path, log: Path, **env: str) -> tuple[dict, list[dict]]:
    """Start a real server with BACKEND=openvino: its /health once ready, and its log lines."""
    process = functions_framework_server(
        {"MODEL_DIR": str(folder), "BACKEND": "openvino", "INTRA_OP_THREADS": "1", **env}, log
    )
    try:
        process.wait_ready()
        health = httpx.get(process.url + "/health", timeout=10).json()
    finally:
        process.stop()
    return health, json_lines(process.logs())


# --- the bake -----------------------------------------------------------------------------------


@needs_openvino
def test_the_bake_judges_the_openvino_variant_like_every_other(openvino_baked: Path) -> None:
    folder = ModelFolder.open(openvino_baked, verify_checksums=True)
    folder.verify_all()  # the IR's two files are listed with their sha256
    variant = folder.manifest.variants[OPENVINO_INT8]
    assert variant.files == OPENVINO_INT8_FILES
    assert all(folder.manifest.files[name].origin == "derived" for name in variant.files)
    sentences = agreement.calibration_sentences()
    assert variant.servable and variant.agreement is not None
    assert variant.agreement["sentences"] == len(sentences)
    assert variant.agreement["min_agreement"] == float(TEST_MIN_AGREEMENT)
    assert variant.judged_on == cpu_features().as_dict() and variant.check
    assert variant.recipe["name"] == "nncf-static-transformer"
    assert variant.recipe["calibrated_on"] == f"the {len(sentences[::2])} even-numbered calibration sentences"
    # The recorded agreement is what the IR answers here against the torch reference.
    reference = AssertionClassifier.load(openvino_baked, backend="torch", threads=2)
    served = AssertionClassifier.load(openvino_baked, backend="openvino", precision="int8", threads=2)
    try:
        expected = agreement.probabilities_of(reference, sentences)
        answers = agreement.probabilities_of(served, sentences)
    finally:
        reference.close()
        served.close()
    found = agreement.measure(expected, answers, float(TEST_MIN_AGREEMENT))
    assert found["argmax_agreement"] == pytest.approx(
        variant.agreement["argmax_agreement"], abs=1 / len(sentences)
    )
    assert found["max_abs_diff"] == pytest.approx(variant.agreement["max_abs_diff"], abs=1e-3)


def test_the_default_bake_has_no_openvino_variant(baked_model: Path) -> None:
    folder = ModelFolder.open(baked_model)
    assert OPENVINO_INT8 not in folder.manifest.variants
    assert not any((baked_model / name).exists() for name in OPENVINO_INT8_FILES)
    with pytest.raises(ModelFolderError, match="--openvino"):
        folder.candidates("openvino", "auto")


def test_the_bake_refuses_openvino_without_nncf_before_any_work(model_source: Path, tmp_path: Path) -> None:
    hidden = tmp_path / "hide"
    (hidden / "nncf").mkdir(parents=True)
    (hidden / "nncf" / "__init__.py").write_text("raise ImportError('hidden by the test', name='nncf')\n")
    out = tmp_path / "model"
    result = run_bake(
        "--from-dir", str(model_source), "--out", str(out), "--openvino",
        env={"PYTHONPATH": f"{hidden}:{ROOT}"},
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        "--openvino: nncf is not installed" in result.stderr and "requirements-openvino.txt" in result.stderr
    )
    assert not out.exists()


# --- where it is offered ------------------------------------------------------------------------


@needs_openvino
def test_it_is_offered_first_only_where_the_cpu_has_vnni_or_amx(openvino_baked: Path) -> None:
    folder = ModelFolder.open(openvino_baked)
    on_vnni = [(v.name, v.files[0]) for v in folder.candidates("openvino", "auto", cpu=VNNI)]
    assert on_vnni == [
        (OPENVINO_INT8, "model.int8.openvino.xml"),
        ("onnx-int8", "model.int8.vnni.onnx"),
        ("onnx-int8", "model.int8.onnx"),
        ("onnx-fp32", "model.onnx"),
    ]
    on_avx2 = [v.name for v in folder.candidates("openvino", "auto", cpu=AVX2)]
    assert on_avx2 == ["onnx-int8", "onnx-fp32"]  # 0.48x ONNX Runtime's int8 there
    assert [v.name for v in folder.candidates("openvino", "int8", cpu=AVX2)] == [OPENVINO_INT8]  # named
    with pytest.raises(ModelFolderError, match="int8 only"):
        folder.candidates("openvino", "fp32")


def test_backend_openvino_with_precision_fp32_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="PRECISION=fp32 needs BACKEND=onnx or torch"):
        Settings.from_env({"BACKEND": "openvino", "PRECISION": "fp32"})
    assert Settings.from_env({"BACKEND": "openvino"}).backend == "openvino"


@needs_openvino
def test_a_variant_the_bake_refused_is_not_offered(openvino_copy: Path) -> None:
    manifest = json.loads((openvino_copy / MANIFEST_NAME).read_text())
    manifest["variants"][OPENVINO_INT8].update(
        servable=False, reason="argmax agreement 90.00% is below 99.50%"
    )
    (openvino_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(ModelFolderError, match=r"not servable: argmax agreement 90\.00%.*serve BACKEND=onnx"):
        ModelFolder.open(openvino_copy).candidates("openvino", "auto", cpu=VNNI)


@needs_openvino
def test_trim_keeps_the_ir_and_its_fallbacks_whatever_cpu_builds_the_image(openvino_copy: Path) -> None:
    removed = trim(openvino_copy, "openvino", "auto")
    assert set(removed) == {"model.safetensors", "vocab.txt"}
    folder = ModelFolder.open(openvino_copy)
    for cpu in (VNNI, AVX2):
        for variant in folder.candidates("openvino", "auto", cpu=cpu):
            folder.verify_files(variant)


def test_without_the_openvino_package_the_backend_says_what_to_install(
    baked_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from function.core.backends import load_backend

    folder = ModelFolder.open(baked_model)
    entry = replace(folder.manifest.variants["onnx-int8"], backend="openvino")
    monkeypatch.setitem(sys.modules, "openvino", None)  # as in the default image, which lacks it
    with pytest.raises(ModelFolderError, match=r"needs the openvino package.*OPENVINO=1"):
        load_backend(entry, folder, threads=1)


# --- served -------------------------------------------------------------------------------------


@needs_openvino
def test_served_it_answers_what_openvino_computes_from_the_ir(
    openvino_baked: Path, model_source: Path, tmp_path: Path
) -> None:
    from tests.support.references import OpenvinoReference

    reference = OpenvinoReference(model_source, openvino_baked)
    env = {
        "MODEL_DIR": str(openvino_baked),
        "BACKEND": "openvino",
        "PRECISION": "int8",
        "INTRA_OP_THREADS": "1",
    }
    process = functions_framework_server(env, tmp_path / "log")
    try:
        process.wait_ready()
        health = httpx.get(process.url + "/health", timeout=10).json()
        assert health["model"]["backend"] == "openvino" and health["model"]["precision"] == "int8"
        assert health["startup_check"]["serving"]["variant"] == OPENVINO_INT8
        for sentence in SENTENCES:  # one at a time: each alone in its batch, unpadded
            body = httpx.post(process.url + "/predict", json={"sentence": sentence}, timeout=30).json()
            assert body["model"]["backend"] == "openvino"
            for label, score in reference.scores(sentence).items():
                assert body["scores"][label] == pytest.approx(score, abs=1e-4), (sentence, label)
    finally:
        process.stop()
    logs = process.logs()
    assert not [s for s in SENTENCES if s in logs]  # PHI stays out of the log
    (ready,) = [line for line in json_lines(logs) if line.get("event") == "ready"]
    assert ready["backend"] == "openvino" and ready["check"]["passed"]


@needs_openvino
def test_with_precision_auto_the_cpu_decides_and_the_log_says_so(
    openvino_baked: Path, tmp_path: Path
) -> None:
    health, lines = health_and_log(openvino_baked, tmp_path / "log")
    offered = [line for line in lines if line.get("event") == "openvino_not_offered"]
    if cpu_features().exact_u8s8:
        assert health["model"]["backend"] == "openvino" and not offered
    else:
        assert health["model"]["backend"] == "onnx" and health["model"]["precision"] == "int8"
        (line,) = offered
        assert line["cpu_kind"] == cpu_features().kind and "no VNNI or AMX" in line["message"]
    assert not [line for line in lines if line.get("event") == "variant_check_failed"]


@needs_openvino
def test_a_check_that_fails_here_passes_over_to_onnx_runtime(openvino_copy: Path, tmp_path: Path) -> None:
    """The bake's record of the IR's answers replaced by the reference's own: this CPU's real
    answers are then further from the reference than the bake says, as on a host whose
    kernels compute something else. The next variant serves, with the one warning on-call
    counts; where nothing follows (PRECISION=int8 names it), the start stops."""
    manifest = json.loads((openvino_copy / MANIFEST_NAME).read_text())
    check = manifest["variants"][OPENVINO_INT8]["check"]
    check["baked"] = check["reference"]
    (openvino_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    env = {"MODEL_DIR": str(openvino_copy), "BACKEND": "openvino", "PRECISION": "int8"}
    named = functions_framework_server(env, tmp_path / "named")
    named.refuses_to_start(OPENVINO_INT8, "start-up check", "nothing to fall back on")
    if not cpu_features().exact_u8s8:
        return  # not offered here under PRECISION=auto (the test above shows the choice)
    health, lines = health_and_log(openvino_copy, tmp_path / "log")
    assert health["model"]["backend"] == "onnx" and health["model"]["precision"] == "int8"
    (warning,) = [line for line in lines if line.get("event") == "variant_check_failed"]
    assert warning["variant"] == OPENVINO_INT8 and warning["fallback"] == "onnx-int8"
    assert warning["severity"] == "WARNING" and warning["check"]["excess"] > warning["check"]["tolerance"]


@needs_openvino
def test_damaged_ir_weights_of_the_same_size_are_refused_by_their_checksum(
    openvino_copy: Path, tmp_path: Path
) -> None:
    weights = openvino_copy / OPENVINO_INT8_FILES[1]
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    env = {"MODEL_DIR": str(openvino_copy), "BACKEND": "openvino", "VERIFY_CHECKSUMS": "true"}
    process = functions_framework_server(env, tmp_path / "log")
    process.refuses_to_start(OPENVINO_INT8_FILES[1], "sha256")


@needs_openvino
def test_a_truncated_ir_refuses_the_start_naming_the_file(openvino_copy: Path, tmp_path: Path) -> None:
    weights = openvino_copy / OPENVINO_INT8_FILES[1]
    weights.write_bytes(weights.read_bytes()[:-100])
    process = functions_framework_server(
        {"MODEL_DIR": str(openvino_copy), "BACKEND": "openvino"}, tmp_path / "log"
    )
    process.refuses_to_start(OPENVINO_INT8_FILES[1], "truncated or replaced")
