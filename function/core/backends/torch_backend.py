"""The reference backend: transformers' BERT on torch, fp32, exactly as the pipeline runs it."""

from __future__ import annotations

import os

import numpy as np

from function.core.errors import ModelFolderError
from function.core.model_folder import ModelFolder, VariantEntry


class TorchBackend:
    name = "torch"

    def __init__(self, folder: ModelFolder, entry: VariantEntry, *, threads: int) -> None:
        # The served process never downloads: make any attempt fail loudly instead.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        torch.set_num_threads(threads)
        self._torch = torch
        self.precision = entry.precision
        try:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                folder.path, local_files_only=True, dtype=torch.float32, output_loading_info=True
            )
        except Exception as error:  # noqa: BLE001 (any load failure refuses the folder)
            raise ModelFolderError(f"{folder.path}: the torch weights do not load: {error!r}") from None
        if info["missing_keys"] or info["mismatched_keys"]:
            # transformers would initialize these at random and carry on: refuse instead.
            raise ModelFolderError(
                f"{folder.path}: the weights lack {sorted(info['missing_keys'])[:5]} "
                f"(mismatched: {sorted(map(str, info['mismatched_keys']))[:5]})"
            )
        self._model = model.eval()

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            output = self._model(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
                token_type_ids=torch.zeros_like(torch.from_numpy(input_ids)),
            )
        return output.logits.float().numpy()
