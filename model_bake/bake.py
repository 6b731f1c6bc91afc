"""Assemble, verify and publish a model folder.

Everything is written into a staging folder beside the output and renamed into place only
after every check passed, so an interrupted or failed bake never leaves a folder that looks
complete. Re-running on an up-to-date folder verifies it and returns without work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from function.core.classifier import AssertionClassifier
from function.core.cpus import cpu_features
from function.core.errors import ModelFolderError
from function.core.model_folder import (
    EXACT_U8S8_GRAPH,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    ModelFolder,
    VariantEntry,
    read_labels,
    sha256_file,
)
from model_bake import BAKE_VERSION, agreement, check_set, hub, int8_recipes, smoke
from model_bake.errors import BakeError
from model_bake.onnx_export import EXACT_INT8_FILE, FP32_FILE, INT8_FILE, export_onnx
from model_bake.tokenizer_export import export_tokenizer
from model_bake.weights import convert_pytorch_bin

log = logging.getLogger("model_bake")

# Copied as they are when present: AutoTokenizer reads them, so the baked folder keeps
# loading in transformers exactly as the source does.
COPIED_FILES = ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
# The int8 graph's two copies compute the same integer sums; what is left is float rounding.
EXACT_GRAPH_TOLERANCE = 1e-5
SNAPSHOT_PATH = re.compile(r"/snapshots/([0-9a-f]{40})/?$")
REFERENCE_RECIPE = {
    "name": "reference",
    "summary": "transformers' BERT on torch, fp32: what TextClassificationPipeline computes",
}
ONNX_FP32_RECIPE = {
    "name": "fused-fp32",
    "summary": "ONNX export with ONNX Runtime's transformer fusions (attention, layer norms, GELU), fp32",
}


@dataclass(frozen=True)
class BakeRequest:
    out: Path
    model_id: str
    revision: str | None = None  # required for the hub; recorded for --from-dir when given
    from_dir: Path | None = None
    token: str | None = None
    force: bool = False
    threads: int = 1
    min_agreement: float = agreement.DEFAULT_MIN_AGREEMENT


def bake(request: BakeRequest) -> tuple[Manifest, bool]:
    """Returns the manifest and whether anything was written (False: already up to date)."""
    out = request.out.resolve()
    if request.from_dir is None:
        hub.require_commit(request.revision or "")
    elif not request.from_dir.is_dir():
        raise BakeError(f"--from-dir {request.from_dir} is not a folder")
    if not request.force:
        current = _up_to_date(request, out)
        if current is not None:
            return current, False
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.bake-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the runtime may run as another user
    try:
        manifest = _bake_into(request, staging)
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest, True


def _bake_into(request: BakeRequest, staging: Path) -> Manifest:
    if request.from_dir is None:
        assert request.revision is not None  # checked by bake()
        log.info("downloading %s@%s", request.model_id, request.revision)
        source_dir = hub.fetch(request.model_id, request.revision, staging / ".download", request.token)
        origin, revision = "hub", request.revision
    else:
        source_dir, origin = request.from_dir.resolve(), "local"
        revision = request.revision or _local_revision(source_dir)
    present = {path.name for path in source_dir.iterdir() if path.is_file()}
    hub.select_files(present, request.model_id, revision)  # same completeness rules as the hub

    log.info("checking the weights in %s", source_dir)
    unexpected = smoke.check_weights_complete(source_dir)
    files: dict[str, FileEntry] = {}
    for name in COPIED_FILES:
        if name in present:
            shutil.copyfile(source_dir / name, staging / name)
            files[name] = _entry(staging / name, origin)
    checks: dict[str, object] = {"unexpected_weights": unexpected[:20]}
    if "model.safetensors" in present:
        shutil.copyfile(source_dir / "model.safetensors", staging / "model.safetensors")
        files["model.safetensors"] = _entry(staging / "model.safetensors", origin)
    else:
        log.info("converting pytorch_model.bin to safetensors")
        convert_pytorch_bin(source_dir / "pytorch_model.bin", staging / "model.safetensors")
        files["model.safetensors"] = _entry(staging / "model.safetensors", "derived")
        checks["converted_from"] = {
            "name": "pytorch_model.bin",
            "sha256": sha256_file(source_dir / "pytorch_model.bin"),
        }
    export_tokenizer(source_dir, staging / "tokenizer.json")
    files["tokenizer.json"] = _entry(staging / "tokenizer.json", "derived")

    log.info("exporting to ONNX")
    fp32_file = export_onnx(staging)
    files[fp32_file] = _entry(staging / fp32_file, "derived")

    try:
        labels = read_labels(staging / "config.json")
    except ModelFolderError as error:
        raise BakeError(str(error)) from None
    reference = VariantEntry("torch", "fp32", ("config.json", "model.safetensors"), recipe=REFERENCE_RECIPE)
    onnx_fp32 = VariantEntry("onnx", "fp32", (fp32_file,), recipe=ONNX_FP32_RECIPE)
    manifest = Manifest(
        model_id=request.model_id,
        revision=revision,
        labels=labels,
        max_length=_max_length(source_dir),
        files=files,
        variants={variant.name: variant for variant in (reference, onnx_fp32)},
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        bake_version=BAKE_VERSION,
        source=origin,
    )
    # The checks open the folder exactly as the runtime does, manifest included.
    _write_manifest(staging, manifest)
    folder = ModelFolder.open(staging)
    sentences = agreement.calibration_sentences()
    judge = _Judge(folder, sentences, request, cpu_features().as_dict())
    reference_model = smoke.load_reference(staging, threads=request.threads)
    try:
        log.info("running the smoke set against the reference pipeline")
        checks.update(smoke.run(source_dir, staging, reference_model))
        judge.expected = agreement.probabilities_of(reference_model, sentences)
        variants = {reference.name: judge.reference(reference_model)}
    finally:
        reference_model.close()
    log.info("checking each variant against the reference on the calibration set")
    variants[onnx_fp32.name] = judge.variant(onnx_fp32)
    int8, tried = _bake_int8(staging, folder, judge)
    for name in int8.all_files:
        files[name] = _entry(staging / name, "derived")
    variants[int8.name] = int8
    checks["int8_recipes"] = tried
    manifest = replace(manifest, files=files, variants=variants, checks=checks)
    shutil.rmtree(staging / ".download", ignore_errors=True)
    _write_manifest(staging, manifest)
    return manifest


class _Judge:
    """Runs the agreement gate for each variant, and records the start-up check of each one
    that passes, on this machine's CPU (named in the manifest as `judged_on`)."""

    def __init__(self, folder: ModelFolder, sentences: list[str], request: BakeRequest, cpu: dict) -> None:
        self.folder, self.sentences, self.request, self.cpu = folder, sentences, request, cpu
        self.expected: np.ndarray = np.empty(0)

    def reference(self, model: AssertionClassifier) -> VariantEntry:
        check = check_set.build(model, self.sentences, self.expected, self.expected)
        return replace(model.variant, servable=True, judged_on=self.cpu, check=check.as_dict())

    def answers(self, variant: VariantEntry) -> np.ndarray:
        classifier = AssertionClassifier.from_folder(self.folder, variant, threads=self.request.threads)
        try:
            return agreement.probabilities_of(classifier, self.sentences)
        finally:
            classifier.close()

    def variant(self, variant: VariantEntry) -> VariantEntry:
        classifier = AssertionClassifier.from_folder(self.folder, variant, threads=self.request.threads)
        try:
            answers = agreement.probabilities_of(classifier, self.sentences)
            found = agreement.measure(self.expected, answers, self.request.min_agreement)
            servable = found["argmax_agreement"] >= self.request.min_agreement
            check = check_set.build(classifier, self.sentences, self.expected, answers) if servable else None
        finally:
            classifier.close()
        reason = (
            ""
            if servable
            else (
                f"argmax agreement with the reference {found['argmax_agreement']:.2%} is below "
                f"{self.request.min_agreement:.2%} on {found['sentences']} calibration sentences"
            )
        )
        log.info(
            "%s (%s): agreement %.2f%%, largest probability difference %.2e: %s",
            variant.name,
            variant.recipe.get("name", ""),
            100 * found["argmax_agreement"],
            found["max_abs_diff"],
            "servable" if servable else f"NOT servable ({reason})",
        )
        return replace(
            variant,
            servable=servable,
            agreement=found,
            reason=reason,
            judged_on=self.cpu,
            check=check.as_dict() if check else None,
        )


def _exact_graph_verdict(judge: _Judge, variant: VariantEntry) -> VariantEntry:
    """The int8 graph's second copy (int8 weights, for CPUs with exact u8s8 kernels) must
    answer what the portable graph answers. Where this CPU has those kernels, both run on the
    calibration set and must agree to float rounding (they compute the same integer sums);
    elsewhere the copy cannot run exactly here, and each host that takes it judges it with
    the start-up check (falling back on the portable graph if it fails)."""
    cpu = cpu_features()
    second = variant.recipe[EXACT_U8S8_GRAPH]
    if not variant.servable:
        return _without_exact_graph(variant, judge.folder, "the int8 variant is not servable")
    verdict: dict[str, object] = {"on": cpu.kind}
    if not cpu.exact_u8s8:
        verdict["result"] = "not run here (this CPU has no exact x86 u8s8 kernels); judged at every start"
    else:
        fast, portable = variant.forms_for(cpu)
        expected = judge.answers(portable)
        answers = judge.answers(fast)
        largest = float(np.abs(answers - expected).max())
        if largest > EXACT_GRAPH_TOLERANCE or (answers.argmax(1) != expected.argmax(1)).any():
            return _without_exact_graph(
                variant,
                judge.folder,
                f"it answers up to {largest:.2e} away from the portable graph on {cpu.kind}",
            )
        log.info("%s: %s answers as the portable graph on %s (largest difference %.1e)", variant.name,
                 EXACT_INT8_FILE, cpu.kind, largest)  # fmt: skip
        verdict.update(sentences=len(expected), max_abs_diff=largest)
    return replace(variant, recipe={**variant.recipe, EXACT_U8S8_GRAPH: {**second, "judged": verdict}})


def _bake_int8(staging: Path, folder: ModelFolder, judge: _Judge) -> tuple[VariantEntry, list[dict]]:
    """Try the int8 recipes in order and keep the first that passes the gate, or else the
    one that agreed best (recorded as not servable). Returns it and what each recipe found."""
    judged: list[tuple[VariantEntry, Path, Path]] = []
    for recipe in int8_recipes.RECIPES:
        path = staging / f".int8-{recipe.name}.onnx"
        exact = staging / f".int8-{recipe.name}.exact.onnx"
        try:
            entry = int8_recipes.quantize(staging / FP32_FILE, path, recipe, exact)
        except Exception as error:  # noqa: BLE001 (the quantizer's failures: fail the bake, named)
            raise BakeError(
                f"int8 quantization ({recipe.name}) failed: {type(error).__name__}: {error}"
            ) from None
        variant = judge.variant(VariantEntry("onnx", "int8", (path.name,), recipe=entry))
        judged.append((variant, path, exact))
        if variant.servable:
            break

    def rank(found: tuple[VariantEntry, Path, Path]) -> tuple[bool, float]:
        return found[0].servable, (found[0].agreement or {}).get("argmax_agreement", 0.0)

    best, path, exact = max(judged, key=rank)
    path.rename(staging / INT8_FILE)
    exact.rename(staging / EXACT_INT8_FILE)
    for _, other, other_exact in judged:
        other.unlink(missing_ok=True)
        other_exact.unlink(missing_ok=True)
    tried = [
        {"recipe": v.recipe["name"], **(v.agreement or {}), "servable": v.servable} for v, _, _ in judged
    ]
    if not best.servable and len(judged) > 1:
        best = replace(best, reason=f"{best.reason} (the best of {len(judged)} int8 recipes tried)")
    second = {**best.recipe[EXACT_U8S8_GRAPH], "file": EXACT_INT8_FILE}
    best = replace(best, files=(INT8_FILE,), recipe={**best.recipe, EXACT_U8S8_GRAPH: second})
    return _exact_graph_verdict(judge, best), tried


def _without_exact_graph(variant: VariantEntry, folder: ModelFolder, why: str) -> VariantEntry:
    log.warning("%s: not shipping %s: %s", variant.name, EXACT_INT8_FILE, why)
    folder.file(EXACT_INT8_FILE).unlink(missing_ok=True)
    recipe = {key: value for key, value in variant.recipe.items() if key != EXACT_U8S8_GRAPH}
    return replace(variant, recipe={**recipe, "exact_u8s8_graph_dropped": why})


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")


def _entry(path: Path, origin: str) -> FileEntry:
    return FileEntry(size=path.stat().st_size, sha256=sha256_file(path), origin=origin)


def _max_length(source_dir: Path) -> int:
    """The longest input: the position embeddings, or less where the tokenizer says so."""
    config = json.loads((source_dir / "config.json").read_text(encoding="utf-8"))
    length = int(config.get("max_position_embeddings", 512))
    tokenizer_config = source_dir / "tokenizer_config.json"
    if tokenizer_config.is_file():
        declared = json.loads(tokenizer_config.read_text(encoding="utf-8")).get("model_max_length")
        if isinstance(declared, int) and 0 < declared < length:
            length = declared
    return length


def _local_revision(source_dir: Path) -> str:
    """A local copy's revision: the commit of a hub cache snapshot folder, or else a digest
    of its contents (honest, and stable for the same bytes)."""
    match = SNAPSHOT_PATH.search(str(source_dir))
    if match:
        return match.group(1)
    digest = hashlib.sha256()
    for path in sorted(source_dir.iterdir()):
        if path.is_file() and path.name in {*COPIED_FILES, *hub.WEIGHT_FILES, "tokenizer.json"}:
            digest.update(f"{path.name}:{sha256_file(path)}\n".encode())
    return f"local-{digest.hexdigest()[:16]}"


def _up_to_date(request: BakeRequest, out: Path) -> Manifest | None:
    if not (out / MANIFEST_NAME).is_file():
        return None
    try:
        folder = ModelFolder.open(out, verify_checksums=True)
        folder.verify_all()  # weights included: a damaged file must not pass as baked
        manifest = folder.manifest
    except ModelFolderError as error:
        log.info("rebaking: %s", error)
        return None
    if manifest.model_id != request.model_id or manifest.bake_version != BAKE_VERSION:
        return None
    gates = {v.agreement.get("min_agreement") for v in manifest.variants.values() if v.agreement}
    if gates != {request.min_agreement}:  # the variants must be judged again
        log.info("rebaking: the agreement gate changed to %s", request.min_agreement)
        return None
    if request.from_dir is None:
        return manifest if manifest.source == "hub" and manifest.revision == request.revision else None
    if manifest.source != "local":
        return None
    if request.revision and manifest.revision != request.revision:
        return None
    expected = {name: entry.sha256 for name, entry in manifest.files.items() if entry.origin == "local"}
    converted = manifest.checks.get("converted_from")
    if isinstance(converted, dict):
        expected[converted["name"]] = converted["sha256"]
    for name, sha256 in expected.items():
        source = request.from_dir / name
        if not source.is_file() or sha256_file(source) != sha256:
            return None
    return manifest


def _publish(staging: Path, out: Path) -> None:
    """Swap the verified staging folder into place; a previous folder is removed only after."""
    if out.exists():
        retired = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(retired)
        staging.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out)
