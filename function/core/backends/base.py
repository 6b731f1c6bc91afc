"""The interface every backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    name: str
    precision: str

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(batch, length) int64 ids and mask -> (batch, labels) float32 logits.

        Called from one thread at a time (the classifier serializes calls), so an
        implementation may keep per-call scratch state.
        """
        ...
