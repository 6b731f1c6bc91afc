"""The checks of infra/terraform as tests: fmt, validate, terraform test (the module's tests and
each example's tfvars), checkov, and the promises between the Terraform (alerts, service names)
and docs/runbooks/.

Tools come from the machine: each test skips, naming what is missing, where terraform, the
offline google provider stand-in (../shared/tools/terraform-offline, beside the project) or
checkov is absent. infra/terraform/check.sh runs the same steps for `make tf-check`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from tests.support.servers import ROOT

TF_DIR = ROOT / "infra" / "terraform"
RUNBOOKS = ROOT / "docs" / "runbooks"
OFFLINE_SETUP = ROOT.parent / "shared" / "tools" / "terraform-offline" / "setup.sh"
EXAMPLES = sorted((TF_DIR / "examples").glob("*.tfvars"))
RUNBOOK_PAGES = sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")


def run(args: list[str], env: dict[str, str] | None = None, timeout: int = 600) -> None:
    result = subprocess.run(
        args, cwd=TF_DIR, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    )


@pytest.fixture(scope="module")
def terraform() -> str:
    path = shutil.which("terraform")
    if path is None:
        pytest.skip("terraform is not on PATH")
    return path


@pytest.fixture(scope="module")
def offline_env(terraform: str) -> dict[str, str]:
    """Environment whose TF_CLI_CONFIG_FILE points terraform at the offline google provider.

    The stand-in is built once (about 15 s) into a temporary folder and reused by every test
    here and by later runs; TF_OFFLINE_DIR chooses another folder.
    """
    if not OFFLINE_SETUP.is_file():
        pytest.skip(f"the offline google provider tool is missing: {OFFLINE_SETUP}")
    cache = os.environ.get("TF_OFFLINE_DIR") or str(Path(tempfile.gettempdir()) / "terraform-offline")
    setup = subprocess.run(
        ["bash", str(OFFLINE_SETUP), cache], capture_output=True, text=True, timeout=900, check=False
    )
    if setup.returncode != 0:
        pytest.skip(f"{OFFLINE_SETUP} failed (it needs python3, pip and npm): {setup.stderr[-500:]}")
    name, _, value = setup.stdout.strip().splitlines()[-1].removeprefix("export ").partition("=")
    return {**os.environ, name: value, "TF_IN_AUTOMATION": "1"}


def test_terraform_fmt(terraform: str) -> None:
    run([terraform, "fmt", "-check", "-recursive", "-diff"])


def test_terraform_validate(terraform: str, offline_env: dict[str, str]) -> None:
    run([terraform, "validate", "-no-color"], env=offline_env)


def test_terraform_test(terraform: str, offline_env: dict[str, str]) -> None:
    run([terraform, "test", "-no-color"], env=offline_env)


@pytest.mark.parametrize("tfvars", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_plans(terraform: str, offline_env: dict[str, str], tfvars: Path) -> None:
    run(
        [terraform, "test", "-no-color", "-test-directory=examples/tests", f"-var-file={tfvars}"],
        env=offline_env,
    )


def test_checkov() -> None:
    checkov = shutil.which("checkov")
    if checkov is None:
        pytest.skip("checkov is not on PATH (pip install checkov)")
    run([checkov, "--directory", ".", "--framework", "terraform", "--quiet", "--compact", "--skip-download"])


# --- Promises that need no tool ------------------------------------------------------------


def alert_runbooks() -> set[str]:
    return set(re.findall(r'^\s*runbook\s*=\s*"([a-z0-9-]+)"', (TF_DIR / "monitoring.tf").read_text(), re.M))


def test_every_alert_has_a_runbook_page_and_every_page_an_alert() -> None:
    assert alert_runbooks(), "no runbook names found in monitoring.tf"
    assert alert_runbooks() == {p.stem for p in RUNBOOK_PAGES}


@pytest.mark.parametrize("page", RUNBOOK_PAGES, ids=[p.name for p in RUNBOOK_PAGES])
def test_runbook_pages_answer_the_three_questions(page: Path) -> None:
    headings = re.findall(r"^## (.+)$", page.read_text(), re.M)
    assert headings[:3] == ["What it means", "How to look", "How to mitigate"], headings


def service_names() -> set[str]:
    """The default names of the two Cloud Run services, read from the Terraform."""
    variables, main = (TF_DIR / "variables.tf").read_text(), (TF_DIR / "main.tf").read_text()
    stem = re.search(r'variable "service_name" \{.*?default\s*=\s*"([^"]+)"', variables, re.S)
    suffix = re.search(r'events_service\s*=\s*"\$\{var\.service_name\}([^"]+)"', main)
    assert stem and suffix, "service_name's default or the events service's name not found"
    return {stem.group(1), stem.group(1) + suffix.group(1)}


def test_runbook_queries_name_the_services_terraform_creates() -> None:
    """Every service_name="..." in a runbook query (shell commands' \"$VAR\" aside) is one of
    the two services, and both are there."""
    named = {
        name
        for page in RUNBOOKS.glob("*.md")
        for value in re.findall(r'service_name=(\([^)]*\)|"[^"]+")', page.read_text().replace('\\"', '"'))
        for name in re.findall(r'"([^"]*)"', value)
        if not name.startswith("$")
    }
    assert named == service_names(), f"runbook queries name {sorted(named)}"


def test_no_primitive_roles_in_any_terraform_file() -> None:
    found = [
        f"{path.relative_to(TF_DIR)}: {match.group(0)}"
        for path in TF_DIR.rglob("*.tf")
        for match in re.finditer(r"roles/(owner|editor|viewer)\b", path.read_text())
    ]
    assert not found


def test_readme_tables_list_every_input_and_output() -> None:
    readme = (TF_DIR / "README.md").read_text()
    declared = re.findall(r'^(?:variable|output) "(\w+)"', (TF_DIR / "variables.tf").read_text(), re.M)
    declared += re.findall(r'^output "(\w+)"', (TF_DIR / "outputs.tf").read_text(), re.M)
    missing = [name for name in declared if f"| {name} |" not in readme]
    assert not missing, f"add these to the tables in infra/terraform/README.md: {missing}"
