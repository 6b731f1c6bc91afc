"""Tokenization equals AutoTokenizer on the source folder, and long inputs keep a window
around the marked concept."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from function.core.errors import InputError
from function.core.markers import MarkedText
from function.core.model_folder import ModelFolder
from function.core.tokenization import AssertionTokenizer
from tests.support.models import calibration_sentences, negex_rows
from tests.support.references import Reference
from tests.support.windows import CONCEPT, FILLER, long_sentence_with_concept_at


@pytest.fixture(scope="module")
def tokenizer(baked_model: Path) -> AssertionTokenizer:
    return AssertionTokenizer.of_folder(ModelFolder.open(baked_model))


def encode(tokenizer: AssertionTokenizer, text: str, marked: bool = True):
    return tokenizer.encode([MarkedText(text, marked)], ["sentence"])[0]


def test_identical_to_autotokenizer_on_calibration_and_negex(baked_model: Path, reference: Reference) -> None:
    texts = calibration_sentences() + [row["text"] for row in negex_rows()]
    texts += ["Héllo CAFÉ naïve 中文 x", "tab\there\u00a0nbsp", "\x00control\x07chars", "emoji 🫀 heart", ""]
    ours = Tokenizer.from_file(str(baked_model / "tokenizer.json"))
    encodings = ours.encode_batch(texts)
    for text, encoding in zip(texts, encodings, strict=True):
        assert encoding.ids == reference.tokenizer(text)["input_ids"], text[:80]
    if negex_rows():
        assert len(texts) > 2500


def test_an_input_that_fits_is_left_alone(tokenizer: AssertionTokenizer, reference: Reference) -> None:
    sentence = FILLER * 10 + "Denies [entity] fever [entity]."
    model_input = encode(tokenizer, sentence)
    assert model_input.ids == reference.tokenizer(sentence)["input_ids"]
    assert not model_input.windowed and len(model_input.ids) <= 512


@pytest.mark.parametrize("position", [600, 900, 2000])
def test_a_concept_far_past_the_limit_stays_in_the_window(
    tokenizer: AssertionTokenizer, reference: Reference, position: int
) -> None:
    sentence = long_sentence_with_concept_at(position, reference.tokenizer)
    concept_ids = reference.tokenizer(CONCEPT, add_special_tokens=False)["input_ids"]
    model_input = encode(tokenizer, sentence)
    assert model_input.windowed and len(model_input.ids) <= 512
    ids = model_input.ids
    assert any(ids[i : i + len(concept_ids)] == concept_ids for i in range(len(ids)))
    assert ids[0] == reference.tokenizer.cls_token_id and ids[-1] == reference.tokenizer.sep_token_id
    shown = sentence[model_input.char_start : model_input.char_end]
    assert CONCEPT in shown
    # The window is exactly what the reference tokenizer makes of the text it covers: it
    # starts and ends on word boundaries, with no stray "##" piece at either edge.
    assert reference.tokenizer(shown)["input_ids"] == ids
    # Context is kept on both sides, not just before or after.
    before, after = shown.split(CONCEPT)
    assert len(before) > 200 and len(after) > 100


def test_a_concept_at_the_very_start_or_end_keeps_the_window_full(
    tokenizer: AssertionTokenizer, reference: Reference
) -> None:
    at_start = f"{CONCEPT} was denied. " + FILLER * 80
    at_end = FILLER * 80 + f"Denies {CONCEPT}"
    for sentence in (at_start, at_end):
        model_input = encode(tokenizer, sentence)
        assert model_input.windowed and 500 <= len(model_input.ids) <= 512
        assert CONCEPT in sentence[model_input.char_start : model_input.char_end]


def test_an_unmarked_long_input_keeps_its_head(tokenizer: AssertionTokenizer) -> None:
    sentence = FILLER * 80
    model_input = encode(tokenizer, sentence, marked=False)
    assert model_input.windowed and model_input.char_start == 0 and len(model_input.ids) <= 512


def test_a_concept_longer_than_the_window_is_refused(tokenizer: AssertionTokenizer) -> None:
    sentence = "Has [entity] " + "pain " * 600 + "[entity]."
    with pytest.raises(InputError) as caught:
        encode(tokenizer, sentence)
    assert caught.value.code == "entity_too_long" and "sentence" in caught.value.message
    assert "pain" not in caught.value.message
