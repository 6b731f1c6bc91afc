"""infra/release/lambda.sh, the release steps of cloudbuild-lambda.yaml, run as the pipeline
runs them, in order. AWS cannot be reached from here: a stand-in `aws` command
(tests/support/fake_aws.py) records every call for the order and arguments, and routes the
smoke test's signed invokes to the function's real handler (the Lambda invoke stand-in,
serving the session's baked model)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support import fake_aws
from tests.support.keys import KEY_A
from tests.support.servers import ROOT

SCRIPT = ROOT / "infra" / "release" / "lambda.sh"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/clinical-assertion:abc1234"
PREVIOUS_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/clinical-assertion:0ld0001"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clinical-assertion-api-keys-AbCdEf"


class Release:
    def __init__(self, tmp_path: Path, lambda_url: str, secret: str) -> None:
        self.log = tmp_path / "aws-calls.jsonl"
        self.alarms = tmp_path / "alarms"
        self.alarms.write_text("")
        self.version_metrics = tmp_path / "version-metrics"
        self.version_metrics.write_text("None None")
        bin_dir = tmp_path / "bin"
        fake_aws.install(bin_dir)
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "FUNCTION": "clinical-assertion",
            "AWS_REGION": "eu-west-1",
            "STATE_DIR": str(tmp_path / "state"),
            "API_KEY_SECRET_ARN": SECRET_ARN,
            "POLL_SECONDS": "1",
            "FAKE_AWS_LOG": str(self.log),
            "FAKE_AWS_ALARMS": str(self.alarms),
            "FAKE_AWS_VERSION_METRICS": str(self.version_metrics),
            "FAKE_AWS_PREVIOUS_IMAGE": PREVIOUS_IMAGE,
            "FAKE_AWS_LAMBDA_URL": lambda_url,
            "FAKE_AWS_SECRET": secret,
        }

    def step(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def operations(self) -> list[str]:
        return [" ".join(call[:3] if call[1] == "wait" else call[:2]) for call in self.calls()]


@pytest.fixture
def release(tmp_path: Path, deployments) -> Release:
    """The `secured` deployment's Lambda handler (API keys KEY_A, KEY_B) answers the invokes;
    the secret holds a blank entry, then KEY_A."""
    return Release(tmp_path, deployments["secured"].lam.url, f" , {KEY_A}\n")


def option(call: list[str], name: str) -> str:
    return call[call.index(name) + 1]


def in_order(operations: list[str], expected: list[str]) -> bool:
    """`expected` appears in `operations` in this order (other calls may come between)."""
    remaining = iter(operations)
    return all(any(op == wanted for op in remaining) for wanted in expected)


def test_a_release_publishes_smokes_shifts_watches_and_promotes_in_order(release: Release) -> None:
    for args in (("publish", IMAGE), ("smoke",), ("canary", "10"), ("watch", "2"), ("promote",)):
        result = release.step(*args)
        assert result.returncode == 0, f"{args}: {result.stderr}"
    operations = release.operations()
    assert operations[:5] == [
        "lambda get-alias",  # the version live points at, recorded to roll back to
        "lambda update-function-code",
        "lambda wait function-updated-v2",
        "lambda publish-version",
        "lambda wait published-version-active",
    ]
    assert in_order(
        operations,
        [
            "secretsmanager get-secret-value",
            "lambda invoke",
            "lambda invoke",  # smoke
            "cloudwatch describe-alarms",
            "lambda update-alias",  # alarms already firing, then the shift
            "cloudwatch describe-alarms",
            "cloudwatch get-metric-statistics",  # the watch
            "lambda update-alias",  # promote
        ],
    ), operations
    assert operations[-1] == "lambda update-alias"
    calls = release.calls()
    update = next(c for c in calls if c[1] == "update-function-code")
    assert (
        option(update, "--image-uri") == IMAGE and option(update, "--function-name") == "clinical-assertion"
    )
    invokes = [c for c in calls if c[1] == "invoke"]
    assert all(option(c, "--qualifier") == "8" for c in invokes), "the smoke test calls the new version only"
    shifts = [c for c in calls if c[1] == "update-alias"]
    assert len(shifts) == 2
    canary, promote = shifts
    assert option(canary, "--name") == "live" and option(canary, "--function-version") == "7"
    assert option(canary, "--routing-config") == "AdditionalVersionWeights={8=0.1}"
    assert option(promote, "--function-version") == "8"
    assert option(promote, "--routing-config") == "AdditionalVersionWeights={}"
    watched = [c for c in calls if c[1] == "describe-alarms"]
    assert all(option(c, "--alarm-name-prefix") == "clinical-assertion-" for c in watched)
    metrics = [c for c in calls if c[1] == "get-metric-statistics"]
    assert {option(c, "--metric-name") for c in metrics} == {"Errors", "Invocations"}
    assert all("Name=ExecutedVersion,Value=8" in c for c in metrics), (
        "the new version's own errors are watched"
    )


def test_the_smoke_test_reaches_the_function_and_keeps_the_key_out_of_its_output(release: Release) -> None:
    assert release.step("publish", IMAGE).returncode == 0
    result = release.step("smoke")
    assert result.returncode == 0, result.stderr
    assert "GET /health: 200" in result.stderr and "POST /predict: 200" in result.stderr
    assert KEY_A not in result.stdout + result.stderr


def test_a_failed_smoke_test_moves_no_traffic(release: Release) -> None:
    release.env["FAKE_AWS_SECRET"] = "not-the-right-key-000000000"
    assert release.step("publish", IMAGE).returncode == 0
    result = release.step("smoke")
    assert result.returncode != 0 and "answered 401" in result.stderr
    assert "not-the-right-key-000000000" not in result.stdout + result.stderr
    assert "lambda update-alias" not in release.operations()


def test_a_new_alarm_during_the_canary_rolls_back_and_fails(release: Release) -> None:
    release.alarms.write_text("clinical-assertion-cold-start\n")  # firing before the release
    for args in (("publish", IMAGE), ("canary", "25")):
        assert release.step(*args).returncode == 0
    watcher = subprocess.Popen(
        ["bash", str(SCRIPT), "watch", "60"], env=release.env, stderr=subprocess.PIPE, text=True
    )
    try:
        # The alarm that was already firing does not stop the canary; a new one does.
        time.sleep(3)
        assert watcher.poll() is None, watcher.stderr.read() if watcher.stderr else ""
        release.alarms.write_text("clinical-assertion-cold-start\nclinical-assertion-errors\n")
        _, stderr = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode != 0
    assert "clinical-assertion-errors" in stderr and "rolled back" in stderr
    assert_rolled_back(release, weight="0.25")


def assert_rolled_back(release: Release, weight: str) -> None:
    """live back on version 7 with no weights, then $LATEST back on version 7's image."""
    calls = release.calls()
    shifts = [c for c in calls if c[1] == "update-alias"]
    assert option(shifts[0], "--routing-config") == f"AdditionalVersionWeights={{8={weight}}}"
    assert option(shifts[-1], "--function-version") == "7"
    assert option(shifts[-1], "--routing-config") == "AdditionalVersionWeights={}"
    after = calls[calls.index(shifts[-1]) :]
    assert [c[1] for c in after[1:3]] == ["get-function", "update-function-code"]
    assert option(after[1], "--qualifier") == "7" and option(after[2], "--image-uri") == PREVIOUS_IMAGE


@pytest.mark.parametrize(
    ("fault", "phrase"),
    [
        # The alias-wide alarm would not fire at a 10 % share; the version's own errors do.
        ("version-errors", "failed 3 of 20 invocations"),
        # Alarms that cannot be read are never taken for "no alarm".
        ("alarms-unreadable", "cannot be read"),
    ],
)
def test_a_canary_that_cannot_be_trusted_is_rolled_back(release: Release, fault: str, phrase: str) -> None:
    for args in (("publish", IMAGE), ("canary", "10")):
        assert release.step(*args).returncode == 0
    if fault == "version-errors":
        release.version_metrics.write_text("3 20")
    else:
        release.alarms.write_text("DENIED")
    result = release.step("watch", "60")
    assert result.returncode != 0 and phrase in result.stderr
    assert_rolled_back(release, weight="0.1")


def test_the_smoke_test_finds_the_key_secret_in_the_version_configuration(release: Release) -> None:
    del release.env["API_KEY_SECRET_ARN"]
    release.env["FAKE_AWS_CONFIGURED_SECRET"] = SECRET_ARN
    assert release.step("publish", IMAGE).returncode == 0
    result = release.step("smoke")
    assert result.returncode == 0, result.stderr
    config = next(c for c in release.calls() if c[1] == "get-function-configuration")
    assert option(config, "--qualifier") == "8"
    secret = next(c for c in release.calls() if c[1] == "get-secret-value")
    assert option(secret, "--secret-id") == SECRET_ARN


@pytest.mark.parametrize("percent", ["0", "100", "ten"])
def test_a_canary_share_outside_0_to_100_is_refused(release: Release, percent: str) -> None:
    assert release.step("publish", IMAGE).returncode == 0
    assert release.step("canary", percent).returncode != 0
    assert "lambda update-alias" not in release.operations()


# --- cloudbuild-lambda.yaml runs these steps, in this order, without a long-lived key --------


def lambda_config() -> dict:
    return yaml.safe_load((ROOT / "cloudbuild-lambda.yaml").read_text())


def test_the_pipeline_runs_the_release_steps_in_order() -> None:
    steps = {step["id"]: step for step in lambda_config()["steps"]}
    subcommands = {}
    for step_id, step in steps.items():
        text = " ".join(str(a) for a in step.get("args", []))
        if "infra/release/lambda.sh" in text:
            subcommands[step_id] = text.split("infra/release/lambda.sh", 1)[1].split()[0]
    assert list(subcommands.values()) == ["publish", "smoke", "canary", "watch", "promote"], subcommands


def test_the_pipeline_holds_no_aws_key_and_assumes_the_role_by_web_identity() -> None:
    text = (ROOT / "cloudbuild-lambda.yaml").read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    config = lambda_config()
    for step in config["steps"]:
        joined = " ".join(str(a) for a in step.get("args", []))
        if "lambda.sh" in joined or "ecr get-login-password" in joined:
            env = dict(e.split("=", 1) for e in step.get("env", []))
            assert env.get("AWS_ROLE_ARN") == "${_AWS_ROLE_ARN}", step["id"]
            assert env.get("AWS_DEFAULT_REGION") == "${_AWS_REGION}", step["id"]  # CLI v1 reads no AWS_REGION
            assert env.get("AWS_WEB_IDENTITY_TOKEN_FILE", "").startswith("/workspace/"), step["id"]
