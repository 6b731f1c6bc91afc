"""What served answers must equal: the reference pipeline, and ONNX Runtime run directly on a
baked graph."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


class OnnxReference:
    """The baked ONNX graph run with onnxruntime directly, one input at a time, tokenized by
    AutoTokenizer: what a served onnx variant must give for a request that runs alone."""

    def __init__(self, source: Path, baked: Path, precision: str) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from function.core.model_folder import ModelFolder

        self.tokenizer = AutoTokenizer.from_pretrained(source)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        variant = ModelFolder.open(baked).manifest.variants[f"onnx-{precision}"]
        for key, value in variant.recipe.get("session_config", {}).items():  # as the bake judged it
            options.add_session_config_entry(key, value)
        self.session = ort.InferenceSession(
            str(baked / variant.files[0]), options, providers=["CPUExecutionProvider"]
        )
        self.labels = ModelFolder.open(baked).manifest.labels
        self.scores = lru_cache(maxsize=None)(self._scores)

    def _scores(self, sentence: str) -> dict[str, float]:
        import numpy as np

        encoded = self.tokenizer(sentence, return_tensors="np")
        feeds = {
            name: encoded[name].astype(np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")
        }
        logits = self.session.run(["logits"], feeds)[0][0]
        shifted = np.exp(logits - logits.max())
        return dict(zip(self.labels, (shifted / shifted.sum()).tolist(), strict=True))


class Reference:
    """transformers.TextClassificationPipeline(top_k=None) on the source folder."""

    def __init__(self, folder: Path) -> None:
        from transformers import (
            AutoModelForSequenceClassification,
            AutoTokenizer,
            TextClassificationPipeline,
        )

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        self.pipeline = TextClassificationPipeline(model=model, tokenizer=self.tokenizer, top_k=None)
        self.scores = lru_cache(maxsize=None)(self._scores)

    def _scores(self, sentence: str) -> dict[str, float]:
        return {entry["label"]: entry["score"] for entry in self.pipeline(sentence)[0]}
