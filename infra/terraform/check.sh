#!/usr/bin/env bash
# Checks of every Terraform root module under infra/terraform (google/, aws/): what
# `make tf-check` runs. Per module: terraform fmt -check, validate, test (the module's tests
# and each example's tfvars), checkov.
#
# Providers for validate and test: where the Terraform registry answers, `terraform init
# -backend=false` fetches the real ones; where it does not (CI here), the schema-only stand-ins
# of ../shared/tools/terraform-offline (beside the project) answer for hashicorp/google and
# hashicorp/aws. With neither, those steps are skipped. A step skipped for a missing tool makes
# the run "incomplete", never "passed"; a step that runs and fails makes it fail.
#
#   bash infra/terraform/check.sh [MODULE...]     # default: every module
#   TF_OFFLINE_DIR=...   where the stand-ins are cached (default: under $TMPDIR)
#   TF_PROVIDERS=registry|offline   force one source of providers
set -euo pipefail

tf_root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$tf_root" rev-parse --show-toplevel 2>/dev/null || (cd "$tf_root/../.." && pwd))
offline_setup="$root/../shared/tools/terraform-offline/setup.sh"
modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
  for dir in "$tf_root"/*/; do [ -f "$dir/versions.tf" ] && modules+=("$(basename "$dir")"); done
fi

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

providers=""
if command -v terraform >/dev/null 2>&1; then
  export TF_IN_AUTOMATION=1
  wanted=${TF_PROVIDERS:-}
  if [ -z "$wanted" ] || [ "$wanted" = registry ]; then
    if command -v curl >/dev/null 2>&1 &&
      curl -fsS --max-time 5 https://registry.terraform.io/.well-known/terraform.json >/dev/null 2>&1; then
      providers=registry
    fi
  fi
  if [ -z "$providers" ] && [ "$wanted" != registry ] && [ -f "$offline_setup" ]; then
    if cli_config=$(bash "$offline_setup" ${TF_OFFLINE_DIR:+"$TF_OFFLINE_DIR"}); then
      eval "$cli_config"
      providers=offline
    else
      echo "$offline_setup failed (it needs python3, pip and npm)"
    fi
  fi
  echo "providers: ${providers:-none (registry unreachable, no offline stand-in at $offline_setup)}"
fi

for module in "${modules[@]}"; do
  dir="$tf_root/$module"
  cd "$dir"
  if command -v terraform >/dev/null 2>&1; then
    step "$module: terraform fmt -check -recursive"
    run "$module: terraform fmt" terraform fmt -check -recursive -diff

    if [ -z "$providers" ]; then
      skip "$module: terraform validate and test: no providers (the registry is unreachable and $offline_setup is missing)."
    else
      if [ "$providers" = registry ]; then
        step "$module: terraform init -backend=false"
        run "$module: terraform init" terraform init -backend=false -input=false -no-color
      fi
      step "$module: terraform validate ($providers providers)"
      run "$module: terraform validate" terraform validate -no-color

      step "$module: terraform test (tests/)"
      run "$module: terraform test" terraform test -no-color

      for vars in examples/*.tfvars; do
        step "$module: terraform test -var-file=$vars (examples/tests/)"
        run "$module: example $vars" terraform test -no-color -test-directory=examples/tests -var-file="$vars"
      done
    fi
  else
    skip "$module: terraform fmt, validate and test: terraform is not on PATH."
  fi

  step "$module: checkov --framework terraform"
  if command -v checkov >/dev/null 2>&1; then
    # --skip-download: no calls to the Prisma Cloud API (CI has no network for it).
    run "$module: checkov" checkov --directory . --framework terraform --quiet --compact --skip-download
  else
    skip "$module: checkov is not on PATH (make tools, or pip install checkov)."
  fi
done

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
echo "tf-check passed: every step ran (modules: ${modules[*]}; $providers providers)."
