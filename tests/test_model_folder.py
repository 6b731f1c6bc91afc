"""The runtime refuses a model folder it cannot vouch for, and says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from function.core.cpus import CpuFeatures
from function.core.errors import ModelFolderError
from function.core.model_folder import EXACT_U8S8_GRAPH, MANIFEST_NAME, ModelFolder

# CPU kinds by their /proc/cpuinfo flags: the folder's choice of int8 graph is a pure function
# of them (whether ONNX Runtime really takes exact kernels there is the start-up check's to
# judge, on the host itself: tests/test_onnx.py, tests/test_variant_check.py).
AVX2 = CpuFeatures("AMD EPYC", "x86_64", ("avx2",))
AVX512_NO_VNNI = CpuFeatures("Intel Xeon", "x86_64", ("avx2", "avx512f", "avx512bw"))
AVX512_VNNI = CpuFeatures("AMD EPYC", "x86_64", ("avx2", "avx512f", "avx512bw", "avx512_vnni"))
AVX_VNNI = CpuFeatures("Intel Core", "x86_64", ("avx2", "avx_vnni"))
AMX = CpuFeatures("Intel Xeon", "x86_64", ("avx2", "avx512f", "avx512bw", "avx512_vnni", "amx_int8"))
ARM64 = CpuFeatures("Neoverse", "aarch64", ("asimddp", "i8mm"))
PORTABLE, EXACT = "model.int8.onnx", "model.int8.vnni.onnx"


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
    assert opened.select("onnx", "int8", verify_checksums=True, cpu=AVX2).files == (PORTABLE,)
    assert opened.select("onnx", "int8", verify_checksums=True, cpu=AVX512_VNNI).files == (EXACT,)
    assert opened.select("onnx").precision == "int8"  # auto: the fastest servable one


def served_graphs(folder: Path, cpu: CpuFeatures, precision: str = "auto") -> list[str]:
    return [variant.files[0] for variant in ModelFolder.open(folder).candidates("onnx", precision, cpu=cpu)]


@pytest.mark.parametrize("cpu", [AVX512_VNNI, AVX_VNNI, AMX], ids=lambda cpu: cpu.kind)
def test_a_cpu_with_exact_u8s8_sums_serves_the_int8_weights_first(folder: Path, cpu: CpuFeatures) -> None:
    assert served_graphs(folder, cpu) == [EXACT, PORTABLE, "model.onnx"]
    assert served_graphs(folder, cpu, "int8") == [EXACT, PORTABLE]  # the portable graph is its fallback
    fast = ModelFolder.open(folder).select("onnx", "int8", cpu=cpu)
    assert fast.name == "onnx-int8" and fast.files == (EXACT,) and fast.all_files == (EXACT,)
    assert "session.x64quantprecision" not in fast.recipe["session_config"]


@pytest.mark.parametrize("cpu", [AVX2, AVX512_NO_VNNI, ARM64], ids=lambda cpu: cpu.kind)
def test_any_other_cpu_serves_the_portable_graph_only(folder: Path, cpu: CpuFeatures) -> None:
    assert served_graphs(folder, cpu) == [PORTABLE, "model.onnx"]
    portable = ModelFolder.open(folder).select("onnx", "int8", cpu=cpu)
    assert portable.recipe["session_config"] == {"session.x64quantprecision": "1"}
    assert portable.files == (PORTABLE,) and portable.all_files == (PORTABLE, EXACT)


def test_an_exact_graph_that_is_missing_or_damaged_is_skipped_not_trusted(folder: Path) -> None:
    (folder / EXACT).write_bytes((folder / EXACT).read_bytes()[:1000])  # the wrong size
    assert served_graphs(folder, AVX512_VNNI) == [PORTABLE, "model.onnx"]
    (folder / EXACT).unlink()
    assert served_graphs(folder, AVX512_VNNI) == [PORTABLE, "model.onnx"]


def test_a_folder_baked_before_the_exact_graph_serves_as_it_did(folder: Path) -> None:
    edit_manifest(folder, lambda m: m["variants"]["onnx-int8"]["recipe"].pop(EXACT_U8S8_GRAPH))
    assert served_graphs(folder, AMX) == [PORTABLE, "model.onnx"]


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


def selection_refused(
    folder: Path,
    backend: str,
    precision: str,
    *phrases: str,
    verify: bool = False,
    cpu: CpuFeatures | None = None,
) -> str:
    with pytest.raises(ModelFolderError) as caught:
        ModelFolder.open(folder).select(backend, precision, verify_checksums=verify, cpu=cpu)
    for phrase in phrases:
        assert phrase in str(caught.value), str(caught.value)
    return str(caught.value)


def test_truncated_file(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    ModelFolder.open(folder).select("onnx", "int8")  # only what the chosen variant reads counts
    selection_refused(folder, "torch", "fp32", "model.safetensors", "truncated or replaced")


@pytest.mark.parametrize(("cpu", "graph"), [(AVX2, PORTABLE), (AVX512_VNNI, EXACT)], ids=[PORTABLE, EXACT])
def test_same_size_other_bytes_needs_the_checksum(folder: Path, cpu: CpuFeatures, graph: str) -> None:
    weights = folder / graph
    data = weights.read_bytes()
    weights.write_bytes(data[:-8] + bytes(8))
    ModelFolder.open(folder).select("onnx", "int8", cpu=cpu)  # sizes alone cannot see it
    selection_refused(folder, "onnx", "int8", "sha256", graph, verify=True, cpu=cpu)


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
        ("auto", {PORTABLE, EXACT, "model.onnx"}),  # int8 (both graphs: any CPU) and its fallback
        ("int8", {PORTABLE, EXACT}),
        ("fp32", {"model.onnx"}),
        ("all", {PORTABLE, EXACT, "model.onnx"}),
    ],
)
def test_trim_keeps_what_the_served_variant_reads(folder: Path, precision: str, kept: set[str]) -> None:
    from model_bake.trim import trim

    removed = trim(folder, "onnx", precision)
    common = {"config.json", "tokenizer.json", MANIFEST_NAME}
    assert {p.name for p in folder.iterdir()} == common | kept
    assert "model.safetensors" in removed and "vocab.txt" in removed
    served = ModelFolder.open(folder, verify_checksums=True).candidates("onnx", "auto")
    assert {name for variant in served for name in variant.all_files} == kept
    with pytest.raises(ModelFolderError):
        ModelFolder.open(folder).select("torch", "fp32")
