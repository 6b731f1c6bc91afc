"""The checks of both Terraform root modules (infra/terraform/google, infra/terraform/aws) as
tests: fmt, validate, terraform test (each module's tests and each example's tfvars), checkov,
and the promises between the Terraform (alerts and alarms, service names) and docs/runbooks/.

Tools come from the machine: each test skips, naming what is missing, where terraform, the
offline provider stand-ins (../shared/tools/terraform-offline, beside the project; the
registry is unreachable here) or checkov is absent. infra/terraform/check.sh runs the same
steps for `make tf-check`.
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

TF_ROOT = ROOT / "infra" / "terraform"
MODULES = ("google", "aws")
TF_DIR = TF_ROOT / "google"
AWS_DIR = TF_ROOT / "aws"
RUNBOOKS = ROOT / "docs" / "runbooks"
OFFLINE_SETUP = ROOT.parent / "shared" / "tools" / "terraform-offline" / "setup.sh"
EXAMPLES = [
    (module, path) for module in MODULES for path in sorted((TF_ROOT / module / "examples").glob("*.tfvars"))
]
RUNBOOK_PAGES = sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")


def run(args: list[str], env: dict[str, str] | None = None, timeout: int = 900, module: str = "google") -> None:
    result = subprocess.run(
        args, cwd=TF_ROOT / module, env=env, capture_output=True, text=True, timeout=timeout, check=False
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


@pytest.mark.parametrize("module", MODULES)
def test_terraform_fmt(terraform: str, module: str) -> None:
    run([terraform, "fmt", "-check", "-recursive", "-diff"], module=module)


@pytest.mark.parametrize("module", MODULES)
def test_terraform_validate(terraform: str, offline_env: dict[str, str], module: str) -> None:
    run([terraform, "validate", "-no-color"], env=offline_env, module=module)


@pytest.mark.parametrize("module", MODULES)
def test_terraform_test(terraform: str, offline_env: dict[str, str], module: str) -> None:
    run([terraform, "test", "-no-color"], env=offline_env, module=module)


@pytest.mark.parametrize(("module", "tfvars"), EXAMPLES, ids=[f"{m}-{p.name}" for m, p in EXAMPLES])
def test_example_plans(terraform: str, offline_env: dict[str, str], module: str, tfvars: Path) -> None:
    run(
        [terraform, "test", "-no-color", "-test-directory=examples/tests", f"-var-file={tfvars}"],
        env=offline_env,
        module=module,
    )


@pytest.mark.parametrize("module", MODULES)
def test_checkov(module: str) -> None:
    checkov = shutil.which("checkov")
    if checkov is None:
        pytest.skip("checkov is not on PATH (make tools, or pip install checkov)")
    run(
        [checkov, "--directory", ".", "--framework", "terraform", "--quiet", "--compact", "--skip-download"],
        module=module,
    )


def test_checkov_skips_each_carry_a_reason() -> None:
    """A skipped check is a decision: each one says why, in a sentence."""
    for path in TF_ROOT.rglob("*.tf"):
        for match in re.finditer(r"#checkov:skip=([A-Z0-9_]+)(?::(.*))?", path.read_text()):
            assert match.group(2) and len(match.group(2).split()) >= 6, f"{path.name}: {match.group(0)}"


# --- Promises that need no tool ------------------------------------------------------------


def runbooks_in(path: Path) -> set[str]:
    return set(re.findall(r'^\s*runbook\s*=\s*"([a-z0-9-]+)"', path.read_text(), re.M))


def aws_alarms() -> dict[str, str]:
    """Each AWS alarm's key in alarms.tf and its runbook page."""
    text = (AWS_DIR / "alarms.tf").read_text()
    found = dict(re.findall(r'^\s+(\w+) = \{\n\s+description\s+=.*\n\s+runbook\s+= "([a-z0-9-]+)"', text, re.M))
    assert len(found) >= 10, f"alarms.tf: found only {sorted(found)}"
    return found


def test_every_alert_has_a_runbook_page_and_every_page_an_alert() -> None:
    google = runbooks_in(TF_DIR / "monitoring.tf") | runbooks_in(TF_DIR / "slo.tf")
    aws = runbooks_in(AWS_DIR / "alarms.tf")
    assert google, "no runbook names found in google/monitoring.tf"
    assert aws == set(aws_alarms().values())
    assert google | aws == {p.stem for p in RUNBOOK_PAGES}


def test_each_aws_alarm_is_named_on_its_runbook_page() -> None:
    """On-call arrives from an alarm's name (clinical-assertion-<signal>): its page names it."""
    for key, page in aws_alarms().items():
        name = "clinical-assertion-" + key.replace("_", "-")
        assert name in (RUNBOOKS / f"{page}.md").read_text(), f"{page}.md does not name the alarm {name}"


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


@pytest.mark.parametrize("module", MODULES)
def test_readme_tables_list_every_input_and_output(module: str) -> None:
    folder = TF_ROOT / module
    readme = (folder / "README.md").read_text()
    declared = re.findall(r'^(?:variable|output) "(\w+)"', (folder / "variables.tf").read_text(), re.M)
    declared += re.findall(r'^output "(\w+)"', (folder / "outputs.tf").read_text(), re.M)
    missing = [name for name in declared if f"| {name} |" not in readme]
    assert not missing, f"add these to the tables in infra/terraform/{module}/README.md: {missing}"


def test_check_sh_says_incomplete_never_passed_when_a_tool_is_missing(tmp_path: Path) -> None:
    """A user's clone without terraform or checkov: every step skipped is named, and the run
    ends "incomplete"."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "git", "dirname", "basename", "cat"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        ["bash", str(TF_ROOT / "check.sh")],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tf-check incomplete" in result.stdout and "passed" not in result.stdout
    for module in MODULES:
        assert f"SKIP: {module}: terraform fmt, validate and test: terraform is not on PATH" in result.stdout
        assert f"SKIP: {module}: checkov is not on PATH" in result.stdout
