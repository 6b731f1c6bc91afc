"""NER outputs in (Comprehend Medical, Healthcare NL, spaCy, generic spans with any offset
unit) and FHIR R4 out, on every transport: the core's reading of each shape, then HTTP (every
entry point: Functions Framework over real HTTP and the Lambda handler's event shapes),
events (the message processor with a recording sink; Pub/Sub and SQS carry the same bodies
and attributes, see test_pubsub.py and test_sqs.py) and bulk (Beam's DirectRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from function.core import fhir, items
from function.core.classifier import AssertionClassifier
from function.core.errors import InputError
from function.core.messages import Envelope, MessageProcessor
from function.startup.settings import Settings
from tests.support import ner_outputs as shapes
from tests.support.endpoints import Endpoint, canary
from tests.support.fhir_validation import assert_valid, missing
from tests.support.references import Reference
from tests.support.sinks import RecordingSink

NEEDS_VALIDATORS = pytest.mark.skipif(missing() is not None, reason=str(missing()))
EXPECTED_TIES = {
    "generic": [{"index": n, "id": f"e{n}", "label": m[4]} for n, m in enumerate(shapes.MENTIONS)],
    "comprehend_medical": [
        {"index": n, "id": n, "label": m[2], "category": m[1]} for n, m in enumerate(shapes.MENTIONS)
    ],
    "healthcare_nl": [{"index": n, "id": str(n + 1), "label": m[3]} for n, m in enumerate(shapes.MENTIONS)],
    "spacy": [{"index": n, "label": m[4]} for n, m in enumerate(shapes.MENTIONS)],
}
PLANTED: list[str] = []  # canaries sent over HTTP: the last test looks for them in the logs


def marked(text: str, start: int, end: int) -> str:
    return f"{text[:start]}[entity] {text[start:end]} [entity]{text[end:]}"


# --- the core reads each shape ------------------------------------------------------------


@pytest.mark.parametrize("shape", shapes.SHAPES)
def test_each_shape_reads_as_code_point_spans_tied_to_its_source(shape: str) -> None:
    text = shapes.note()
    item_id, item = items.parse_item(shapes.item(shape, text, id="note-1"), "", default_id=None)
    assert item_id == "note-1" and isinstance(item, items.SpansItem)
    assert item.text == text
    assert list(item.spans) == shapes.spans(text)
    assert [item.mention(n) for n in range(len(item.spans))] == [m[0] for m in shapes.MENTIONS]
    assert [source.as_dict() for source in item.sources] == EXPECTED_TIES[shape]


@pytest.mark.parametrize("unit", ["utf16", "utf8"])
def test_offsets_in_other_units_convert_exactly_and_come_back_as_sent(unit: str) -> None:
    text = shapes.note()
    sent = shapes.item("generic", text, unit)
    _, item = items.parse_item(sent, "", default_id=None)
    assert isinstance(item, items.SpansItem)
    assert list(item.spans) == shapes.spans(text), "the same characters, whatever the unit"
    caller = shapes.caller_offsets("generic", text, unit)
    assert caller != shapes.spans(text), "the note's non-ASCII text moves every offset"
    assert [(s.start, s.end) for s in item.sources] == caller


def test_an_offset_inside_a_character_or_outside_the_text_is_refused() -> None:
    text = "😷 denies chest pain"
    with pytest.raises(InputError) as inside:
        items.parse_item(
            {"text": text, "entities": [{"start": 1, "end": 5}], "offset_unit": "utf16"}, "", None
        )
    with pytest.raises(InputError) as outside:
        items.parse_item(
            {"text": text, "entities": [{"start": 4, "end": 99}], "offset_unit": "utf8"}, "", None
        )
    assert (inside.value.code, outside.value.code) == ("offset_inside_character", "span_out_of_range")
    assert inside.value.message.startswith("entities[0]: offset 1 falls inside a character")


def test_a_unit_mix_up_fails_loudly_instead_of_marking_other_words() -> None:
    """Comprehend output whose offsets were counted in UTF-16 (the emoji counts two) sent as
    code points: the entity's own Text no longer matches, and the item is refused."""
    text = shapes.note()
    output = shapes.comprehend_medical(text)
    for entity in output["Entities"]:
        entity["BeginOffset"] = shapes.utf16(text, entity["BeginOffset"])
        entity["EndOffset"] = shapes.utf16(text, entity["EndOffset"])
    with pytest.raises(InputError) as caught:
        items.parse_item({"text": text, "comprehend_medical": output}, "items[3]", None)
    assert caught.value.code == "entity_text_mismatch"
    assert caught.value.message.startswith("items[3].comprehend_medical.Entities[0]:")
    assert "chest" not in caught.value.message and "Zoë" not in caught.value.message
    fixed = items.parse_item({"text": text, "comprehend_medical": output, "offset_unit": "utf16"}, "", None)[
        1
    ]
    assert isinstance(fixed, items.SpansItem) and list(fixed.spans) == shapes.spans(text)


@pytest.mark.parametrize(
    ("shape", "kinds", "kept"),
    [
        ("comprehend_medical", ["MEDICAL_CONDITION"], [0, 1, 2]),
        ("comprehend_medical", ["GENERIC_NAME"], [3]),
        ("healthcare_nl", ["PROBLEM"], [0, 1, 2]),
        ("spacy", ["TREATMENT"], [3]),
        ("generic", ["NOTHING_LIKE_THIS"], []),
    ],
)
def test_entity_types_keep_the_listed_kinds_and_their_source_indices(shape, kinds, kept) -> None:
    _, item = items.parse_item(shapes.item(shape, shapes.note(), entity_types=kinds), "", None)
    assert isinstance(item, items.SpansItem)
    assert [source.index for source in item.sources] == kept
    assert [item.mention(n) for n in range(len(kept))] == [shapes.MENTIONS[k][0] for k in kept]


def test_a_healthcare_nl_mention_at_offset_zero_has_no_begin_offset() -> None:
    text = "Pneumonía ruled out."
    output = {"entityMentions": [{"mentionId": "1", "type": "PROBLEM", "text": {"content": "Pneumonía"}}]}
    _, item = items.parse_item({"text": text, "healthcare_nl": output}, "", None)
    assert isinstance(item, items.SpansItem) and item.spans == ((0, 9),)


@pytest.mark.parametrize(
    ("entry", "code", "where"),
    [
        (
            {"text": "x", "comprehend_medical": {}, "healthcare_nl": {}},
            "wrong_shape",
            "more than one entity list",
        ),
        (
            {"text": "x", "spacy": {"text": "x", "ents": []}},
            "wrong_shape",
            "both a spacy document and a text",
        ),
        (
            {"text": "x", "comprehend_medical": {"Entities": [{"BeginOffset": "0"}]}},
            "wrong_shape",
            "BeginOffset",
        ),
        ({"text": "x", "healthcare_nl": {"entityMentions": [{"text": {}}]}}, "wrong_shape", "content"),
        (
            {"text": "x", "entities": [{"start": 0, "end": 1}], "offset_unit": "bytes"},
            "wrong_shape",
            "offset_unit",
        ),
        (
            {"text": "x", "entities": [{"start": 0, "end": 1}], "entity_types": "PROBLEM"},
            "wrong_shape",
            "entity_types",
        ),
        (
            {"sentence": "[entity] x [entity]", "fhir": {"subject": "Practitioner/1"}},
            "wrong_shape",
            "fhir.subject",
        ),
        (
            {"sentence": "[entity] x [entity]", "fhir": {"document": "Doc ref"}},
            "wrong_shape",
            "fhir.document",
        ),
        ({"sentence": "[entity] x [entity]", "entity_types": ["PROBLEM"]}, "wrong_shape", "both a sentence"),
    ],
)
def test_malformed_ner_items_get_a_code_naming_the_field(entry, code: str, where: str) -> None:
    with pytest.raises(InputError) as caught:
        items.parse_item(entry, "", None)
    assert caught.value.code == code and where in caught.value.message, caught.value.message


def test_fhir_references_accept_relative_absolute_and_uuid_forms() -> None:
    for subject in ("Patient/123", "https://fhir.example.org/r4/Patient/a-1.b", "Group/7"):
        _, item = items.parse_item(
            {"sentence": "[entity] x [entity]", "fhir": {"subject": subject}}, "", None
        )
        assert item.fhir.subject == subject
    document = "urn:uuid:0b7f4c32-8d2e-4b55-9a43-2a4c4f1d7e10"
    _, item = items.parse_item({"sentence": "[entity] x [entity]", "fhir": {"document": document}}, "", None)
    assert item.fhir.document == document


# --- FHIR bundles -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier(baked_model: Path):
    loaded = AssertionClassifier.load(baked_model, backend="onnx", precision="fp32")
    yield loaded
    loaded.close()


def check_bundle(bundle: dict, answered: list[tuple[items.SpansItem, list[dict]]], bundle_type: str) -> None:
    """Valid R4, and each Condition says what the JSON answer says for the same entity."""
    assert_valid(bundle)
    assert bundle["type"] == bundle_type
    resources = [entry["resource"] for entry in bundle["entry"]]
    conditions = [r for r in resources if r["resourceType"] == "Condition"]
    assert len(conditions) == sum(len(predictions) for _, predictions in answered)
    remaining = iter(conditions)
    for item, predictions in answered:
        for n, prediction in enumerate(predictions):
            condition = next(remaining)
            coding = condition["verificationStatus"]["coding"][0]
            assert coding["system"] == fhir.VERIFICATION_SYSTEM
            assert (
                coding["code"]
                == {"PRESENT": "confirmed", "ABSENT": "refuted", "POSSIBLE": "unconfirmed"}[
                    prediction["label"]
                ]
            )
            assert condition["code"] == {"text": item.mention(n)}
            assertion = {
                e["url"]: next(v for k, v in e.items() if k.startswith("value"))
                for e in condition["extension"][0]["extension"]
            }
            assert assertion["label"] == prediction["label"]
            assert assertion["score"] == pytest.approx(prediction["score"], abs=1e-6)
            mention = {
                e["url"]: next(v for k, v in e.items() if k.startswith("value"))
                for e in condition["extension"][1]["extension"]
            }
            assert (mention["start"], mention["end"]) == (prediction["start"], prediction["end"])
            assert mention["entityIndex"] == prediction["entity"]["index"]
    if conditions:
        provenance = next(r for r in resources if r["resourceType"] == "Provenance")
        assert len(provenance["target"]) == len(conditions)
        device = next(r for r in resources if r["resourceType"] == "Device")
        assert device["deviceName"][0]["name"] and device["version"][0]["value"]
    if bundle_type == "transaction":
        assert all(entry["request"]["method"] == "POST" for entry in bundle["entry"])


@NEEDS_VALIDATORS
@pytest.mark.parametrize("bundle_type", ["collection", "transaction"])
def test_a_fhir_bundle_of_every_shape_is_valid_r4(classifier: AssertionClassifier, bundle_type: str) -> None:
    answered, mixed = [], []
    for shape in shapes.SHAPES:
        refs = {"subject": "Patient/p-1", "document": f"DocumentReference/{shape.replace('_', '-')}"}
        item_id, item = items.parse_item(shapes.item(shape, shapes.note(), id=shape, fhir=refs), "", None)
        assert isinstance(item, items.SpansItem)
        predictions = classifier.infer_blocking(items.prepare(classifier, item))
        answered.append(fhir.Answered(item_id, item, predictions))
        mixed.append((item, items.answer(item, predictions)))
    bundle = fhir.bundle(answered, classifier.info, seed="s-1", bundle_type=bundle_type)
    check_bundle(bundle, mixed, bundle_type)
    condition = bundle["entry"][0]["resource"]
    assert condition["subject"] == {"reference": "Patient/p-1"}
    assert condition["evidence"] == [{"detail": [{"reference": "DocumentReference/generic"}]}]
    assert condition["identifier"][0]["value"] == "generic#0"
    provenance = bundle["entry"][-1]["resource"]
    assert {e["what"]["reference"] for e in provenance["entity"]} == {
        f"DocumentReference/{s.replace('_', '-')}" for s in shapes.SHAPES
    }
    assert classifier.info.id in provenance["agent"][0]["who"]["display"]
    again = fhir.bundle(answered, classifier.info, seed="s-1", bundle_type=bundle_type)
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]], "seeded"


@NEEDS_VALIDATORS
def test_without_a_subject_the_condition_says_it_is_unknown(classifier: AssertionClassifier) -> None:
    item = items.SentenceItem("Patient denies [entity] chest pain [entity].")
    predictions = classifier.infer_blocking(items.prepare(classifier, item))
    bundle = fhir.bundle([fhir.Answered("", item, predictions)], classifier.info, seed="x")
    assert_valid(bundle)
    condition = bundle["entry"][0]["resource"]
    assert condition["code"] == {"text": "chest pain"}
    assert condition["subject"]["extension"][0] == {"url": fhir.DATA_ABSENT_REASON, "valueCode": "unknown"}


def test_the_schema_check_can_fail() -> None:
    """The validators catch what a wrong mapping would produce."""
    if missing() is not None:
        pytest.skip(str(missing()))
    from tests.support.fhir_validation import model_errors, profile_errors, schema_errors

    bad = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Condition", "verificationStatus": "refuted"}}],
    }
    assert schema_errors(bad) and model_errors(bad) and profile_errors(bad)
    unknown = {"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "colour": "red"}
    assert profile_errors(unknown) and schema_errors(unknown), "an invented field is refused"


# --- HTTP: every entry point --------------------------------------------------------------


@pytest.mark.parametrize("shape", shapes.SHAPES)
def test_the_entities_route_answers_each_shape(endpoint: Endpoint, reference: Reference, shape: str) -> None:
    name = canary()
    PLANTED.append(name)
    text = shapes.note(name)
    unit = "utf16" if shape == "generic" else "code_point"
    reply = endpoint.post("/predict/entities", shapes.item(shape, text, unit, id="n-7"))
    assert reply.status == 200, reply.content[:500]
    body = reply.json()
    assert body["id"] == "n-7" and body["model"]["id"]
    predictions = body["predictions"]
    assert [(p["start"], p["end"]) for p in predictions] == shapes.caller_offsets(shape, text, unit)
    assert [p["entity"] for p in predictions] == EXPECTED_TIES[shape]
    for (start, end), prediction in zip(shapes.spans(text), predictions, strict=True):
        expected = reference.scores(marked(text, start, end))
        assert prediction["scores"] == pytest.approx(expected, abs=1e-5)


def test_the_entities_route_filters_and_refuses_bad_shapes(endpoint: Endpoint) -> None:
    text = shapes.note(canary())
    reply = endpoint.post(
        "/predict/entities", shapes.item("comprehend_medical", text, entity_types=["MEDICATION"])
    )
    assert reply.status == 200, reply.content[:300]
    assert [p["entity"]["index"] for p in reply.json()["predictions"]] == [3]
    output = shapes.comprehend_medical(text)
    output["Entities"][1]["BeginOffset"] += 1
    reply = endpoint.post("/predict/entities", {"text": text, "comprehend_medical": output})
    assert reply.status == 422 and reply.json()["error"]["code"] == "entity_text_mismatch"
    assert "pneumon" not in reply.json()["error"]["message"]
    reply = endpoint.post("/predict/entities", {"sentence": "[entity] x [entity]"})
    assert reply.status == 422


@NEEDS_VALIDATORS
def test_fhir_is_answered_on_request_by_query_or_accept(endpoint: Endpoint, reference: Reference) -> None:
    name = canary()
    PLANTED.append(name)
    text = shapes.note(name)
    sent = shapes.item("healthcare_nl", text, fhir={"subject": "Patient/p-9"})
    plain = endpoint.post("/predict/entities", sent).json()
    _, item = items.parse_item(sent, "", None)
    assert isinstance(item, items.SpansItem)
    by_query = endpoint.request(
        "POST", "/predict/entities", json=sent, query="format=fhir&bundle_type=transaction"
    )
    by_accept = endpoint.post("/predict/entities", sent, headers={"Accept": "application/fhir+json"})
    for reply, bundle_type in ((by_query, "transaction"), (by_accept, "collection")):
        assert reply.status == 200, reply.content[:500]
        assert reply.headers["content-type"].startswith("application/fhir+json")
        check_bundle(reply.json(), [(item, plain["predictions"])], bundle_type)
    spans = endpoint.request(
        "POST",
        "/predict/spans",
        json={"text": text, "entities": [{"start": s, "end": e} for s, e in shapes.spans(text)]},
        query="format=fhir",
    )
    assert spans.status == 200 and len(spans.json()["entry"]) == len(shapes.MENTIONS) + 2
    one = endpoint.request(
        "POST", "/predict", json={"sentence": marked(text, *shapes.spans(text)[0])}, query="format=fhir"
    )
    assert one.status == 200 and one.json()["entry"][0]["resource"]["code"]["text"] == "chest pain"
    assert_valid(one.json())
    bad = endpoint.request("POST", "/predict/entities", json=sent, query="format=xml")
    assert bad.status == 422 and bad.json()["error"]["code"] == "bad_format"


# --- events -------------------------------------------------------------------------------


@pytest.fixture
def processor_and_sink(classifier: AssertionClassifier) -> tuple[MessageProcessor, RecordingSink]:
    sink = RecordingSink()
    limits = Settings().message_limits()
    return MessageProcessor(lambda: classifier, lambda: sink, source="test", limits=limits), sink


def test_a_message_takes_every_shape_and_answers_like_the_plain_span_form(
    processor_and_sink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    processor, sink = processor_and_sink
    text = shapes.note()
    body = [
        shapes.item(shape, text, "utf8" if shape == "generic" else "code_point", id=shape)
        for shape in shapes.SHAPES
    ]
    body.append(
        {"id": "plain", "text": text, "entities": [{"start": s, "end": e} for s, e in shapes.spans(text)]}
    )
    body.append(shapes.item("healthcare_nl", text, id="filtered", entity_types=["MEDICINE"]))
    outcome = processor.handle(Envelope("m-1", json.dumps(body, ensure_ascii=False).encode(), {}))
    assert outcome.status == "published", sink.errors
    result = json.loads(sink.results[0][0])
    answers = {entry["id"]: entry["predictions"] for entry in result["items"]}
    plain, filtered = answers.pop("plain"), answers.pop("filtered")
    assert [p["entity"] for p in filtered] == [EXPECTED_TIES["healthcare_nl"][3]]
    assert filtered[0]["scores"] == plain[3]["scores"]
    assert caplog.records and not any(word in caplog.text for word in ("Zoë", "pneumonía", "metformin"))
    for shape, predictions in answers.items():
        unit = "utf8" if shape == "generic" else "code_point"
        assert [(p["start"], p["end"]) for p in predictions] == shapes.caller_offsets(shape, text, unit)
        assert [p["entity"] for p in predictions] == EXPECTED_TIES[shape]
        assert [p["scores"] for p in predictions] == [p["scores"] for p in plain], shape


@NEEDS_VALIDATORS
def test_a_message_asking_for_fhir_gets_one_bundle(processor_and_sink) -> None:
    processor, sink = processor_and_sink
    text = shapes.note()
    body = [
        shapes.item(shape, text, id=shape, fhir={"subject": "Patient/1"})
        for shape in ("spacy", "comprehend_medical")
    ]
    data = json.dumps(body, ensure_ascii=False).encode()
    processor.handle(Envelope("m-2", data, {"format": "fhir", "bundle_type": "transaction"}))
    bundle_body, attributes = sink.results[0]
    assert attributes == {"source_message_id": "m-2", "format": "fhir"}
    bundle = json.loads(bundle_body)
    assert_valid(bundle)
    assert bundle["type"] == "transaction"
    values = [e["resource"]["identifier"][0]["value"] for e in bundle["entry"][:8]]
    assert values == [f"{shape}#{n}" for shape in ("spacy", "comprehend_medical") for n in range(4)]
    processor.handle(Envelope("m-3", data, {"format": "hl7v2"}))
    assert sink.errors[0][1]["error_code"] == "bad_format" and sink.errors[0][0] == data, "parked whole"


# --- logs ---------------------------------------------------------------------------------


def test_no_text_of_these_documents_reaches_the_logs(deployments) -> None:
    if len(PLANTED) < 3:
        pytest.skip("checks the texts the HTTP tests above send: run it with the whole module")
    for deployment in deployments.values():
        for process in deployment.processes():
            logs = process.logs()
            for name in PLANTED:
                assert name not in logs, process.log_path.name
            assert "pneumonía" not in logs and "fièvre" not in logs, process.log_path.name
