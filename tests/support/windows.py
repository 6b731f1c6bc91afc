"""Long inputs for the window tests: a concept placed at a chosen token position."""

from __future__ import annotations

from pathlib import Path

FILLER = "The patient was seen on the ward and vital signs were unremarkable overnight. "
CONCEPT = "[entity] gastrointestinal bleeding [entity]"


def long_sentence_with_concept_at(token: int, tokenizer, *, tail_sentences: int = 3) -> str:
    """Filler, then 'Denies CONCEPT.' starting at or after `token` (reference tokenizer
    counts), then a little more filler."""
    head = ""
    while len(tokenizer(head, add_special_tokens=False)["input_ids"]) < token:
        head += FILLER
    return f"{head}Denies {CONCEPT} today. " + FILLER * tail_sentences


def window_text(sentence: str, baked_model: Path) -> str:
    """The part of `sentence` the service shows the model, by its own tokenizer."""
    from function.core.markers import MarkedText
    from function.core.model_folder import ModelFolder
    from function.core.tokenization import AssertionTokenizer

    tokenizer = AssertionTokenizer.of_folder(ModelFolder.open(baked_model))
    model_input = tokenizer.encode([MarkedText(sentence)], ["sentence"])[0]
    return sentence[model_input.char_start : model_input.char_end]
