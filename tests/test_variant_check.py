"""Judged where it serves: every variant runs its bake-recorded check set on this CPU before
the service reports ready; one that fails is passed over (PRECISION=auto) with a WARNING that
names it, its figures and the CPU, or stops the start (PRECISION named explicitly)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from function.core.classifier import AssertionClassifier
from function.core.cpus import cpu_features
from function.core.errors import ModelFolderError
from function.core.model_folder import MANIFEST_NAME, ModelFolder
from function.core.variant_check import CheckFailed, CheckOutcome, CheckSet, check_here, judge, load_checked
from model_bake import int8_recipes
from model_bake.check_set import CHECK_SIZE, MARGIN_FLOOR, margins
from tests.support.bake import int8_forms
from tests.support.servers import functions_framework_server, lambda_process


def edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    change(manifest)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


def judged_elsewhere(manifest: dict) -> None:
    """A folder whose record disagrees with this CPU: the int8 variant's check answers as the
    bake recorded them replaced by the reference's own (as if the bake's CPU had computed int8
    answers equal to fp32), so this CPU's real answers are now far further from the reference
    than the bake says they were."""
    check = manifest["variants"]["onnx-int8"]["check"]
    check["baked"] = check["reference"]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --- the judgement itself ---------------------------------------------------------------------


def a_check_set() -> CheckSet:
    reference = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])
    baked = np.array([[0.65, 0.25, 0.1], [0.1, 0.8, 0.1], [0.25, 0.3, 0.45]])
    return CheckSet(("a", "b", "c"), reference, baked, tolerance=0.02)


def test_the_bakes_own_answers_pass_and_moving_closer_to_the_reference_passes() -> None:
    check = a_check_set()
    assert judge("v", check, check.baked).passed
    assert judge("v", check, check.reference).passed
    outcome = judge("v", check, check.baked + np.array([0.015, -0.015, 0.0]))
    assert outcome.passed and outcome.excess == pytest.approx(0.015)


def test_moving_further_from_the_reference_than_the_tolerance_fails() -> None:
    check = a_check_set()
    moved = check.baked.copy()
    moved[1] = [0.1, 0.77, 0.13]  # 0.03 further than at bake, label unchanged
    outcome = judge("v", check, moved)
    assert not outcome.passed and outcome.excess == pytest.approx(0.03)
    assert outcome.agreed == outcome.agreed_at_bake == 3


def test_a_label_that_agreed_at_bake_and_flips_here_fails() -> None:
    check = CheckSet(("a",), np.array([[0.52, 0.48, 0.0]]), np.array([[0.51, 0.49, 0.0]]), tolerance=0.05)
    outcome = judge("v", check, np.array([[0.49, 0.51, 0.0]]))
    assert outcome.excess <= 0.05 and outcome.agreed == 0 and not outcome.passed
    assert "0/1 check labels match the reference (bake: 1)" in outcome.describe()


# --- what the bake recorded -------------------------------------------------------------------


def test_every_servable_variant_carries_a_check_judged_on_this_cpu(baked_model: Path) -> None:
    manifest = ModelFolder.open(baked_model).manifest
    for variant in manifest.variants.values():
        assert variant.servable and variant.judged_on == cpu_features().as_dict()
        check = CheckSet.from_dict(variant.check or {})
        assert len(check.sentences) == CHECK_SIZE
        assert check.tolerance == (0.02 if variant.precision == "int8" else 0.002)
        # No label of the check sits on a near-tie that float rounding alone could flip.
        assert min(margins(check.baked)) >= MARGIN_FLOOR or len(check.sentences) < CHECK_SIZE
    recipe = manifest.variants["onnx-int8"].recipe
    assert recipe["name"] == "dynamic-per-channel"
    assert recipe["session_config"] == {"session.x64quantprecision": "1"}


@pytest.mark.parametrize("variant", ["torch-fp32", "onnx-fp32", "onnx-int8"])
def test_each_variant_passes_its_check_on_the_cpu_that_baked_it(baked_model: Path, variant: str) -> None:
    backend, precision = variant.split("-")
    classifier = AssertionClassifier.load(baked_model, backend=backend, precision=precision, threads=1)
    try:
        outcome = check_here(classifier)
    finally:
        classifier.close()
    assert outcome.passed, outcome.describe()
    assert outcome.agreed == outcome.agreed_at_bake and outcome.excess <= outcome.tolerance


def test_a_folder_without_checks_is_refused_before_anything_loads(baked_copy: Path) -> None:
    edit_manifest(baked_copy, lambda m: m["variants"]["onnx-int8"].update(check=None))
    folder = ModelFolder.open(baked_copy)
    with pytest.raises(ModelFolderError, match="no start-up check recorded"):
        load_checked(folder, folder.candidates("onnx", "auto"))


def test_in_process_the_fallback_serves_fp32_and_reports_the_failure(baked_copy: Path) -> None:
    edit_manifest(baked_copy, judged_elsewhere)
    folder = ModelFolder.open(baked_copy)
    checked = load_checked(folder, folder.candidates("onnx", "auto"))
    try:
        assert checked.classifier.info.precision == "fp32" and checked.outcome.passed
        assert [(failed.variant, failed.graph) for failed in checked.failed] == int8_forms(baked_copy)
        for failed in checked.failed:
            assert not failed.passed and failed.excess > failed.tolerance
    finally:
        checked.classifier.close()
    with pytest.raises(CheckFailed, match="nothing to fall back on"):
        load_checked(folder, folder.candidates("onnx", "int8"))


# --- the entry points -------------------------------------------------------------------------


@pytest.mark.parametrize("start", [functions_framework_server, lambda_process])
def test_a_variant_that_fails_here_is_passed_over_with_one_warning(
    start, baked_copy: Path, tmp_path: Path
) -> None:
    edit_manifest(baked_copy, judged_elsewhere)
    process = start({"MODEL_DIR": str(baked_copy), "INTRA_OP_THREADS": "1"}, tmp_path / "log")
    try:
        process.wait_ready()
        if start is functions_framework_server:
            health = httpx.get(process.url + "/health", timeout=10).json()
            assert health["model"]["precision"] == "fp32"
            report = health["startup_check"]
            assert report["serving"]["variant"] == "onnx-fp32" and report["serving"]["passed"]
            assert [(failed["variant"], failed["graph"]) for failed in report["failed"]] == int8_forms(
                baked_copy
            )
            assert report["cpu"] == cpu_features().as_dict()
    finally:
        process.stop()
    lines = json_lines(process.logs())
    (warning,) = [line for line in lines if line.get("event") == "variant_check_failed"]  # one per variant
    assert warning["severity"] == "WARNING"
    assert warning["variant"] == "onnx-int8" and warning["fallback"] == "onnx-fp32"
    assert warning["graphs"] == [graph for _, graph in int8_forms(baked_copy)]  # every copy tried
    assert warning["check"]["excess"] > warning["check"]["tolerance"]
    assert warning["cpu"]["kind"] == cpu_features().kind and cpu_features().model in warning["message"]
    assert not [line for line in lines if line.get("event") == "graph_check_failed"]  # int8 did not serve
    (ready,) = [line for line in lines if line.get("event") == "ready"]
    assert ready["precision"] == "fp32" and ready["check"]["passed"]


def test_a_variant_named_by_precision_that_fails_here_stops_the_start(
    baked_copy: Path, tmp_path: Path
) -> None:
    edit_manifest(baked_copy, judged_elsewhere)
    process = functions_framework_server(
        {"MODEL_DIR": str(baked_copy), "PRECISION": "int8"}, tmp_path / "log"
    )
    logs = process.refuses_to_start(
        "onnx-int8", "start-up check", "nothing to fall back on", cpu_features().kind
    )
    assert process.process.returncode == 3  # the worker's boot error: gunicorn stops, no restart loop
    assert "variant_check_failed" not in logs  # no fallback was taken


def test_health_names_the_variant_and_its_check(deployments) -> None:
    health = httpx.get(deployments["open"].ff.url + "/health", timeout=10).json()
    assert health["model"]["precision"] == "int8" and health["model"]["recipe"] == "dynamic-per-channel"
    report = health["startup_check"]
    graph = "model.int8.vnni.onnx" if cpu_features().exact_u8s8 else "model.int8.onnx"
    assert report["serving"]["variant"] == "onnx-int8" and report["serving"]["graph"] == graph
    assert report["serving"]["passed"]
    assert report["failed"] == []


SATURATING = cpu_features().kind in {"x86_64 AVX2, no VNNI", "x86_64 AVX-512, no VNNI"}


@pytest.mark.skipif(
    not SATURATING,
    reason=f"needs an x86 CPU whose int8 u8s8 kernels saturate (AVX2 or AVX-512 without VNNI); "
    f"this one is {cpu_features().kind}",
)
def test_saturating_int8_kernels_fail_the_check(baked_copy: Path) -> None:
    """The fault this check exists for, for real: the int8 graph run with ONNX Runtime's fast
    u8s8 kernels, whose 16-bit intermediate sums saturate on this CPU, answers other numbers
    than the bake judged; the check sees it. The bake ships weights already rewritten for the
    exact kernels, so the fault is rebuilt here: the quantizer's own int8 weights, run without
    the recipe's exact-kernel setting."""
    path = baked_copy / "model.int8.onnx"
    recipe = next(r for r in int8_recipes.RECIPES if r.name == "dynamic-per-channel")
    int8_recipes.quantize_only(baked_copy / "model.onnx", path, recipe)

    def saturating(manifest: dict) -> None:
        manifest["variants"]["onnx-int8"]["recipe"].update(session_config={})
        manifest["files"]["model.int8.onnx"]["size"] = path.stat().st_size

    edit_manifest(baked_copy, saturating)
    folder = ModelFolder.open(baked_copy)
    checked = load_checked(folder, folder.candidates("onnx", "auto"))
    try:
        assert checked.classifier.info.precision == "fp32"
        (failed,) = checked.failed
        assert failed.variant == "onnx-int8" and failed.drift > 0.05
    finally:
        checked.classifier.close()


@pytest.mark.skipif(
    not SATURATING,
    reason=f"needs an x86 CPU whose int8 u8s8 kernels saturate (AVX2 or AVX-512 without VNNI); "
    f"this one is {cpu_features().kind}",
)
def test_a_cpu_that_claims_vnni_but_saturates_is_served_by_the_portable_graph(baked_copy: Path) -> None:
    """The graph with int8 weights is chosen by /proc/cpuinfo's flags. Should ONNX Runtime
    not take exact kernels where the flags promise them (a hypervisor that passes the flag
    through, an older build), that graph saturates: its start-up check fails and the
    portable graph of the same variant serves. Run here, on a CPU that really saturates,
    with the folder told this CPU has AVX-512 VNNI (the lie is the only thing faked)."""
    claims_vnni = replace(cpu_features(), flags=(*cpu_features().flags, "avx512_vnni"))
    folder = ModelFolder.open(baked_copy)
    candidates = folder.candidates("onnx", "auto", cpu=claims_vnni)
    assert [(c.name, c.files[0]) for c in candidates][:2] == [
        ("onnx-int8", "model.int8.vnni.onnx"),
        ("onnx-int8", "model.int8.onnx"),
    ]
    checked = load_checked(folder, candidates)
    try:
        assert checked.outcome.passed and checked.outcome.graph == "model.int8.onnx"
        assert checked.classifier.info.precision == "int8"  # int8 still serves, from its portable copy
        (failed,) = checked.failed
        assert (failed.variant, failed.graph) == ("onnx-int8", "model.int8.vnni.onnx") and failed.drift > 0.05
    finally:
        checked.classifier.close()


def outcome(variant: str, graph: str, passed: bool) -> CheckOutcome:
    return CheckOutcome(
        variant=variant, passed=passed, excess=0.0 if passed else 0.1, tolerance=0.02, agreed=4,
        agreed_at_bake=4, sentences=4, drift=0.0 if passed else 0.1, seconds=0.01, cpu=cpu_features(),
        graph=graph,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("failed", "serving", "events"),
    [
        # the int8-weight copy failed, int8 serves from its portable copy: no alert, one line
        (
            [("onnx-int8", "model.int8.vnni.onnx")],
            ("onnx-int8", "model.int8.onnx"),
            [("graph_check_failed", "onnx-int8")],
        ),
        # both copies failed, fp32 serves: one line for the variant, the alert's
        (
            [("onnx-int8", "model.int8.vnni.onnx"), ("onnx-int8", "model.int8.onnx")],
            ("onnx-fp32", "model.onnx"),
            [("variant_check_failed", "onnx-int8")],
        ),
    ],
    ids=["copy", "variant"],
)
def test_a_copy_passed_over_is_not_a_variant_passed_over(caplog, failed, serving, events) -> None:
    """The on-call alert counts `variant_check_failed` (a slower variant serves); a copy of
    the serving variant's graph passed over is its own event, one per copy."""
    from function.startup.service import _log_passed_over

    with caplog.at_level("WARNING", logger="function.service"):
        _log_passed_over([outcome(v, g, False) for v, g in failed], outcome(*serving, True), cpu={})
    lines = [r.json_fields for r in caplog.records if r.name == "function.service"]
    assert [(line["event"], line["variant"]) for line in lines] == events
    if events[0][0] == "variant_check_failed":
        assert lines[0]["graphs"] == [g for _, g in failed] and lines[0]["fallback"] == serving[0]
    else:
        assert lines[0]["graph"] == failed[0][1] and lines[0]["fallback_graph"] == serving[1]
