"""The item contract: what one thing to classify is, on every transport.

An item comes in one of two forms:

- the sentence form, ``{"sentence": "... [entity] X [entity] ..."}``: the caller marked the
  concept; one model input;
- the span form, ``{"text": "...", "entities": [{"start": s, "end": e}, ...]}``: the caller
  has concept offsets (an NER step's output); the service writes the markers, one model
  input per entity, and answers each with its offsets.

Event messages add an ``id`` to each item. The HTTP surface declares the same fields in its
request schemas (for OpenAPI; a test holds them to these names), the message processor parses
them from JSON with `parse_item`, and every adapter prepares and answers them with `prepare`
and `answer`: one definition, whatever the transport. Offsets count Unicode code points,
``end`` exclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from function.core.errors import InputError

if TYPE_CHECKING:
    from function.core.classifier import AssertionClassifier, Prediction, Prepared

ID, SENTENCE, TEXT, ENTITIES = "id", "sentence", "text", "entities"
ITEM_FIELDS = frozenset({ID, SENTENCE, TEXT, ENTITIES})
SPAN_FIELDS = ("start", "end")
MAX_ID_CHARS = 256


@dataclass(frozen=True)
class SentenceItem:
    sentence: str


@dataclass(frozen=True)
class SpansItem:
    text: str
    spans: tuple[tuple[int, int], ...]


Item = SentenceItem | SpansItem


def check_count(field: str, count: int, most: int) -> None:
    """A request's list of items (or entities) holds 1 to `most` of them (MAX_BATCH_SIZE)."""
    if not count:
        raise InputError("empty_batch", f"{field} is empty")
    if count > most:
        raise InputError(
            "too_many_items", f"{field} has {count} items; at most {most} per request (MAX_BATCH_SIZE)"
        )


def prepare(
    classifier: AssertionClassifier, item: Item, where: str, *, allow_unmarked: bool = False
) -> Prepared:
    """Validate and tokenize one item. `where` names, in errors, its sentence (``sentence``,
    ``items[2].sentence``) or its entities list (``entities``, ``items[2].entities``)."""
    if isinstance(item, SentenceItem):
        return classifier.prepare_sentences([item.sentence], where=[where], allow_unmarked=allow_unmarked)
    return classifier.prepare_spans(item.text, item.spans, field=where)


def answer(item: Item, predictions: Sequence[Prediction]) -> list[dict[str, object]]:
    """The wire form of an item's predictions: span-form answers carry their offsets."""
    entries = [prediction.as_dict() for prediction in predictions]
    if isinstance(item, SentenceItem):
        return entries
    return [{"start": s, "end": e, **entry} for (s, e), entry in zip(item.spans, entries, strict=True)]


def parse_item(entry: Any, where: str, default_id: str) -> tuple[str, Item]:
    """One item of an event message, from its JSON: its id and its form. Shapes that JSON
    allows and the contract does not are `wrong_shape`; field names the caller invented are
    not repeated (they are caller input)."""
    if not isinstance(entry, dict):
        raise InputError("wrong_shape", f"{where} must be a JSON object")
    if set(entry) - ITEM_FIELDS:
        raise InputError(
            "wrong_shape", f"{where} has an unknown field (allowed: {', '.join(sorted(ITEM_FIELDS))})"
        )
    item_id = entry.get(ID, default_id)
    if not isinstance(item_id, str) or not item_id or len(item_id) > MAX_ID_CHARS:
        raise InputError("wrong_shape", f"{where}.id must be a string of 1 to {MAX_ID_CHARS} characters")
    if SENTENCE in entry:
        if TEXT in entry or ENTITIES in entry:
            raise InputError("wrong_shape", f"{where} has both a sentence and a text: send one form")
        if not isinstance(entry[SENTENCE], str):
            raise InputError("wrong_shape", f"{where}.sentence must be a string")
        return item_id, SentenceItem(entry[SENTENCE])
    text, entities = entry.get(TEXT), entry.get(ENTITIES)
    if not isinstance(text, str) or not isinstance(entities, list):
        raise InputError(
            "wrong_shape", f"{where} needs a 'sentence' string, or a 'text' string and an 'entities' list"
        )
    if not entities:
        raise InputError("empty_batch", f"{where}.entities is empty")
    spans = tuple(_span(f"{where}.entities[{n}]", entity) for n, entity in enumerate(entities))
    return item_id, SpansItem(text, spans)


def _span(where: str, entity: Any) -> tuple[int, int]:
    if not isinstance(entity, dict) or set(entity) != set(SPAN_FIELDS):
        raise InputError("wrong_shape", f"{where} must be an object with 'start' and 'end' only")
    start, end = entity["start"], entity["end"]
    if type(start) is not int or type(end) is not int:  # not bools, not floats
        raise InputError("wrong_shape", f"{where}.start and .end must be integers")
    return start, end
