"""What served answers must equal: the reference pipeline, and ONNX Runtime run directly on a
baked graph."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


def recipe_session(path: Path, recipe: dict):
    """ONNX Runtime on one graph, one thread, with the settings the variant's recipe names (as
    the bake judged it)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for key, value in recipe.get("session_config", {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxReference:
    """The baked ONNX graph run with onnxruntime directly, one input at a time, tokenized by
    AutoTokenizer: what a served onnx variant must give for a request that runs alone."""

    def __init__(self, source: Path, baked: Path, precision: str) -> None:
        from transformers import AutoTokenizer

        from function.core.model_folder import ModelFolder

        self.tokenizer = AutoTokenizer.from_pretrained(source)
        variant = ModelFolder.open(baked).manifest.variants[f"onnx-{precision}"]
        self.session = recipe_session(baked / variant.files[0], variant.recipe)
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
