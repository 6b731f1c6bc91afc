"""The runtime refuses a model folder it cannot vouch for, and says what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from function.errors import ModelFolderError
from function.model_folder import MANIFEST_NAME, ModelFolder


@pytest.fixture
def folder(baked_model: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(baked_model, copy)
    return copy


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
    assert opened.backend("torch").files == ("config.json", "model.safetensors")


def test_missing_folder(tmp_path: Path) -> None:
    refused(tmp_path / "nowhere", "does not exist", "python -m model_bake")


def test_missing_manifest(folder: Path) -> None:
    (folder / MANIFEST_NAME).unlink()
    refused(folder, "manifest.json is missing")


def test_unreadable_manifest(folder: Path) -> None:
    (folder / MANIFEST_NAME).write_text("{not json")
    refused(folder, "unreadable")


def test_other_manifest_format(folder: Path) -> None:
    edit_manifest(folder, lambda m: m.update(format=99))
    refused(folder, "format 99", "bake the folder again")


def test_missing_file(folder: Path) -> None:
    (folder / "tokenizer.json").unlink()
    refused(folder, "tokenizer.json is missing")


def test_truncated_file(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    refused(folder, "model.safetensors", "truncated or replaced")


def test_same_size_other_bytes_needs_the_checksum(folder: Path) -> None:
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-8] + bytes(8))
    ModelFolder.open(folder)  # sizes alone cannot see it
    refused(folder, "sha256", verify=True)


def test_labels_must_agree_with_config(folder: Path) -> None:
    edit_manifest(folder, lambda m: m.update(labels=["ABSENT", "PRESENT", "POSSIBLE"]))
    refused(folder, "differ from the manifest")


def test_a_file_a_backend_needs_must_be_listed(folder: Path) -> None:
    edit_manifest(folder, lambda m: m["files"].pop("model.safetensors"))
    refused(folder, "no entry for ['model.safetensors']")


def test_unknown_backend(folder: Path) -> None:
    with pytest.raises(ModelFolderError, match="no 'onnx' backend"):
        ModelFolder.open(folder).backend("onnx")
