"""Marker rules of the core (the HTTP contract suite checks them through every entry point)."""

from __future__ import annotations

import pytest

from function.core.errors import InputError
from function.core.markers import check_sentence, check_span_text, count_markers, mark_entity


def test_mark_entity_writes_the_markers_as_the_model_card_shows() -> None:
    item = mark_entity("Patient denies SOB.", 15, 18, where="entities[0]")
    assert item.text == "Patient denies [entity] SOB [entity]."
    assert item.concept_span() == (15, 36)


def test_markers_are_counted_as_the_tokenizer_sees_them() -> None:
    assert count_markers("a [entity] b [ENTITY] c [ Entity ] d [entity ]") == 4
    assert count_markers("entity [entities] [entity-x]") == 0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_text"),
        ("no markers", "unmarked_sentence"),
        ("[entity] x", "marker_count"),
        ("[entity][entity]", "empty_entity"),
    ],
)
def test_check_sentence_codes(text: str, code: str) -> None:
    with pytest.raises(InputError) as caught:
        check_sentence(text, where="sentences[2]")
    assert caught.value.code == code
    if text:
        assert caught.value.message.startswith("sentences[2]")


def test_unmarked_is_accepted_only_when_asked() -> None:
    item = check_sentence("no markers", where="sentence", allow_unmarked=True)
    assert not item.marked and item.concept_span() is None
    with pytest.raises(InputError):  # one marker is a mistake even then
        check_sentence("one [entity] marker", where="sentence", allow_unmarked=True)


def test_span_text_must_not_hold_markers() -> None:
    with pytest.raises(InputError) as caught:
        check_span_text("x [Entity] y", where="text")
    assert caught.value.code == "marker_in_text"
