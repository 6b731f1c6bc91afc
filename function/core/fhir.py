"""FHIR R4 out: answers as a `Bundle` of `Condition` resources, for callers whose store speaks
FHIR.

One `Condition` per prediction:

- ``verificationStatus`` from the label, in HL7's code system
  ``http://terminology.hl7.org/CodeSystem/condition-ver-status``: PRESENT -> ``confirmed``,
  ABSENT -> ``refuted``, POSSIBLE -> ``unconfirmed``;
- ``code.text`` the mention (the one place the text appears: the caller asked for a clinical
  record);
- ``subject`` the item's ``fhir.subject`` (``Patient/...``); without one, the
  ``data-absent-reason`` extension says it is unknown (``subject`` is required in R4);
- ``evidence.detail`` the item's ``fhir.document`` (``DocumentReference/...``) when named;
- ``identifier`` ties it to the item and the source entity (``ITEM_ID#ENTITY_INDEX``);
- extensions: the assertion (label, score, the three probabilities, low confidence, windowed)
  and the mention (offsets in the caller's unit, the source entity's index, id, label).

Beside them one `Device` (the model: id, revision, variant) and one `Provenance` naming it as
the assembler of every `Condition`, with the source document where one was named. Bundle
type ``collection`` by default, ``transaction`` on request (every entry a POST; the Device
created only if none has its identifier). Full URLs are ``urn:uuid:`` values derived from a
seed, so the same seed and answers give the same Bundle but for ``Provenance.recorded``.

The resources are plain dicts: the serving image carries no FHIR library. The tests validate
every Bundle against the HL7 FHIR R4 JSON schema and the `fhir.resources` models.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from function.core.classifier import ModelInfo, Prediction
from function.core.errors import InputError
from function.core.items import Item, SentenceItem
from function.core.markers import MarkedText, check_sentence

MEDIA_TYPE = "application/fhir+json"
COLLECTION, TRANSACTION = "collection", "transaction"
BUNDLE_TYPES = (COLLECTION, TRANSACTION)
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
VERIFICATION = {
    "PRESENT": ("confirmed", "Confirmed"),
    "ABSENT": ("refuted", "Refuted"),
    "POSSIBLE": ("unconfirmed", "Unconfirmed"),
}
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
# This service's own extensions and identifier systems: URNs, not URLs that resolve nowhere.
BASE = "urn:clinical-assertion:fhir"
ASSERTION_EXTENSION = f"{BASE}:StructureDefinition:assertion"
MENTION_EXTENSION = f"{BASE}:StructureDefinition:mention"
ITEM_SYSTEM = f"{BASE}:item-entity"
MODEL_SYSTEM = f"{BASE}:model"
_NAMESPACE = uuid.UUID("6f0c8f0e-4c53-5d7e-9a55-3b1d0e3f6a21")


@dataclass(frozen=True)
class Answered:
    """One item and its predictions, in order; `item_id` is empty where the transport has none."""

    item_id: str
    item: Item
    predictions: Sequence[Prediction]


def check_bundle_type(value: str | None, where: str) -> str:
    if value is None:
        return COLLECTION
    if value not in BUNDLE_TYPES:
        raise InputError("bad_format", f"{where} must be one of {', '.join(BUNDLE_TYPES)}")
    return value


def bundle(
    answered: Sequence[Answered],
    model: ModelInfo,
    *,
    seed: str,
    bundle_type: str = COLLECTION,
    low_confidence_threshold: float = 0.6,
    recorded: datetime | None = None,
) -> dict[str, Any]:
    """The Bundle of every prediction of `answered`, with the model's Device and Provenance."""
    counter = iter(range(1 << 30))

    def full_url() -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{seed}/{next(counter)}')}"

    conditions: list[tuple[str, dict[str, Any]]] = []
    documents: list[str] = []
    for entry in answered:
        document = entry.item.fhir.document
        if document and document not in documents:
            documents.append(document)
        for index, prediction in enumerate(entry.predictions):
            resource = _condition(entry, index, prediction, low_confidence_threshold)
            conditions.append((full_url(), resource))
    entries = [_entry(url, resource, bundle_type) for url, resource in conditions]
    if conditions:
        device_url = full_url()
        device = _device(model)
        device_entry = _entry(device_url, device, bundle_type)
        if bundle_type == TRANSACTION:
            device_entry["request"]["ifNoneExist"] = (
                f"identifier={MODEL_SYSTEM}|{device['identifier'][0]['value']}"
            )
        provenance = _provenance(
            [url for url, _ in conditions], device_url, model, documents, recorded or datetime.now(UTC)
        )
        entries += [device_entry, _entry(full_url(), provenance, bundle_type)]
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}


def _entry(url: str, resource: dict[str, Any], bundle_type: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"fullUrl": url, "resource": resource}
    if bundle_type == TRANSACTION:
        entry["request"] = {"method": "POST", "url": resource["resourceType"]}
    return entry


def _condition(entry: Answered, index: int, prediction: Prediction, threshold: float) -> dict[str, Any]:
    item = entry.item
    code, display = VERIFICATION[prediction.label]
    assertion = [
        {"url": "label", "valueCode": prediction.label},
        {"url": "score", "valueDecimal": round(prediction.score, 6)},
        *(
            {"url": f"probability-{label}", "valueDecimal": round(p, 6)}
            for label, p in prediction.scores.items()
        ),
        {"url": "lowConfidence", "valueBoolean": prediction.score < threshold},
        {"url": "windowed", "valueBoolean": prediction.windowed},
    ]
    extensions: list[dict[str, Any]] = [{"url": ASSERTION_EXTENSION, "extension": assertion}]
    if isinstance(item, SentenceItem):
        mention = _marked_concept(item.sentence)
        key = str(index)
    else:
        source = item.sources[index]
        mention = item.mention(index)
        key = str(source.index)
        parts: list[dict[str, Any]] = [
            {"url": "start", "valueInteger": source.start},
            {"url": "end", "valueInteger": source.end},
            {"url": "entityIndex", "valueInteger": source.index},
        ]
        if source.id is not None:
            parts.append({"url": "entityId", "valueString": str(source.id)})
        if source.label is not None:
            parts.append({"url": "entityLabel", "valueString": source.label})
        if source.category is not None:
            parts.append({"url": "entityCategory", "valueString": source.category})
        extensions.append({"url": MENTION_EXTENSION, "extension": parts})
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "extension": extensions,
        "identifier": [{"system": ITEM_SYSTEM, "value": f"{entry.item_id}#{key}" if entry.item_id else key}],
        "verificationStatus": {"coding": [{"system": VERIFICATION_SYSTEM, "code": code, "display": display}]},
        "code": {"text": mention},
        "subject": {"reference": item.fhir.subject}
        if item.fhir.subject
        else {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]},
    }
    if item.fhir.document:
        condition["evidence"] = [{"detail": [{"reference": item.fhir.document}]}]
    return condition


def _marked_concept(sentence: str) -> str:
    """The concept between a marked sentence's two markers (an unmarked one: the sentence)."""
    marked: MarkedText = check_sentence(sentence, where="sentence", allow_unmarked=True)
    span = marked.concept_span()
    if span is None:
        return sentence.strip()
    inner = sentence[span[0] : span[1]]
    return inner[inner.index("]") + 1 : inner.rindex("[")].strip()


def _device(model: ModelInfo) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "identifier": [
            {
                "system": MODEL_SYSTEM,
                "value": f"{model.id}@{model.revision}:{model.backend}-{model.precision}",
            }
        ],
        "deviceName": [{"name": model.id, "type": "model-name"}],
        "version": [
            {"type": {"text": "revision"}, "value": model.revision},
            {"type": {"text": "variant"}, "value": f"{model.backend} {model.precision}"},
        ],
    }


def _provenance(
    targets: list[str], device_url: str, model: ModelInfo, documents: list[str], recorded: datetime
) -> dict[str, Any]:
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": url} for url in targets],
        "recorded": recorded.astimezone(UTC).isoformat(timespec="seconds"),
        "activity": {"text": "clinical assertion classification"},
        "agent": [
            {
                "type": {
                    "coding": [{"system": PARTICIPANT_TYPE, "code": "assembler", "display": "Assembler"}]
                },
                "who": {
                    "reference": device_url,
                    "display": f"{model.id}@{model.revision} ({model.backend} {model.precision})",
                },
            }
        ],
    }
    if documents:
        provenance["entity"] = [{"role": "source", "what": {"reference": document}} for document in documents]
    return provenance
