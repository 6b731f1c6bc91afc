"""NER outputs in: the entity lists clinical NER tools already produce, read as spans.

Callers run an NER step before us. Instead of writing glue, they send its output as it came:

====================  ========================================================  ==============
item key              the tool's output                                          offsets count
====================  ========================================================  ==============
``comprehend_medical``  Amazon Comprehend Medical ``DetectEntitiesV2`` /          code points
                      ``InferICD10CM`` / ``InferRxNorm`` / ``InferSNOMEDCT``
                      response: ``Entities[].BeginOffset/EndOffset/Text/
                      Category/Type/Id`` (with the request's ``text`` beside it)
``healthcare_nl``     Google Cloud Healthcare NL ``analyzeEntities`` response:  code points
                      ``entityMentions[].text.beginOffset/content``, ``type``,
                      ``mentionId`` (with the request's ``text`` beside it)
``spacy``             spaCy / medspaCy ``Doc.to_json()``: ``text`` and          code points
                      ``ents[].start/end/label``
``entities``          the generic form: ``[{"start", "end", "label"?, "id"?}]``  code points
====================  ========================================================  ==============

Units, from each tool's documentation: Comprehend Medical's offsets are "the UTF-8 code point
in the string" (one per character, however many bytes it takes); Healthcare NL's
``beginOffset`` is "the unicode codepoint index"; spaCy's are Python string indices (code
points). A caller whose offsets count otherwise (JavaScript strings count UTF-16 units; byte
offsets from C or Rust tools count UTF-8 bytes) says so with ``offset_unit`` (``code_point``,
``utf16``, ``utf8``). An offset inside a character is refused, and where the tool gave the
entity's text (Comprehend's ``Text``, Healthcare NL's ``content``) it must equal the text at
the converted offsets: a unit mix-up fails loudly, never marks the wrong words.

``entity_types`` keeps only entities whose category, type or label is listed (for example
``["MEDICAL_CONDITION"]`` or ``["PROBLEM"]``). Each answer names its source entity (its index
in the tool's list, and its id, label and category where the tool gave them) and carries
offsets in the caller's own unit.

This module reads JSON-shaped values only; it never quotes the text in an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from function.core.errors import InputError

COMPREHEND_MEDICAL, HEALTHCARE_NL, SPACY = "comprehend_medical", "healthcare_nl", "spacy"
TOOLS = (COMPREHEND_MEDICAL, HEALTHCARE_NL, SPACY)
ENTITY_TYPES, OFFSET_UNIT = "entity_types", "offset_unit"
CODE_POINT, UTF16, UTF8 = "code_point", "utf16", "utf8"
UNITS = (CODE_POINT, UTF16, UTF8)
MAX_LABEL_CHARS = 256


@dataclass(frozen=True)
class SourceEntity:
    """Where one span came from: its place in the caller's list, the offsets the caller sent
    (in the caller's unit), and what the tool called it."""

    index: int
    start: int
    end: int
    id: str | int | None = None
    label: str | None = None
    category: str | None = None
    tool_text: str | None = None  # the entity's text as the tool gave it (checked, never echoed)

    def kinds(self) -> set[str]:
        return {kind for kind in (self.label, self.category) if kind}

    def as_dict(self) -> dict[str, object]:
        entity: dict[str, object] = {"index": self.index}
        if self.id is not None:
            entity["id"] = self.id
        if self.label is not None:
            entity["label"] = self.label
        if self.category is not None:
            entity["category"] = self.category
        return entity


@dataclass(frozen=True)
class Entities:
    """A tool's entities read: the text, and for each kept entity its source and its span in
    code points. `field` names the list in errors (``comprehend_medical.Entities``)."""

    text: str
    sources: tuple[SourceEntity, ...]
    spans: tuple[tuple[int, int], ...]
    field: str
    unit: str
    text_field: str


# --- units --------------------------------------------------------------------------------


def _unit_lengths(text: str, unit: str) -> list[int]:
    if unit == UTF16:
        return [2 if ord(char) > 0xFFFF else 1 for char in text]
    return [len(char.encode("utf-8", "surrogatepass")) for char in text]


def to_code_points(text: str, offsets: Sequence[int], unit: str, *, where: str) -> list[int]:
    """The code-point indices of offsets counted in `unit`; one outside the text or inside a
    character is refused."""
    if unit == CODE_POINT:
        return list(offsets)
    boundaries: dict[int, int] = {}
    position = 0
    for index, length in enumerate(_unit_lengths(text, unit)):
        boundaries[position] = index
        position += length
    boundaries[position] = len(text)
    converted = []
    for offset in offsets:
        if offset in boundaries:
            converted.append(boundaries[offset])
        elif 0 <= offset < position:
            raise InputError(
                "offset_inside_character",
                f"{where}: offset {offset} falls inside a character when counting {unit} units "
                f"(is offset_unit right?)",
            )
        else:
            raise InputError(
                "span_out_of_range",
                f"{where}: offset {offset} is outside the text ({position} {unit} units long)",
            )
    return converted


# --- reading each tool's output -----------------------------------------------------------


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError("wrong_shape", f"{where} must be a JSON object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InputError("wrong_shape", f"{where} must be a list")
    return value


def _int(value: Any, where: str) -> int:
    if type(value) is not int:  # not bools, not floats
        raise InputError("wrong_shape", f"{where} must be an integer")
    return value


def _proto_int(value: Any, where: str) -> int:
    """Google's JSON writes int32 as a number, int64 as a string, and leaves a zero out."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return 0 if value is None else _int(value, where)


def _name(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_LABEL_CHARS:
        raise InputError("wrong_shape", f"{where} must be a string of at most {MAX_LABEL_CHARS} characters")
    return value


def _id(value: Any, where: str) -> str | int | None:
    if value is None or type(value) is int:
        return value
    return _name(value, where)


def _comprehend(output: Any, where: str) -> list[SourceEntity]:
    entities = _list(_object(output, where).get("Entities"), f"{where}.Entities")
    sources = []
    for index, raw in enumerate(entities):
        name = f"{where}.Entities[{index}]"
        entity = _object(raw, name)
        sources.append(
            SourceEntity(
                index=index,
                start=_int(entity.get("BeginOffset"), f"{name}.BeginOffset"),
                end=_int(entity.get("EndOffset"), f"{name}.EndOffset"),
                id=_id(entity.get("Id"), f"{name}.Id"),
                label=_name(entity.get("Type"), f"{name}.Type"),
                category=_name(entity.get("Category"), f"{name}.Category"),
                tool_text=_name(entity.get("Text"), f"{name}.Text") if "Text" in entity else None,
            )
        )
    return sources


def _healthcare_nl(output: Any, where: str, text: str, unit: str) -> list[SourceEntity]:
    mentions = _list(_object(output, where).get("entityMentions", []), f"{where}.entityMentions")
    sources = []
    for index, raw in enumerate(mentions):
        name = f"{where}.entityMentions[{index}]"
        mention = _object(raw, name)
        span = _object(mention.get("text"), f"{name}.text")
        content = span.get("content")
        if not isinstance(content, str) or not content:
            raise InputError("wrong_shape", f"{name}.text.content must be a non-empty string")
        start = _proto_int(span.get("beginOffset"), f"{name}.text.beginOffset")
        length = len(content) if unit == CODE_POINT else sum(_unit_lengths(content, unit))
        sources.append(
            SourceEntity(
                index=index,
                start=start,
                end=start + length,
                id=_id(mention.get("mentionId"), f"{name}.mentionId"),
                label=_name(mention.get("type"), f"{name}.type"),
                tool_text=content,
            )
        )
    return sources


def _spacy(output: dict[str, Any], where: str) -> list[SourceEntity]:
    entities = _list(output.get("ents", []), f"{where}.ents")
    sources = []
    for index, raw in enumerate(entities):
        name = f"{where}.ents[{index}]"
        entity = _object(raw, name)
        sources.append(
            SourceEntity(
                index=index,
                start=_int(entity.get("start"), f"{name}.start"),
                end=_int(entity.get("end"), f"{name}.end"),
                label=_name(entity.get("label"), f"{name}.label"),
            )
        )
    return sources


GENERIC_FIELDS = frozenset({"start", "end", "label", "id"})


def generic(entities: list[Any], where: str) -> list[SourceEntity]:
    """The generic form: ``{"start", "end"}`` with an optional ``label`` and ``id``."""
    sources = []
    for index, raw in enumerate(entities):
        name = f"{where}[{index}]"
        if not isinstance(raw, dict) or not {"start", "end"} <= set(raw) or set(raw) - GENERIC_FIELDS:
            raise InputError(
                "wrong_shape",
                f"{name} must be an object with 'start' and 'end' (and optionally 'label', 'id')",
            )
        start, end = raw["start"], raw["end"]
        if type(start) is not int or type(end) is not int:
            raise InputError("wrong_shape", f"{name}.start and .end must be integers")
        sources.append(
            SourceEntity(
                index,
                start,
                end,
                id=_id(raw.get("id"), f"{name}.id"),
                label=_name(raw.get("label"), f"{name}.label"),
            )
        )
    return sources


def read(entry: dict[str, Any], where: str) -> Entities:
    """The entities of one item that names a tool (or carries generic entities), kept by the
    item's filter and converted to code points. `where` prefixes the names errors give."""

    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    tools = [tool for tool in TOOLS if tool in entry]
    unit = entry.get(OFFSET_UNIT, CODE_POINT)
    if unit not in UNITS:
        raise InputError("wrong_shape", f"{at(OFFSET_UNIT)} must be one of {', '.join(UNITS)}")
    wanted = entry.get(ENTITY_TYPES)
    if wanted is not None and (
        not isinstance(wanted, list) or not all(isinstance(kind, str) for kind in wanted)
    ):
        raise InputError("wrong_shape", f"{at(ENTITY_TYPES)} must be a list of strings")
    if tools == [SPACY]:
        if "text" in entry:
            raise InputError(
                "wrong_shape",
                f"{where or 'the item'} has both a spacy document and a text: the document holds the text",
            )
        text, text_field = _object(entry[SPACY], at(SPACY)).get("text"), at(f"{SPACY}.text")
    else:
        text, text_field = entry.get("text"), at("text")
    if not isinstance(text, str):
        raise InputError("wrong_shape", f"{text_field} must be a string")
    if not tools:
        field = at("entities")
        sources = generic(_list(entry.get("entities"), field), field)
    elif tools == [COMPREHEND_MEDICAL]:
        sources = _comprehend(entry[COMPREHEND_MEDICAL], at(COMPREHEND_MEDICAL))
        field = at(f"{COMPREHEND_MEDICAL}.Entities")
    elif tools == [HEALTHCARE_NL]:
        sources = _healthcare_nl(entry[HEALTHCARE_NL], at(HEALTHCARE_NL), text, unit)
        field = at(f"{HEALTHCARE_NL}.entityMentions")
    else:
        sources = _spacy(entry[SPACY], at(SPACY))
        field = at(f"{SPACY}.ents")
    spans = []
    for source in sources:  # every entity is checked, the filtered-out ones too
        name = f"{field}[{source.index}]"
        start, end = to_code_points(text, (source.start, source.end), unit, where=name)
        if not 0 <= start < end <= len(text):
            counted = "" if unit == CODE_POINT else f" in {unit} units, {start} and {end} in characters"
            raise InputError(
                "span_out_of_range",
                f"{name} must satisfy 0 <= start < end <= {len(text)} (the text's length in "
                f"characters); got start={source.start}, end={source.end}{counted}",
            )
        if source.tool_text is not None and text[start:end] != source.tool_text:
            raise InputError(
                "entity_text_mismatch",
                f"{name}: the text at its offsets is not the entity's own text (offsets counted in "
                f"{unit}; set {OFFSET_UNIT} if the tool counted otherwise, and send the exact text the "
                "tool was given)",
            )
        spans.append((start, end))
    if wanted is not None:
        kinds = set(wanted)
        kept = [n for n, source in enumerate(sources) if source.kinds() & kinds]
        sources, spans = [sources[n] for n in kept], [spans[n] for n in kept]
    return Entities(text, tuple(sources), tuple(spans), field, unit, text_field)
