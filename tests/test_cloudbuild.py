"""cloudbuild.yaml and cloudbuild-lambda.yaml: parsed by gcloud's own Cloud Build loader,
steps in the order that keeps traffic safe, every substitution declared, no secret value."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

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


def step_text(config: dict, step_id: str) -> str:
    return " ".join(str(a) for a in next(s for s in config["steps"] if s["id"] == step_id)["args"])


def test_traffic_moves_only_after_test_build_push_deploy_and_smoke() -> None:
    config = load("cloudbuild.yaml")
    order(config)
    chain = ["test", "build", "push", "record-traffic", "deploy-candidate", "smoke-candidate", "canary",
             "canary-check", "promote", "deploy-events"]  # fmt: skip
    for first, then in itertools.pairwise(chain):
        assert before(config, first, then), f"{then} can start before {first} finished"
    deploy = step_text(config, "deploy-candidate")
    assert "--no-traffic" in deploy and "--tag=candidate-${SHORT_SHA}" in deploy
    assert "--to-tags=candidate-${SHORT_SHA}=${_CANARY_PERCENT}" in step_text(config, "canary")
    assert "--to-latest" in step_text(
        config, "promote"
    )  # Terraform leaves traffic alone; this keeps "latest, 100 %"
    check = step_text(config, "canary-check")
    assert "update-traffic" in check and "traffic-before" in check  # a failed canary puts traffic back
    build = next(s for s in config["steps"] if s["id"] == "build")["args"]
    assert "--cache-from=${_IMAGE}:latest" in build and "--tag=${_IMAGE}:${SHORT_SHA}" in build


# --- The first run, before Terraform created the services ----------------------------------

FAKE_GCLOUD = """#!/bin/sh
echo "gcloud $*" >> "$CALLS"
if [ "$1 $2 $3" = "run services describe" ]; then
  echo "ERROR: (gcloud.run.services.describe) Cannot find service [clinical-assertion]" >&2
  exit 1
fi
"""


def run_step(config: dict, step_id: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A step's script as Cloud Build would run it: substitutions filled in, $$ unescaped,
    /workspace a temporary folder, a stand-in gcloud (Google's API cannot be reached here)
    that records its calls and answers that the service does not exist."""
    script = next(s for s in config["steps"] if s["id"] == step_id)["args"][-1]
    values = {**config["substitutions"], "SHORT_SHA": "abc1234", "PROJECT_ID": "acme"}
    for _ in range(3):  # substitutions that name other substitutions
        script = re.sub(r"(?<!\$)\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), script)
    script = script.replace("$$", "$").replace("/workspace", str(tmp_path / "workspace"))
    (tmp_path / "workspace").mkdir(exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "gcloud").write_text(FAKE_GCLOUD)
    (bin_dir / "gcloud").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls")}
    return subprocess.run(["bash", "-ceu", script], env=env, capture_output=True, text=True, timeout=60)


def test_the_first_run_pushes_the_image_and_deploys_nothing(tmp_path: Path) -> None:
    config = load("cloudbuild.yaml")
    first = run_step(config, "record-traffic", tmp_path)
    assert first.returncode == 0, first.stderr
    assert "first deployment" in first.stdout and "terraform apply -var image=" in first.stdout
    calls = tmp_path / "calls"
    described = calls.read_text()
    for step_id in (
        "deploy-candidate",
        "smoke-candidate",
        "canary",
        "canary-check",
        "promote",
        "deploy-events",
    ):
        result = run_step(config, step_id, tmp_path)
        assert result.returncode == 0 and "nothing to deploy" in result.stdout, (step_id, result.stderr)
    assert calls.read_text() == described, "no deploy step may call gcloud on the first run"


def test_a_failing_describe_that_is_not_a_missing_service_stops_the_build(tmp_path: Path) -> None:
    config = load("cloudbuild.yaml")
    global FAKE_GCLOUD
    saved, FAKE_GCLOUD = FAKE_GCLOUD, FAKE_GCLOUD.replace("Cannot find service", "PERMISSION_DENIED")
    try:
        result = run_step(config, "record-traffic", tmp_path)
    finally:
        FAKE_GCLOUD = saved
    assert result.returncode != 0 and "PERMISSION_DENIED" in result.stderr
    assert not (tmp_path / "workspace" / "first-deployment").exists()


# --- The build account's roles and the pipelines' steps, held in step ------------------------

# What each kind of command a step runs needs (Google's documented permissions for it).
NEEDS = {
    "docker pull ${_IMAGE}": "roles/artifactregistry.writer",  # reader is part of writer
    "push --all-tags ${_IMAGE}": "roles/artifactregistry.writer",  # docker push to Artifact Registry
    "gcloud run services describe": "roles/run.developer",
    "gcloud run deploy": "roles/run.developer",
    "update-traffic": "roles/run.developer",
    "Authorization: Bearer": "roles/run.invoker",  # a call to the service with an identity token
    "secretEnv": "roles/secretmanager.secretAccessor",
}


def build_roles() -> dict[str, set[str]]:
    """local.build_roles of infra/terraform/google/iam.tf: role -> the step ids it names."""
    text = (ROOT / "infra" / "terraform" / "google" / "iam.tf").read_text()
    block = re.search(r"build_roles = \{(.*?)\n  \}", text, re.S)
    assert block, "local.build_roles not found in iam.tf"
    roles = re.findall(r'"(roles/[\w.]+)"\s*=\s*"([^":]+):', block.group(1))
    return {role: set(steps.replace("every step", "every").split()) for role, steps in roles}


def test_the_build_account_has_a_role_for_each_need_and_a_need_for_each_role() -> None:
    roles = build_roles()
    steps = {s["id"]: s for name in CONFIGS for s in load(name)["steps"]}
    needed: dict[str, set[str]] = {}
    for step_id, step in steps.items():
        text = " ".join(str(a) for a in step.get("args", [])) + (
            " secretEnv" if step.get("secretEnv") else ""
        )
        for command, role in NEEDS.items():
            if command in text:
                needed.setdefault(role, set()).add(step_id)
    needed["roles/logging.logWriter"] = {"every"}  # options.logging: CLOUD_LOGGING_ONLY
    needed["roles/iam.serviceAccountUser"] = needed["roles/run.developer"] & {
        "deploy-candidate",
        "deploy-events",
    }
    assert set(roles) == set(needed), (
        f"roles without a step: {set(roles) - set(needed)}; needs without a role: {set(needed) - set(roles)}"
    )
    for role, step_ids in needed.items():
        assert step_ids <= roles[role] | {"every"}, (
            f"{role} is used by {step_ids - roles[role]}, not named in build_roles"
        )
        assert roles[role] - {"every"} <= set(steps), (
            f"{role} names steps that do not exist: {roles[role] - set(steps)}"
        )
    assert all(load(name)["options"]["logging"] == "CLOUD_LOGGING_ONLY" for name in CONFIGS)


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
