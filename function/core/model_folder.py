"""The baked model folder: the contract between build time (`model_bake`) and run time.

A folder holds the files the runtime needs beside ``manifest.json``, which names the model
and the exact revision it came from, the size and sha256 of every file, the labels, the
longest input and what the bake checked. The runtime opens a folder only through
`ModelFolder.open`, which refuses (with a message that says what is wrong and where) a
folder that is missing, incomplete or inconsistent, and never downloads anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from function.core.cpus import CpuFeatures, cpu_features
from function.core.errors import ModelFolderError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 3
LABELS = ("PRESENT", "ABSENT", "POSSIBLE")
# Files every runtime needs, whatever the variant; each variant adds its own.
COMMON_FILES = ("config.json", "tokenizer.json")
# When PRECISION=auto: the fastest servable variant of the backend that passes its start-up
# check on this CPU wins; the others are the fallbacks, in this order.
PRECISION_PREFERENCE = ("int8", "fp32")
# The int8 recipe's key for the graph's second copy, served where u8s8 sums are exact (x86
# with VNNI or AMX): {"file", "session_config", "optimized_at_bake", "judged"}.
EXACT_U8S8_GRAPH = "exact_u8s8_graph"


@dataclass(frozen=True)
class FileEntry:
    size: int
    sha256: str
    # Where the file came from: "hub" (as published), "local" (copied from --from-dir),
    # or "derived" (written by the bake: tokenizer.json, converted or exported weights).
    origin: str


@dataclass(frozen=True)
class VariantEntry:
    """One way to compute the model: a backend, a precision, and the files it reads.

    Only a servable variant may be served. The reference (torch fp32) is servable when the
    smoke set matched the pipeline; every other variant when it agreed with the reference
    on the calibration set (`agreement`); `reason` says why one is not. `recipe` says how it
    was made and how it must be run (ONNX Runtime session settings among them); `judged_on`
    names the CPU whose kernels the bake's figures come from; `check` is the small set of
    sentences, with the reference's and this variant's answers, that every serving process
    runs on its own CPU before it reports ready (`function.core.variant_check`).
    """

    backend: str
    precision: str
    files: tuple[str, ...]
    servable: bool = False
    agreement: dict[str, Any] | None = None
    reason: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)
    judged_on: dict[str, Any] | None = None
    check: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return f"{self.backend}-{self.precision}"

    @property
    def all_files(self) -> tuple[str, ...]:
        """Every file the variant may read, on any CPU (what a trimmed folder keeps)."""
        extra = self.recipe.get(EXACT_U8S8_GRAPH, {}).get("file")
        return self.files + ((extra,) if extra and extra not in self.files else ())

    def forms_for(self, cpu: CpuFeatures) -> list[VariantEntry]:
        """The ways to compute this variant on `cpu`, fastest first. An int8 graph baked with
        a second copy for exact u8s8 kernels (`EXACT_U8S8_GRAPH`: int8 weights as the
        quantizer wrote them, and no `session.x64quantprecision`) is served from that copy
        where the CPU has VNNI or AMX: the same integer sums, and on an AVX-512 VNNI EPYC
        1.84x the speed of the uint8 copy's kernels (docs/benchmarks.md). The portable graph
        follows as the fallback should the fast one fail its start-up check here."""
        extra = self.recipe.get(EXACT_U8S8_GRAPH)
        if not extra or not cpu.exact_u8s8:
            return [self]
        recipe = {**self.recipe, "session_config": dict(extra.get("session_config", {}))}
        return [replace(self, files=(extra["file"],), recipe=recipe), self]


@dataclass(frozen=True)
class Manifest:
    model_id: str
    revision: str
    labels: tuple[str, ...]
    max_length: int
    files: dict[str, FileEntry]
    variants: dict[str, VariantEntry]
    created_at: str
    bake_version: str
    source: str = "hub"
    checks: dict[str, Any] = field(default_factory=dict)
    format: int = MANIFEST_FORMAT

    def servable_names(self) -> list[str]:
        """The variants that passed the bake's checks, by name, sorted."""
        return [name for name, entry in sorted(self.variants.items()) if entry.servable]

    def to_json(self) -> str:
        data = asdict(self)
        data["labels"] = list(self.labels)
        for entry in data["variants"].values():
            entry["files"] = list(entry["files"])
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        if int(data.get("format", 0)) != MANIFEST_FORMAT:
            raise ValueError(f"format {data.get('format')}")
        return cls(
            model_id=data["model_id"],
            revision=data["revision"],
            labels=tuple(data["labels"]),
            max_length=int(data["max_length"]),
            files={name: FileEntry(**entry) for name, entry in data["files"].items()},
            variants={
                name: VariantEntry(**{**entry, "files": tuple(entry["files"])})
                for name, entry in data["variants"].items()
            },
            created_at=data["created_at"],
            bake_version=data["bake_version"],
            source=data.get("source", "hub"),
            checks=data.get("checks", {}),
            format=int(data["format"]),
        )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_labels(config_path: Path) -> tuple[str, ...]:
    """Labels in index order from a transformers config.json (``id2label``)."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        id2label = {int(index): str(label) for index, label in config["id2label"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelFolderError(f"{config_path}: cannot read id2label ({error})") from None
    if sorted(id2label) != list(range(len(id2label))):
        raise ModelFolderError(f"{config_path}: id2label indices are not 0..{len(id2label) - 1}")
    labels = tuple(id2label[index] for index in range(len(id2label)))
    if sorted(labels) != sorted(LABELS):
        raise ModelFolderError(
            f"{config_path}: labels are {list(labels)}; an assertion model must have exactly {list(LABELS)}"
        )
    return labels


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    manifest: Manifest

    @classmethod
    def open(cls, path: str | Path, *, verify_checksums: bool = False) -> ModelFolder:
        """Open a baked folder, or raise ModelFolderError saying what is wrong."""
        folder = Path(path)
        if not folder.is_dir():
            raise ModelFolderError(
                f"model folder {folder} does not exist: bake one with "
                f"'python -m model_bake --out {folder}' and point MODEL_DIR at it"
            )
        manifest_path = folder / MANIFEST_NAME
        if not manifest_path.is_file():
            raise ModelFolderError(
                f"{manifest_path} is missing: {folder} is not a baked model folder "
                "(an interrupted bake leaves none; bake again)"
            )
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelFolderError(f"{manifest_path} is unreadable: {error!r}") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise ModelFolderError(
                f"{manifest_path} has format {found}; this runtime reads format "
                f"{MANIFEST_FORMAT}: bake the folder again with this version"
            )
        try:
            manifest = Manifest.from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ModelFolderError(f"{manifest_path} is unreadable: {error!r}") from None
        model_folder = cls(folder, manifest)
        model_folder._check_files(COMMON_FILES, verify_checksums)
        labels = read_labels(folder / "config.json")
        if labels != manifest.labels:
            raise ModelFolderError(
                f"{folder / 'config.json'} labels {list(labels)} differ from the manifest's "
                f"{list(manifest.labels)}"
            )
        return model_folder

    def _check_files(self, names: Sequence[str], verify_checksums: bool) -> None:
        unlisted = sorted(set(names) - set(self.manifest.files))
        if unlisted:
            raise ModelFolderError(f"{self.path}: manifest lists no entry for {unlisted}")
        for name in sorted(names):
            entry = self.manifest.files[name]
            file_path = self.path / name
            if not file_path.is_file():
                raise ModelFolderError(f"{file_path} is missing (listed in the manifest)")
            size = file_path.stat().st_size
            if size != entry.size:
                raise ModelFolderError(
                    f"{file_path} is {size} bytes; the manifest says {entry.size} "
                    "(truncated or replaced after the bake)"
                )
            if verify_checksums and sha256_file(file_path) != entry.sha256:
                raise ModelFolderError(
                    f"{file_path} does not match the sha256 in the manifest "
                    "(corrupted or replaced after the bake)"
                )

    def file(self, name: str) -> Path:
        return self.path / name

    def verify_all(self) -> None:
        """Every file the manifest lists is present with its size and sha256 (reads them all:
        for the bake's no-op check, not for a start)."""
        self._check_files(list(self.manifest.files), verify_checksums=True)

    def has_files(self, variant: VariantEntry) -> bool:
        return all((self.path / name).is_file() for name in variant.files)

    def candidates(
        self,
        backend: str,
        precision: str = "auto",
        *,
        servable_only: bool = True,
        cpu: CpuFeatures | None = None,
    ) -> list[VariantEntry]:
        """The variants that may serve, best first, their files' sizes checked: for
        `precision="auto"` every servable one of the backend that is present, fastest first
        (the ones after the first are the fallbacks when a variant fails its start-up check);
        otherwise just the one named. Each comes in the forms it has for `cpu` (this one by
        default), fastest first (`VariantEntry.forms_for`). Refuses, saying why, when there
        is none, or when the variant named failed its bake checks. (`verify_files` reads a
        variant's checksums.)"""
        variants = self.manifest.variants
        known = sorted(variants)
        names = (
            [f"{backend}-{p}" for p in PRECISION_PREFERENCE]
            if precision == "auto"
            else [f"{backend}-{precision}"]
        )
        present = [
            variants[name]
            for name in names
            if name in variants
            and (variants[name].servable or not servable_only)
            and self.has_files(variants[name])
        ]
        if not present:
            if precision != "auto" and names[0] in variants and not variants[names[0]].servable:
                entry = variants[names[0]]
                why = entry.reason or "it failed its bake checks"
                raise ModelFolderError(
                    f"{self.path}: {entry.name} is not servable: {why}; "
                    f"choose another PRECISION or BACKEND (servable: {self.manifest.servable_names()})"
                )
            raise ModelFolderError(
                f"{self.path} has no servable {backend} variant with its files present "
                f"(asked: {names}; manifest: {known}; servable: {self.manifest.servable_names()})"
            )
        for entry in present:
            self._check_files(entry.files, verify_checksums=False)
        cpu = cpu or cpu_features()
        return [
            form
            for entry in present
            for form in entry.forms_for(cpu)
            if form is entry or self._form_present(form)
        ]

    def _form_present(self, form: VariantEntry) -> bool:
        """A graph for this CPU kind that is listed and present with its size; one that is
        not is skipped (the portable graph serves), never trusted unchecked."""
        try:
            self._check_files(form.files, verify_checksums=False)
        except ModelFolderError:
            return False
        return True

    def verify_files(self, variant: VariantEntry) -> None:
        """A variant's files match the sha256 the manifest lists (reads them all)."""
        self._check_files(variant.files, verify_checksums=True)

    def select(
        self,
        backend: str,
        precision: str = "auto",
        *,
        verify_checksums: bool = False,
        servable_only: bool = True,
        cpu: CpuFeatures | None = None,
    ) -> VariantEntry:
        """The first of `candidates`: the variant to serve if it passes its start-up check."""
        first = self.candidates(backend, precision, servable_only=servable_only, cpu=cpu)[0]
        if verify_checksums:
            self.verify_files(first)
        return first
