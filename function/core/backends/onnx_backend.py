"""The serving backend: the baked ONNX graph (fp32, or int8 weights) on ONNX Runtime.

It imports neither torch nor transformers, which is most of a cold start saved. The graph
was exported and fused (attention, layer norms, GELU) at bake time and checked against the
torch reference there. The session runs with the settings the variant's recipe names (the
bake judged it with exactly those): for int8, ONNX Runtime's exact u8s8 kernels on x86 CPUs
without VNNI, whose fast kernels saturate 16-bit intermediate sums.
"""

from __future__ import annotations

import numpy as np

from function.core.errors import ModelFolderError
from function.core.model_folder import ModelFolder, VariantEntry


class OnnxBackend:
    name = "onnx"

    def __init__(self, folder: ModelFolder, entry: VariantEntry, *, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: ORT's warnings are not ours to show
        for key, value in entry.recipe.get("session_config", {}).items():
            options.add_session_config_entry(str(key), str(value))
        path = folder.file(entry.files[0])
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 (any load failure refuses the folder)
            raise ModelFolderError(f"{path}: ONNX Runtime cannot load it: {error}") from None
        self._token_types = any(i.name == "token_type_ids" for i in self._session.get_inputs())
        self.precision = entry.precision

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self._token_types:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        return self._session.run(["logits"], feeds)[0]
