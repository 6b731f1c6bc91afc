"""The item contract: what one thing to classify is, on every transport.

An item comes in one of two forms:

- the sentence form, ``{"sentence": "... [entity] X [entity] ..."}``: the caller marked the
  concept; one model input;
- the span form, ``{"text": "...", "entities": [{"start": s, "end": e}, ...]}``: the caller
  has concept offsets (an NER step's output); the service writes the markers, one model
  input per entity, and answers each with its offsets.

The span form also takes what NER tools produce (`function.core.ner`): an entity may carry a
``label`` and an ``id``, or the item carries a tool's output whole (``comprehend_medical``,
``healthcare_nl``, ``spacy``), with ``entity_types`` to keep some kinds of entity and
``offset_unit`` when the offsets do not count code points. Any item may name ``fhir``
references (``subject``, ``document``) for answers asked for as FHIR (`function.core.fhir`).

Event messages add an ``id`` to each item. The HTTP surface declares the same fields in its
request schemas (for OpenAPI; a test holds them to these names), the message processor parses
them from JSON with `parse_item`, and every adapter prepares and answers them with `prepare`
and `answer`: one definition, whatever the transport. Offsets count Unicode code points unless
``offset_unit`` says otherwise, ``end`` exclusive; answers give them back in the caller's unit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from function.core import ner
from function.core.errors import InputError

if TYPE_CHECKING:
    from function.core.classifier import AssertionClassifier, Prediction, Prepared

ID, SENTENCE, TEXT, ENTITIES, FHIR = "id", "sentence", "text", "entities", "fhir"
NER_FIELDS = frozenset({*ner.TOOLS, ner.ENTITY_TYPES, ner.OFFSET_UNIT})
ITEM_FIELDS = frozenset({ID, SENTENCE, TEXT, ENTITIES, FHIR, *NER_FIELDS})
SPAN_FIELDS = ("start", "end")
MAX_ID_CHARS = 256
MAX_REFERENCE_CHARS = 1024
SUBJECT_TYPES, DOCUMENT_TYPES = ("Patient", "Group"), ("DocumentReference",)


def reference_pattern(types: tuple[str, ...]) -> str:
    """A FHIR reference to one of `types`: ``Type/ID``, an absolute URL ending in it, or
    ``urn:uuid:UUID`` (the OpenAPI document publishes the same patterns)."""
    return (
        r"^(urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
        rf"|([a-z][a-z0-9+.\-]*://[\x21-\x7e]+/)?({'|'.join(types)})/[A-Za-z0-9.\-]{{1,64}})$"
    )


SUBJECT_REFERENCE, DOCUMENT_REFERENCE = reference_pattern(SUBJECT_TYPES), reference_pattern(DOCUMENT_TYPES)


@dataclass(frozen=True)
class FhirRefs:
    """References an answer asked for as FHIR points at (never looked up here)."""

    subject: str | None = None  # Patient/123, Group/7, an absolute URL or urn:uuid
    document: str | None = None  # DocumentReference/abc, an absolute URL or urn:uuid


@dataclass(frozen=True)
class SentenceItem:
    sentence: str
    fhir: FhirRefs = FhirRefs()


@dataclass(frozen=True)
class SpansItem:
    """`spans` count code points into `text`; `sources` say, one per span, where each came from
    (the caller's index, offsets in the caller's unit, the tool's id and label)."""

    text: str
    spans: tuple[tuple[int, int], ...]
    sources: tuple[ner.SourceEntity, ...] = ()
    field: str = ENTITIES  # the list errors name: entities, comprehend_medical.Entities, ...
    fhir: FhirRefs = FhirRefs()
    text_field: str = TEXT

    def __post_init__(self) -> None:
        if not self.sources:  # the plain span form: the caller's offsets are code points
            sources = tuple(ner.SourceEntity(n, s, e) for n, (s, e) in enumerate(self.spans))
            object.__setattr__(self, "sources", sources)

    def mention(self, index: int) -> str:
        start, end = self.spans[index]
        return self.text[start:end]


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
    classifier: AssertionClassifier, item: Item, prefix: str = "", *, allow_unmarked: bool = False
) -> Prepared:
    """Validate and tokenize one item. Errors name its fields under `prefix` (``items[2]``;
    empty for a request body that is the item): ``items[2].sentence``,
    ``items[2].entities[0]``, ``comprehend_medical.Entities[4]``."""
    if isinstance(item, SentenceItem):
        return classifier.prepare_sentences(
            [item.sentence], where=[_join(prefix, SENTENCE)], allow_unmarked=allow_unmarked
        )
    return classifier.prepare_spans(
        item.text,
        item.spans,
        where=[f"{_join(prefix, item.field)}[{source.index}]" for source in item.sources],
        text_where=_join(prefix, item.text_field),
    )


def answer(item: Item, predictions: Sequence[Prediction]) -> list[dict[str, object]]:
    """The wire form of an item's predictions: span-form answers carry their offsets, in the
    caller's unit, and name their source entity."""
    entries = [prediction.as_dict() for prediction in predictions]
    if isinstance(item, SentenceItem):
        return entries
    return [
        {"start": source.start, "end": source.end, "entity": source.as_dict(), **entry}
        for source, entry in zip(item.sources, entries, strict=True)
    ]


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def parse_item(entry: Any, where: str, default_id: str | None) -> tuple[str, Item]:
    """One item, from its JSON: its id and its form. `where` prefixes the names errors give
    (``items[2]``; empty for a request body that is the item). Shapes that JSON allows and the
    contract does not are `wrong_shape`; field names the caller invented are not repeated
    (they are caller input)."""
    here = where or "the item"
    if not isinstance(entry, dict):
        raise InputError("wrong_shape", f"{here} must be a JSON object")
    if set(entry) - ITEM_FIELDS:
        raise InputError(
            "wrong_shape", f"{here} has an unknown field (allowed: {', '.join(sorted(ITEM_FIELDS))})"
        )
    item_id = entry.get(ID, default_id)
    if item_id is not None and (not isinstance(item_id, str) or not item_id or len(item_id) > MAX_ID_CHARS):
        raise InputError(
            "wrong_shape", f"{_join(where, ID)} must be a string of 1 to {MAX_ID_CHARS} characters"
        )
    refs = _fhir_refs(entry.get(FHIR), _join(where, FHIR))
    tools = [tool for tool in ner.TOOLS if tool in entry]
    if SENTENCE in entry:
        if TEXT in entry or ENTITIES in entry or tools or set(entry) & NER_FIELDS:
            raise InputError("wrong_shape", f"{here} has both a sentence and a text: send one form")
        if not isinstance(entry[SENTENCE], str):
            raise InputError("wrong_shape", f"{_join(where, SENTENCE)} must be a string")
        return item_id or "", SentenceItem(entry[SENTENCE], refs)
    if len(tools) > 1 or (tools and ENTITIES in entry):
        raise InputError("wrong_shape", f"{here} holds more than one entity list: send one per item")
    if not tools and not (isinstance(entry.get(TEXT), str) and isinstance(entry.get(ENTITIES), list)):
        raise InputError(
            "wrong_shape",
            f"{here} needs a 'sentence' string, or a 'text' string and an 'entities' list "
            f"(or a tool's output: {', '.join(ner.TOOLS)})",
        )
    if not tools and not entry[ENTITIES]:
        raise InputError("empty_batch", f"{_join(where, ENTITIES)} is empty")
    read = ner.read(entry, where)
    return item_id or "", SpansItem(
        read.text,
        read.spans,
        read.sources,
        _relative(read.field, where),
        refs,
        _relative(read.text_field, where),
    )


def _relative(name: str, prefix: str) -> str:
    return name[len(prefix) + 1 :] if prefix else name


def _fhir_refs(value: Any, where: str) -> FhirRefs:
    if value is None:
        return FhirRefs()
    if not isinstance(value, dict) or set(value) - {"subject", "document"}:
        raise InputError("wrong_shape", f"{where} must be an object with 'subject' and/or 'document'")
    return FhirRefs(
        _reference(value.get("subject"), f"{where}.subject", SUBJECT_TYPES),
        _reference(value.get("document"), f"{where}.document", DOCUMENT_TYPES),
    )


def _reference(value: Any, where: str, types: tuple[str, ...]) -> str | None:
    """A FHIR reference: ``Type/id``, an absolute URL ending in ``Type/id``, or ``urn:uuid:``."""
    if value is None:
        return None
    if (
        isinstance(value, str)
        and len(value) <= MAX_REFERENCE_CHARS
        and re.fullmatch(reference_pattern(types), value)
    ):
        return value
    raise InputError(
        "wrong_shape",
        f"{where} must be a FHIR reference to a {' or '.join(types)} ({types[0]}/ID, an absolute URL "
        "ending in it, or urn:uuid:...)",
    )
