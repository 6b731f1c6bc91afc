"""The runtime refuses a model folder it cannot vouch for, and says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from function.core.errors import ModelFolderError
from function.core.model_folder import MANIFEST_NAME, ModelFolder


@pytest.fixture
def folder(baked_copy: Path) -> Path:
    return baked_copy


def edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    change(manifest)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


def refused(folder: Path, *phrases: str, verify: bool = False) -> str:
    with pytest.raises(ModelFolderError) as caught:
        ModelFolder.open(folder, verify_checksums=verify)
    message = str(caught.value)
    for phrase in phrases:
        assert phrase in message, message
    return message


def test_a_complete_folder_opens(folder: Path) -> None:
    opened = ModelFolder.open(folder, verify_checksums=True)
    assert opened.manifest.labels == ("PRESENT", "ABSENT", "POSSIBLE")
    assert opened.select("torch", "fp32").files == ("config.json", "model.safetensors")
    assert opened.select("onnx", "fp32").files == ("model.onnx",)
    assert opened.select("onnx", "int8", verify_checksums=True).files == ("model.int8.onnx",)
    assert opened.select("onnx").precision == "int8"  # auto: the fastest servable one


def test_missing_folder(tmp_path: Path) -> None:
    refused(tmp_path / "nowhere", "does not exist", "python -m model_bake")


def test_missing_manifest(folder: Path) -> None:
    (folder / MANIFEST_NAME).unlink()
    refused(folder, "manifest.json is missing")


def test_unreadable_manifest(folder: Path) -> None:
    (folder / MANIFEST_NAME).write_text("{not json")
    refused(folder, "unreadable")


def test_other_manifest_format(folder: Path) -> None:
    edit_manifest(folder, lambda m: m.update(format=1))
    refused(folder, "format 1", "bake the folder again")


def test_missing_file(folder: Path) -> None:
    (folder / "tokenizer.json").unlink()
    refused(folder, "tokenizer.json is missing")


def test_a_listed_variant_file_missing(folder: Path) -> None:
    (folder / "model.int8.onnx").unlink()
    assert ModelFolder.open(folder).select("onnx").precision == "fp32"  # auto moves on
    selection_refused(folder, "onnx", "int8", "no servable onnx variant")


def selection_refused(folder: Path, backend: str, precision: str, *phrases: str, verify: bool = False) -> str:
    with pytest.raises(ModelFolderError) as caught:
        ModelFolder.open(folder).select(backend, precision, verify_checksums=verify)
    for phrase in phrases:
        assert phrase in str(caught.value), str(caught.value)
    return str(caught.value)


def test_truncated_file(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    ModelFolder.open(folder).select("onnx", "int8")  # only what the chosen variant reads counts
    selection_refused(folder, "torch", "fp32", "model.safetensors", "truncated or replaced")


def test_same_size_other_bytes_needs_the_checksum(folder: Path) -> None:
    weights = folder / "model.int8.onnx"
    data = weights.read_bytes()
    weights.write_bytes(data[:-8] + bytes(8))
    ModelFolder.open(folder).select("onnx", "int8")  # sizes alone cannot see it
    selection_refused(folder, "onnx", "int8", "sha256", verify=True)


def test_a_folder_trimmed_to_one_variant_serves_that_variant(folder: Path) -> None:
    """An image may ship only the files of the variant it serves."""
    for name in ("model.safetensors", "model.onnx"):
        (folder / name).unlink()
    assert ModelFolder.open(folder, verify_checksums=True).select("onnx").precision == "int8"
    selection_refused(folder, "torch", "auto", "no servable torch variant")


def test_a_variant_that_failed_its_gate_is_refused_with_the_reason(folder: Path) -> None:
    def fail_int8(manifest: dict) -> None:
        manifest["variants"]["onnx-int8"].update(
            servable=False, reason="argmax agreement 97.00% is below 99.50%"
        )

    edit_manifest(folder, fail_int8)
    assert ModelFolder.open(folder).select("onnx", "auto").precision == "fp32"
    selection_refused(folder, "onnx", "int8", "onnx-int8 is not servable", "97.00%", "PRECISION")


def test_labels_must_agree_with_config(folder: Path) -> None:
    edit_manifest(folder, lambda m: m.update(labels=["ABSENT", "PRESENT", "POSSIBLE"]))
    refused(folder, "differ from the manifest")


def test_a_file_a_variant_needs_must_be_listed(folder: Path) -> None:
    edit_manifest(folder, lambda m: m["files"].pop("model.safetensors"))
    selection_refused(folder, "torch", "fp32", "no entry for ['model.safetensors']")


def test_unknown_backend(folder: Path) -> None:
    selection_refused(folder, "tensorflow", "auto", "no servable tensorflow variant")


@pytest.mark.parametrize(
    ("precision", "kept"),
    [
        ("auto", {"model.int8.onnx", "model.onnx"}),  # int8 and its fallback
        ("int8", {"model.int8.onnx"}),
        ("fp32", {"model.onnx"}),
        ("all", {"model.int8.onnx", "model.onnx"}),
    ],
)
def test_trim_keeps_what_the_served_variant_reads(folder: Path, precision: str, kept: set[str]) -> None:
    from model_bake.trim import trim

    removed = trim(folder, "onnx", precision)
    common = {"config.json", "tokenizer.json", MANIFEST_NAME}
    assert {p.name for p in folder.iterdir()} == common | kept
    assert "model.safetensors" in removed and "vocab.txt" in removed
    served = ModelFolder.open(folder, verify_checksums=True).candidates("onnx", "auto")
    assert {name for variant in served for name in variant.files} == kept
    with pytest.raises(ModelFolderError):
        ModelFolder.open(folder).select("torch", "fp32")
