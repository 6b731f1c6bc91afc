"""A schemathesis check of ours (loaded with SCHEMATHESIS_HOOKS): no answer repeats the text
a request sent, and every such text is written down (FUZZ_SENT_TEXTS) for the test to search
the server's log for afterwards. Texts are the values of `sentence`, `sentences` and `text`:
what would be patient data."""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

TEXT_KEYS = frozenset({"sentence", "sentences", "text"})
MIN_CHARS = 12  # shorter strings occur in answers by chance (labels, codes, numbers)


def texts_of(value: Any, key: str = "") -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in texts_of(v, k)]
    if isinstance(value, list):
        return [t for item in value for t in texts_of(item, key)]
    if isinstance(value, str) and key in TEXT_KEYS and len(value.strip()) >= MIN_CHARS:
        return [value]
    return []


@schemathesis.check
def no_request_text_in_answers(ctx: Any, response: Any, case: Any) -> bool | None:
    sent = texts_of(case.body) if isinstance(case.body, dict | list) else []
    if sent and os.environ.get("FUZZ_SENT_TEXTS"):
        with open(os.environ["FUZZ_SENT_TEXTS"], "a", encoding="utf-8") as out:
            for text in sent:
                out.write(json.dumps(text) + "\n")
    answer = response.text
    for text in sent:
        if text in answer or text.strip() in answer:
            raise AssertionError("the answer repeats a text the request sent")
    return None
