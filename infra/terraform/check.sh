#!/usr/bin/env bash
# Offline checks of the Terraform in this folder (what `make tf-check` runs):
#   terraform fmt -check, terraform validate, terraform test (module tests and the examples),
#   checkov. Each step needing a missing tool is skipped with a message naming it; any step
#   that runs and fails makes the script fail.
#
# validate and test use the schema-only stand-in for hashicorp/google from
# ../shared/tools/terraform-offline (relative to the project root), because the Terraform
# registry is not reachable from CI. TF_OFFLINE_DIR sets where it is cached (default: its own
# default under $TMPDIR).
set -euo pipefail

tf_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$tf_dir" rev-parse --show-toplevel 2>/dev/null || (cd "$tf_dir/../.." && pwd))
offline_setup="$root/../shared/tools/terraform-offline/setup.sh"

failed=()
skipped=()
step() { printf '\n== %s\n' "$*"; }
skip() {
  printf 'SKIP: %s\n' "$*"
  skipped+=("$*")
}
run() {
  # Runs a check; remembers it if it fails, so that every check still gets its say.
  local name=$1
  shift
  if "$@"; then
    printf 'ok: %s\n' "$name"
  else
    printf 'FAILED: %s\n' "$name"
    failed+=("$name")
  fi
}

cd "$tf_dir"

if command -v terraform >/dev/null 2>&1; then
  step "terraform fmt -check -recursive"
  run "terraform fmt" terraform fmt -check -recursive -diff

  if [ ! -f "$offline_setup" ]; then
    skip "terraform validate and terraform test: the offline google provider tool is missing ($offline_setup)."
  elif ! cli_config=$(bash "$offline_setup" ${TF_OFFLINE_DIR:+"$TF_OFFLINE_DIR"}); then
    skip "terraform validate and terraform test: $offline_setup failed (it needs python3, pip and npm)."
  else
    eval "$cli_config"
    export TF_IN_AUTOMATION=1

    step "terraform validate"
    run "terraform validate" terraform validate -no-color

    step "terraform test (tests/)"
    run "terraform test" terraform test -no-color

    for vars in examples/*.tfvars; do
      step "terraform test -var-file=$vars (examples/tests/)"
      run "example $vars" terraform test -no-color -test-directory=examples/tests -var-file="$vars"
    done
  fi
else
  skip "terraform fmt, validate and test: terraform is not on PATH."
fi

step "checkov --framework terraform"
if command -v checkov >/dev/null 2>&1; then
  # --skip-download: no calls to the Prisma Cloud API (CI has no network for it).
  run "checkov" checkov --directory . --framework terraform --quiet --compact --skip-download
else
  skip "checkov is not on PATH (pip install checkov)."
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  printf 'tf-check failed: %s\n' "${failed[*]}"
  exit 1
fi
if [ ${#skipped[@]} -gt 0 ]; then
  # What ran passed, but not everything ran: never call that "passed".
  printf 'tf-check incomplete: %d step(s) skipped:\n' "${#skipped[@]}"
  printf '  - %s\n' "${skipped[@]}"
  exit 0
fi
echo "tf-check passed: every step ran."
