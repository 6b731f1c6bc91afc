"""A clinical note with non-ASCII text (accents, a symbol, an emoji outside the BMP) and the
entity output four NER tools would give for it, in each tool's documented shape and unit.

Amazon Comprehend Medical and Google's Healthcare NL cannot be reached from here: their
outputs are written from their API references (DetectEntitiesV2's `Entities`, analyzeEntities'
`entityMentions`), offsets in code points as both document. The spaCy output is a real
`Doc.to_json()` of a blank English pipeline whose entities are set from the same spans.
"""

from __future__ import annotations

from typing import Any

# (mention, Comprehend category, Comprehend type, Healthcare NL type, spaCy/generic label)
MENTIONS = [
    ("chest pain", "MEDICAL_CONDITION", "DX_NAME", "PROBLEM", "PROBLEM"),
    ("pneumonía", "MEDICAL_CONDITION", "DX_NAME", "PROBLEM", "PROBLEM"),
    ("fièvre", "MEDICAL_CONDITION", "DX_NAME", "PROBLEM", "PROBLEM"),
    ("metformin", "MEDICATION", "GENERIC_NAME", "MEDICINE", "TREATMENT"),
]
SHAPES = ("generic", "comprehend_medical", "healthcare_nl", "spacy")


def note(canary: str = "Zoë") -> str:
    return (
        f"Mme {canary} Brontë (♀, 71 ans) 😷 denies chest pain; possible pneumonía in the right "
        "lower lobe → no fièvre today. Diabète type 2, on metformin."
    )


def spans(text: str) -> list[tuple[int, int]]:
    return [(text.index(m), text.index(m) + len(m)) for m, *_ in MENTIONS]


def utf16(text: str, offset: int) -> int:
    return len(text[:offset].encode("utf-16-le")) // 2


def utf8(text: str, offset: int) -> int:
    return len(text[:offset].encode("utf-8"))


def comprehend_medical(text: str) -> dict[str, Any]:
    return {
        "Entities": [
            {
                "Id": index,
                "BeginOffset": start,
                "EndOffset": end,
                "Score": 0.98,
                "Text": text[start:end],
                "Category": category,
                "Type": kind,
                "Traits": [],
                "Attributes": [],
            }
            for index, ((start, end), (_, category, kind, _, _)) in enumerate(
                zip(spans(text), MENTIONS, strict=False)
            )
        ],
        "UnmappedAttributes": [],
        "ModelVersion": "2.4.0",
    }


def healthcare_nl(text: str) -> dict[str, Any]:
    mentions = []
    for index, ((start, end), (_, _, _, kind, _)) in enumerate(zip(spans(text), MENTIONS, strict=False)):
        span: dict[str, Any] = {"content": text[start:end]}
        if start:  # proto3 JSON leaves a zero offset out
            span["beginOffset"] = start
        mentions.append(
            {"mentionId": str(index + 1), "type": kind, "text": span, "confidence": 0.9, "linkedEntities": []}
        )
    return {"entityMentions": mentions, "entities": [], "relationships": []}


def spacy_doc(text: str) -> dict[str, Any]:
    import spacy

    doc = spacy.blank("en")(text)
    doc.ents = [doc.char_span(s, e, label=m[4]) for (s, e), m in zip(spans(text), MENTIONS, strict=False)]
    return doc.to_json()


def item(shape: str, text: str, unit: str = "code_point", **extra: Any) -> dict[str, Any]:
    """The item a caller sends for `text` in one shape (generic offsets in `unit`)."""
    if shape == "comprehend_medical":
        return {"text": text, "comprehend_medical": comprehend_medical(text), **extra}
    if shape == "healthcare_nl":
        return {"text": text, "healthcare_nl": healthcare_nl(text), **extra}
    if shape == "spacy":
        return {"spacy": spacy_doc(text), **extra}
    convert = {"code_point": lambda t, o: o, "utf16": utf16, "utf8": utf8}[unit]
    entities = [
        {"start": convert(text, s), "end": convert(text, e), "label": m[4], "id": f"e{n}"}
        for n, ((s, e), m) in enumerate(zip(spans(text), MENTIONS, strict=False))
    ]
    unit_field = {} if unit == "code_point" else {"offset_unit": unit}
    return {"text": text, "entities": entities, **unit_field, **extra}


def caller_offsets(shape: str, text: str, unit: str = "code_point") -> list[tuple[int, int]]:
    if shape != "generic" or unit == "code_point":
        return spans(text)
    convert = utf16 if unit == "utf16" else utf8
    return [(convert(text, s), convert(text, e)) for s, e in spans(text)]
