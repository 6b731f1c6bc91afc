"""The item contract exists once (function.core.items): the HTTP schemas declare its fields,
the message processor parses them with it, and both answer span-form items the same way."""

from __future__ import annotations

import typing

import pytest

from function.api.schemas import (
    EntitiesRequest,
    EntityIn,
    FhirRefsIn,
    Label,
    PredictRequest,
    Span,
    SpansRequest,
)
from function.core import items, ner
from function.core.errors import InputError
from function.core.model_folder import LABELS


def test_the_http_schemas_declare_the_cores_item_fields() -> None:
    assert set(PredictRequest.model_fields) == {items.SENTENCE}
    assert set(SpansRequest.model_fields) == {items.TEXT, items.ENTITIES}
    assert tuple(Span.model_fields) == items.SPAN_FIELDS
    assert set(EntitiesRequest.model_fields) == items.ITEM_FIELDS - {items.SENTENCE}
    assert set(PredictRequest.model_fields) | set(EntitiesRequest.model_fields) == items.ITEM_FIELDS
    assert set(EntityIn.model_fields) == ner.GENERIC_FIELDS
    assert set(FhirRefsIn.model_fields) == {"subject", "document"}
    assert typing.get_args(Label) == LABELS


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("text", "items[0] must be a JSON object"),
        (
            {"sentence": "x", "color": "red"},
            "items[0] has an unknown field (allowed: comprehend_medical, entities, entity_types, fhir, "
            "healthcare_nl, id, offset_unit, sentence, spacy, text)",
        ),
        ({"id": "", "sentence": "x"}, "items[0].id must be a string of 1 to 256 characters"),
        ({"sentence": "x", "text": "y"}, "items[0] has both a sentence and a text: send one form"),
        ({"sentence": 3}, "items[0].sentence must be a string"),
        (
            {"text": "y"},
            "items[0] needs a 'sentence' string, or a 'text' string and an 'entities' list "
            "(or a tool's output: comprehend_medical, healthcare_nl, spacy)",
        ),
        (
            {"text": "y", "entities": [{"start": 0}]},
            "items[0].entities[0] must be an object with 'start' and 'end' (and optionally 'label', 'id')",
        ),
        (
            {"text": "y", "entities": [{"start": True, "end": 1}]},
            "items[0].entities[0].start and .end must be integers",
        ),
    ],
)
def test_a_message_item_of_the_wrong_shape_is_named_without_its_content(entry, message: str) -> None:
    with pytest.raises(InputError) as caught:
        items.parse_item(entry, "items[0]", default_id="m:0")
    assert caught.value.code == "wrong_shape" and caught.value.message == message
    assert "red" not in caught.value.message and "color" not in caught.value.message


def test_both_forms_parse_and_an_item_without_id_gets_the_default() -> None:
    assert items.parse_item({"sentence": "s"}, "items[0]", "m:0") == ("m:0", items.SentenceItem("s"))
    spans = {"id": "n1", "text": "t x", "entities": [{"start": 0, "end": 1}, {"start": 2, "end": 3}]}
    assert items.parse_item(spans, "items[1]", "m:1") == ("n1", items.SpansItem("t x", ((0, 1), (2, 3))))
    with pytest.raises(InputError) as caught:
        items.parse_item({"text": "t", "entities": []}, "items[2]", "m:2")
    assert (caught.value.code, caught.value.message) == ("empty_batch", "items[2].entities is empty")


def test_counts_are_checked_the_same_way_everywhere() -> None:
    items.check_count("sentences", 3, 3)
    with pytest.raises(InputError, match="sentences is empty") as empty:
        items.check_count("sentences", 0, 3)
    with pytest.raises(
        InputError, match=r"entities has 4 items; at most 3 per request \(MAX_BATCH_SIZE\)"
    ) as many:
        items.check_count("entities", 4, 3)
    assert (empty.value.code, many.value.code) == ("empty_batch", "too_many_items")
