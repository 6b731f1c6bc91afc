"""Text to model input ids, with a window that keeps the marked concept.

The tokenizer is the one `AutoTokenizer.from_pretrained(folder)` builds for the model's
folder, serialized by the bake as ``tokenizer.json`` and run here with the `tokenizers`
library alone, so the runtime needs no transformers import to tokenize.

BERT sees at most ``max_length`` tokens. Cutting the tail of a long input can cut the marked
concept off and leave a prediction about nothing; this keeps a window around the concept
instead, with the context split evenly on both sides, and its edges on word boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tokenizers import Encoding, Tokenizer

from function.core.errors import InputError
from function.core.markers import MarkedText
from function.core.model_folder import ModelFolder


@dataclass(frozen=True)
class ModelInput:
    ids: list[int]  # with the special tokens, at most max_length long
    windowed: bool  # True when context was cut to fit
    # Character range of the original text that the window covers (all of it when not
    # windowed); it lets a caller, or a test, see exactly what the model was shown.
    char_start: int
    char_end: int


class AssertionTokenizer:
    def __init__(self, tokenizer: Tokenizer, max_length: int) -> None:
        self._tokenizer = tokenizer
        self.max_length = max_length
        pad_id = tokenizer.token_to_id("[PAD]")
        self.pad_id = 0 if pad_id is None else pad_id

    @classmethod
    def of_folder(cls, folder: ModelFolder) -> AssertionTokenizer:
        """A baked folder's tokenizer (its tokenizer.json), with the manifest's length limit."""
        return cls(Tokenizer.from_file(str(folder.file("tokenizer.json"))), folder.manifest.max_length)

    def encode(self, items: Sequence[MarkedText], where: Sequence[str]) -> list[ModelInput]:
        """Encode each item; `where` names each one in errors (``sentences[3]``)."""
        encodings = self._tokenizer.encode_batch([item.text for item in items])
        return [
            self._fit(item, encoding, name)
            for item, encoding, name in zip(items, encodings, where, strict=True)
        ]

    def _fit(self, item: MarkedText, encoding: Encoding, where: str) -> ModelInput:
        ids = encoding.ids
        if len(ids) <= self.max_length:
            return ModelInput(ids, False, 0, len(item.text))
        special = encoding.special_tokens_mask
        inner = [index for index, flag in enumerate(special) if not flag]
        first, last = inner[0], inner[-1]
        head, tail = ids[:first], ids[last + 1 :]
        budget = self.max_length - len(head) - len(tail)
        offsets = encoding.offsets[first : last + 1]
        word_ids = encoding.word_ids[first : last + 1]
        start, end = self._window(item, offsets, word_ids, budget, where)
        return ModelInput(
            head + ids[first + start : first + end] + tail,
            True,
            offsets[start][0],
            offsets[end - 1][1],
        )

    @staticmethod
    def _window(
        item: MarkedText,
        offsets: list[tuple[int, int]],
        word_ids: list[int | None],
        budget: int,
        where: str,
    ) -> tuple[int, int]:
        """Token range [start, end) of at most `budget` tokens that holds the concept."""
        count = len(offsets)
        span = item.concept_span()
        if span is None:  # an unmarked input has no concept to keep: keep its head
            keep_from, keep_to = 0, 0
        else:
            keep_from = next(index for index, (_, e) in enumerate(offsets) if e > span[0])
            keep_to = max(index for index, (s, _) in enumerate(offsets) if s < span[1]) + 1
        kept = keep_to - keep_from
        if kept > budget:
            raise InputError(
                "entity_too_long",
                f"{where}: the marked concept with its markers is {kept} tokens long; at most "
                f"{budget} fit in the model's window",
            )
        spare = budget - kept
        right = min(count - keep_to, spare - min(keep_from, spare // 2))
        left = min(keep_from, spare - right)
        start, end = keep_from - left, keep_to + right
        # Do not start or end inside a word: a stray "##ing" would be noise to the model.
        while 0 < start < keep_from and word_ids[start] == word_ids[start - 1]:
            start += 1
        while keep_to < end < count and word_ids[end] == word_ids[end - 1]:
            end -= 1
        return start, end
