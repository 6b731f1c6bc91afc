"""The entity markers the model was trained with, and the checks around them.

The model answers for ONE concept, written between two markers:
``Patient denies [entity] SOB [entity].``. Its tokenizer lowercases and splits on
punctuation, so ``[ENTITY]`` and ``[ entity ]`` reach the model as the same three tokens as
``[entity]``: all of them count as markers here, so that what we count is what the model sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from function.core.errors import InputError

ENTITY_MARKER = "[entity]"
_MARKER = re.compile(r"\[\s*entity\s*\]", re.IGNORECASE)


@dataclass(frozen=True)
class MarkedText:
    """One model input: a text holding exactly one marked concept (or, when the caller opted
    in, none at all)."""

    text: str
    marked: bool = True

    def concept_span(self) -> tuple[int, int] | None:
        """Character span from the start of the first marker to the end of the second."""
        if not self.marked:
            return None
        first, second = list(_MARKER.finditer(self.text))[:2]
        return first.start(), second.end()


def count_markers(text: str) -> int:
    return sum(1 for _ in _MARKER.finditer(text))


def _check_text(text: str, where: str) -> None:
    if not text.strip():
        raise InputError("empty_text", f"{where} is empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # JSON allows "\ud800"; no tokenizer can take it
        raise InputError("invalid_text", f"{where} holds an unpaired UTF-16 surrogate") from None


def check_sentence(sentence: str, *, where: str, allow_unmarked: bool = False) -> MarkedText:
    """Validate a caller's pre-marked sentence; `where` names it in errors (``sentences[3]``)."""
    _check_text(sentence, where)
    markers = list(_MARKER.finditer(sentence))
    if not markers:
        if allow_unmarked:
            return MarkedText(sentence, marked=False)
        raise InputError(
            "unmarked_sentence",
            f"{where} has no {ENTITY_MARKER} markers: put the concept between two of them "
            f"('... {ENTITY_MARKER} concept {ENTITY_MARKER} ...'), or send text with "
            "character offsets to /predict/spans",
        )
    if len(markers) != 2:
        raise InputError(
            "marker_count",
            f"{where} has {len(markers)} {ENTITY_MARKER} markers; exactly 2 are needed "
            "(one concept per input)",
        )
    if not sentence[markers[0].end() : markers[1].start()].strip():
        raise InputError("empty_entity", f"{where} has nothing between its two markers")
    return MarkedText(sentence)


def mark_entity(text: str, start: int, end: int, *, where: str) -> MarkedText:
    """Write the markers around ``text[start:end]``, as the model's card shows them."""
    if not 0 <= start < end <= len(text):
        raise InputError(
            "span_out_of_range",
            f"{where} must satisfy 0 <= start < end <= {len(text)} (the text's length in "
            f"characters); got start={start}, end={end}",
        )
    if not text[start:end].strip():
        raise InputError("empty_entity", f"{where} covers only white space")
    return MarkedText(f"{text[:start]}{ENTITY_MARKER} {text[start:end]} {ENTITY_MARKER}{text[end:]}")


def check_span_text(text: str, *, where: str) -> None:
    """Validate the text of the span form, before any marker is written into it."""
    _check_text(text, where)
    if _MARKER.search(text):
        raise InputError(
            "marker_in_text",
            f"{where} already holds {ENTITY_MARKER} markers; the span form writes them itself "
            "(send pre-marked sentences to /predict or /predict/batch instead)",
        )
