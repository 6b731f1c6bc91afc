"""The rules the API enforces, published in its OpenAPI document as JSON Schema where JSON
Schema can say them: a marked sentence's two markers (unless ALLOW_UNMARKED), non-blank
texts, the item counts of this deployment (MAX_BATCH_SIZE), non-negative offsets, the shape
of FHIR references. Generated clients and fuzzers then produce valid requests, and the valid
paths get exercised. What JSON Schema cannot say (a span inside its text, start < end, a
concept that fits the model's window, no markers in a span-form text) stays in the
descriptions and in the 422 codes of docs/api.md.

The document describes; the route code enforces (with its stable error codes). A test holds
the two together: every example the schema gives is accepted, and schemathesis' positive
data is accepted where JSON Schema can express the rules (tests/test_fuzz.py).
"""

from __future__ import annotations

from typing import Any

from function.core.items import DOCUMENT_REFERENCE, MAX_ID_CHARS, MAX_REFERENCE_CHARS, SUBJECT_REFERENCE

# Two [entity] markers with something other than white space between them. No look-arounds:
# fuzzers build strings from the pattern (hypothesis' from_regex).
MARKED_SENTENCE = r"^[\s\S]*\[entity\][\s\S]*\S[\s\S]*\[entity\][\s\S]*$"
NOT_BLANK = r"\S"  # JSON Schema patterns search: some character that is not white space
CROSS_FIELD = (
    " Also enforced, beyond what JSON Schema can say: 0 <= start < end <= the text's length in "
    "offset_unit, at least one non-blank character in the span, no [entity] markers in the text, "
    "and a concept short enough for the model's 512-token window."
)


def publish_rules(openapi: dict[str, Any], *, max_items: int, allow_unmarked: bool) -> dict[str, Any]:
    """Add the enforced rules to the generated document (in place; returned for chaining)."""
    schemas = openapi.get("components", {}).get("schemas", {})

    def prop(model: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = schemas[model]["properties"][name]
        return found

    sentence_rule = {"minLength": 1, "pattern": NOT_BLANK if allow_unmarked else MARKED_SENTENCE}
    prop("PredictRequest", "sentence").update(sentence_rule)
    prop("BatchRequest", "sentences").update({"minItems": 1, "maxItems": max_items})
    prop("BatchRequest", "sentences")["items"].update(sentence_rule)
    prop("SpansRequest", "text").update({"minLength": 1, "pattern": NOT_BLANK})
    prop("SpansRequest", "entities").update({"minItems": 1, "maxItems": max_items})
    for model in ("Span", "EntityIn"):
        for name in ("start", "end"):
            prop(model, name)["minimum"] = 0
    for model in ("SpansRequest", "EntitiesRequest"):
        schemas[model]["description"] = (schemas[model].get("description") or "") + CROSS_FIELD
    _nullable(prop("EntitiesRequest", "text")).update({"minLength": 1, "pattern": NOT_BLANK})
    _nullable(prop("EntitiesRequest", "entities")).update({"minItems": 1, "maxItems": max_items})
    _nullable(prop("EntitiesRequest", "id")).update({"minLength": 1, "maxLength": MAX_ID_CHARS})
    _nullable(prop("FhirRefsIn", "subject")).update(
        {"pattern": SUBJECT_REFERENCE, "maxLength": MAX_REFERENCE_CHARS}
    )
    _nullable(prop("FhirRefsIn", "document")).update(
        {"pattern": DOCUMENT_REFERENCE, "maxLength": MAX_REFERENCE_CHARS}
    )
    return openapi


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field (pydantic writes ``anyOf: [X, null]``)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") != "null":
            found: dict[str, Any] = branch
            return found
    return schema
