"""python -m model_bake, run as users run it: from a local copy, and from a hub (a local
server that answers like the Hugging Face hub, reached through HF_ENDPOINT)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from function.core.model_folder import MANIFEST_NAME, ModelFolder, sha256_file
from model_bake import DEFAULT_MODEL_ID
from tests.support.bake import TEST_MIN_AGREEMENT, run_bake
from tests.support.fake_hub import FakeHub
from tests.support.models import build_bert_folder

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def copy_of(folder: Path, tmp_path: Path, name: str = "src") -> Path:
    target = tmp_path / name
    shutil.copytree(folder, target)
    return target


def test_from_dir_writes_a_manifest_the_runtime_accepts(baked_model: Path, model_source: Path) -> None:
    manifest = json.loads((baked_model / MANIFEST_NAME).read_text())
    assert manifest["model_id"] == DEFAULT_MODEL_ID
    assert manifest["labels"] == ["PRESENT", "ABSENT", "POSSIBLE"]
    assert manifest["max_length"] == 512
    assert manifest["source"] == "local" and manifest["revision"].startswith("local-")
    assert set(manifest["files"]) == {
        "config.json",
        "vocab.txt",
        "model.safetensors",
        "tokenizer.json",
        "model.onnx",
        "model.int8.onnx",
        "model.int8.vnni.onnx",
    }
    variants = manifest["variants"]
    assert set(variants) == {"torch-fp32", "onnx-fp32", "onnx-int8"}
    assert variants["torch-fp32"]["servable"] and variants["onnx-fp32"]["servable"]
    assert variants["onnx-fp32"]["agreement"]["argmax_agreement"] == 1.0
    assert variants["onnx-fp32"]["agreement"]["max_abs_diff"] < 1e-4
    assert variants["onnx-fp32"]["agreement"]["sentences"] == 274
    for name, entry in manifest["files"].items():
        assert entry["size"] == (baked_model / name).stat().st_size
        assert entry["sha256"] == sha256_file(baked_model / name)
    assert manifest["files"]["model.safetensors"]["sha256"] == sha256_file(model_source / "model.safetensors")
    assert manifest["checks"]["smoke"]["max_abs_diff_vs_pipeline"] <= 1e-5
    assert manifest["created_at"] and manifest["bake_version"]
    ModelFolder.open(baked_model, verify_checksums=True)
    assert not [p for p in baked_model.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_rerun_on_a_complete_folder_is_a_no_op(baked_model: Path, model_source: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in baked_model.iterdir()}
    result = run_bake(
        "--from-dir", str(model_source), "--out", str(baked_model), "--min-agreement", TEST_MIN_AGREEMENT
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in baked_model.iterdir()} == before


def test_a_changed_gate_judges_the_variants_again(
    baked_model: Path, model_source: Path, tmp_path: Path
) -> None:
    out = copy_of(baked_model, tmp_path, "out")
    assert json.loads((out / MANIFEST_NAME).read_text())["variants"]["onnx-int8"]["servable"]  # baked at 0.9
    result = run_bake("--from-dir", str(model_source), "--out", str(out))  # the default gate
    assert result.returncode == 0 and "up to date" not in result.stderr
    int8 = json.loads((out / MANIFEST_NAME).read_text())["variants"]["onnx-int8"]
    assert not int8["servable"] and int8["agreement"]["min_agreement"] == 0.995


def test_a_changed_source_or_a_damaged_folder_is_baked_again(model_source: Path, tmp_path: Path) -> None:
    source = copy_of(model_source, tmp_path)
    out = tmp_path / "out"
    assert run_bake("--from-dir", str(source), "--out", str(out)).returncode == 0
    first = json.loads((out / MANIFEST_NAME).read_text())["revision"]
    build_bert_folder(source, seed=7)  # new weights, same names
    assert run_bake("--from-dir", str(source), "--out", str(out)).returncode == 0
    second = json.loads((out / MANIFEST_NAME).read_text())
    assert second["revision"] != first
    assert second["files"]["model.safetensors"]["sha256"] == sha256_file(source / "model.safetensors")
    (out / "tokenizer.json").write_text("{}")  # damaged after the bake
    result = run_bake("--from-dir", str(source), "--out", str(out))
    assert result.returncode == 0 and "up to date" not in result.stderr
    ModelFolder.open(out, verify_checksums=True)


def test_damaged_weights_in_the_folder_are_baked_again(
    baked_model: Path, model_source: Path, tmp_path: Path
) -> None:
    out = copy_of(baked_model, tmp_path, "out")
    weights = out / "model.int8.onnx"
    weights.write_bytes(bytes(weights.stat().st_size))  # same size, other bytes
    result = run_bake(
        "--from-dir", str(model_source), "--out", str(out), "--min-agreement", TEST_MIN_AGREEMENT
    )
    assert result.returncode == 0 and "up to date" not in result.stderr, result.stderr
    assert "model.int8.onnx does not match the sha256" in result.stderr
    ModelFolder.open(out).verify_all()


def test_pytorch_bin_only_is_converted_to_safetensors(tmp_path: Path) -> None:
    source = build_bert_folder(tmp_path / "bin", weights="bin", seed=3)
    out = tmp_path / "out"
    result = run_bake("--from-dir", str(source), "--out", str(out), "--revision", COMMIT)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["revision"] == COMMIT
    assert manifest["files"]["model.safetensors"]["origin"] == "derived"
    assert manifest["checks"]["converted_from"]["sha256"] == sha256_file(source / "pytorch_model.bin")
    assert not (out / "pytorch_model.bin").exists()
    # The smoke gate compared the converted weights with the pickle the source ships.
    assert manifest["checks"]["smoke"]["max_abs_diff_vs_pipeline"] <= 1e-5


def _fails(result, *phrases: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "FAILED" in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_labels_that_are_not_the_assertion_labels_fail(model_source: Path, tmp_path: Path) -> None:
    source = copy_of(model_source, tmp_path)
    config = json.loads((source / "config.json").read_text())
    config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    (source / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    _fails(run_bake("--from-dir", str(source), "--out", str(out)), "config.json", "PRESENT")
    assert not out.exists()


def test_weights_missing_the_classifier_fail(model_source: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    source = copy_of(model_source, tmp_path)
    state = load_file(source / "model.safetensors")
    del state["classifier.weight"]
    save_file(state, str(source / "model.safetensors"), metadata={"format": "pt"})
    _fails(run_bake("--from-dir", str(source), "--out", str(tmp_path / "out")), "classifier.weight")


def test_corrupt_weights_fail(model_source: Path, tmp_path: Path) -> None:
    source = copy_of(model_source, tmp_path)
    (source / "model.safetensors").write_bytes(b"\x00" * 1000)
    _fails(run_bake("--from-dir", str(source), "--out", str(tmp_path / "out")), "weights do not load")


@pytest.mark.parametrize(
    ("missing", "phrase"), [("config.json", "no config.json"), ("vocab.txt", "no tokenizer files")]
)
def test_a_missing_file_is_named(model_source: Path, tmp_path: Path, missing: str, phrase: str) -> None:
    source = copy_of(model_source, tmp_path)
    (source / missing).unlink()
    _fails(run_bake("--from-dir", str(source), "--out", str(tmp_path / "out")), phrase)


def test_a_failed_bake_leaves_the_previous_folder_alone(baked_model: Path, tmp_path: Path) -> None:
    out = copy_of(baked_model, tmp_path, "out")
    before = (out / MANIFEST_NAME).read_text()
    _fails(run_bake("--from-dir", str(tmp_path / "nowhere"), "--out", str(out)), "is not a folder")
    assert (out / MANIFEST_NAME).read_text() == before


# --- the hub path ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model as published at another commit (other weights)."""
    return build_bert_folder(tmp_path_factory.mktemp("other"), seed=11)


@pytest.fixture
def hub(model_source: Path, other_source: Path):
    # Per test: the tampering tests change what this hub serves.
    with FakeHub() as fake:
        fake.publish(DEFAULT_MODEL_ID, COMMIT, model_source)
        fake.publish(DEFAULT_MODEL_ID, OTHER_COMMIT, other_source)
        yield fake


def hub_bake(hub: FakeHub, tmp_path: Path, *args: str):
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "0"}
    return run_bake(*args, env=env)


def test_hub_download_honours_the_pinned_revision(hub: FakeHub, model_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = hub_bake(hub, tmp_path, "--revision", COMMIT, "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["revision"] == COMMIT and manifest["source"] == "hub"
    assert manifest["files"]["model.safetensors"]["sha256"] == sha256_file(model_source / "model.safetensors")
    assert all(f"/resolve/{COMMIT}/" in r for r in hub.requests if "/resolve/" in r)
    assert not any(OTHER_COMMIT in r for r in hub.requests)
    # Only the files the runtime needs were fetched.
    fetched = {r.rsplit("/", 1)[1] for r in hub.requests if r.startswith("GET") and "/resolve/" in r}
    assert fetched == {"config.json", "vocab.txt", "model.safetensors"}
    again = hub_bake(hub, tmp_path, "--revision", COMMIT, "--out", str(out))
    assert again.returncode == 0 and "up to date" in again.stderr
    other = hub_bake(hub, tmp_path, "--revision", OTHER_COMMIT, "--out", str(out))
    assert other.returncode == 0 and json.loads((out / MANIFEST_NAME).read_text())["revision"] == OTHER_COMMIT


def test_a_tampered_download_fails_the_bake(hub: FakeHub, tmp_path: Path) -> None:
    commit = hub.repos[DEFAULT_MODEL_ID][COMMIT]
    good = commit.files["model.safetensors"]
    commit.served["model.safetensors"] = good[:-64] + bytes(64)  # same size, other bytes
    out = tmp_path / "out"
    _fails(hub_bake(hub, tmp_path, "--revision", COMMIT, "--out", str(out)), "model.safetensors", "sha256")
    assert not out.exists()


def test_a_tampered_small_file_fails_on_its_git_blob_id(hub: FakeHub, tmp_path: Path) -> None:
    commit = hub.repos[DEFAULT_MODEL_ID][COMMIT]
    commit.served["config.json"] = commit.files["config.json"].replace(b"PRESENT", b"PRESENX")
    _fails(
        hub_bake(hub, tmp_path, "--revision", COMMIT, "--out", str(tmp_path / "out")),
        "config.json",
        "git blob id",
    )


def test_hub_errors_are_named(hub: FakeHub, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    _fails(hub_bake(hub, tmp_path, "--revision", "main", "--out", out), "not a full commit sha")
    _fails(hub_bake(hub, tmp_path, "--revision", "1" * 40, "--out", out), "has no revision")
    _fails(
        hub_bake(hub, tmp_path, "--model-id", "nobody/nothing", "--revision", COMMIT, "--out", out),
        "is not on",
    )
    hub.publish(DEFAULT_MODEL_ID, "2" * 40, hub_source_without_weights(tmp_path))
    _fails(
        hub_bake(hub, tmp_path, "--revision", "2" * 40, "--out", out),
        "neither model.safetensors nor pytorch_model.bin",
    )


def hub_source_without_weights(tmp_path: Path) -> Path:
    folder = tmp_path / "no-weights"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "vocab.txt").write_text("[PAD]\n")
    return folder


def test_an_unreachable_hub_is_named(tmp_path: Path) -> None:
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf-home")}
    result = run_bake("--revision", COMMIT, "--out", str(tmp_path / "out"), env=env)
    _fails(result, "cannot read", "127.0.0.1:9", "--from-dir", "MODEL_DIR=", "HF_ENDPOINT", "make serve-demo")
