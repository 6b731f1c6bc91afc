"""cloudbuild.yaml and cloudbuild-lambda.yaml: parsed by gcloud's own Cloud Build loader,
steps in the order that keeps traffic safe, every substitution declared, no secret value."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.servers import ROOT

VALIDATOR = ROOT.parent / "shared" / "tools" / "cloudbuild-validate" / "validate.sh"
CONFIGS = ("cloudbuild.yaml", "cloudbuild-lambda.yaml")
BUILT_INS = {
    "PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "COMMIT_SHA", "SHORT_SHA", "REVISION_ID",
    "REPO_NAME", "REPO_FULL_NAME", "BRANCH_NAME", "TAG_NAME", "TRIGGER_NAME", "SERVICE_ACCOUNT_EMAIL",
}  # fmt: skip


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", CONFIGS)
def test_gcloud_loads_it(name: str) -> None:
    if shutil.which("gcloud") is None or not VALIDATOR.is_file():
        pytest.skip("gcloud or ../shared/tools/cloudbuild-validate is absent")
    result = subprocess.run(["bash", str(VALIDATOR), str(ROOT / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def order(config: dict) -> list[str]:
    """Step ids in an order that respects every waitFor."""
    steps = {step["id"]: step for step in config["steps"]}
    done: list[str] = []
    earlier: list[str] = []
    for step_id, step in steps.items():  # Cloud Build: no waitFor means after every earlier step
        step.setdefault("waitFor", earlier[:] or ["-"])
        earlier.append(step_id)
    while len(done) < len(steps):
        ready = [
            s for s in steps if s not in done and all(w == "-" or w in done for w in steps[s]["waitFor"])
        ]
        assert ready, "waitFor has a cycle"
        done.append(ready[0])
    return done


def before(config: dict, first: str, then: str) -> bool:
    """`then` cannot start until `first` finished (directly or through its dependencies)."""
    steps = {step["id"]: step for step in config["steps"]}
    seen, stack = set(), list(steps[then].get("waitFor", []))
    while stack:
        current = stack.pop()
        if current == first:
            return True
        if current in steps and current not in seen:
            seen.add(current)
            stack.extend(steps[current].get("waitFor", []))
    return False


def test_traffic_moves_only_after_test_build_push_deploy_and_smoke() -> None:
    config = load("cloudbuild.yaml")
    order(config)
    chain = ["test", "build", "push", "record-traffic", "deploy-candidate", "smoke-candidate", "canary",
             "canary-check", "promote", "deploy-events"]  # fmt: skip
    for first, then in itertools.pairwise(chain):
        assert before(config, first, then), f"{then} can start before {first} finished"
    deploy = next(s for s in config["steps"] if s["id"] == "deploy-candidate")["args"]
    assert "--no-traffic" in deploy and any(a.startswith("--tag=candidate-") for a in deploy)
    canary = next(s for s in config["steps"] if s["id"] == "canary")["args"]
    assert any(a.endswith("=${_CANARY_PERCENT}") for a in canary)
    promote = next(s for s in config["steps"] if s["id"] == "promote")["args"]
    assert "--to-latest" in promote  # Terraform leaves traffic alone; this keeps "latest, 100 %"
    check = next(s for s in config["steps"] if s["id"] == "canary-check")["args"][-1]
    assert "update-traffic" in check and "traffic-before" in check  # a failed canary puts traffic back
    build = next(s for s in config["steps"] if s["id"] == "build")["args"]
    assert "--cache-from=${_IMAGE}:latest" in build and "--tag=${_IMAGE}:${SHORT_SHA}" in build


def test_the_lambda_config_builds_the_lambda_target() -> None:
    config = load("cloudbuild-lambda.yaml")
    order(config)
    build = next(s for s in config["steps"] if s["id"] == "build")["args"]
    assert "--target=lambda" in build
    assert before(config, "test", "build") and before(config, "build", "push")


@pytest.mark.parametrize("name", CONFIGS)
def test_settings_every_pipeline_needs(name: str) -> None:
    config = load(name)
    assert config["serviceAccount"].startswith("projects/${PROJECT_ID}/serviceAccounts/")
    assert (
        "compute@developer" not in config["serviceAccount"]
        and "cloudbuild.gserviceaccount" not in config["serviceAccount"]
    )
    assert config["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    for required in ("_REGION", "_REPOSITORY", "_MODEL_REVISION"):
        assert config["substitutions"][required]
    assert re.fullmatch(r"[0-9a-f]{40}", config["substitutions"]["_MODEL_REVISION"])
    if name == "cloudbuild.yaml":
        assert {"_SERVICE", "_CANARY_PERCENT"} <= set(config["substitutions"])


@pytest.mark.parametrize("name", CONFIGS)
def test_every_substitution_is_declared_or_built_in(name: str) -> None:
    text = (ROOT / name).read_text()
    config = yaml.safe_load(text)
    declared = set(config.get("substitutions", {}))
    secrets = {entry["env"] for entry in config.get("availableSecrets", {}).get("secretManager", [])}
    for match in re.finditer(r"(\$+)\{?([A-Za-z_][A-Za-z0-9_]*)", text):
        dollars, variable = match.groups()
        if len(dollars) % 2 == 0:  # $$name: escaped, reaches the shell as $name
            continue
        assert variable in declared | BUILT_INS, f"${variable} is neither declared nor built in"
    for variable in secrets:
        assert f"$${variable}" in text and f" ${variable}" not in text  # secrets only through secretEnv


@pytest.mark.parametrize("name", CONFIGS)
def test_no_secret_value_is_written_in_it(name: str) -> None:
    text = (ROOT / name).read_text()
    for pattern in (r"AKIA[0-9A-Z]{16}", r"-----BEGIN [A-Z ]*PRIVATE KEY-----", r"ya29\.[\w-]+", r"AIza[\w-]{35}",
                    r"(?i)(password|api[_-]?key|token)\s*[:=]\s*['\"]?[A-Za-z0-9/+_-]{16,}"):  # fmt: skip
        assert not re.search(pattern, text), pattern
    config = yaml.safe_load(text)
    for entry in config.get("availableSecrets", {}).get("secretManager", []):
        assert entry["versionName"].startswith("projects/${PROJECT_ID}/secrets/")
