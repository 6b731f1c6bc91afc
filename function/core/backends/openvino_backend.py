"""The optional backend: NNCF's int8 of the baked graph, as OpenVINO IR, on OpenVINO's CPU
plugin (BACKEND=openvino; the image carries openvino only when built with OPENVINO=1).

It is offered only on x86 CPUs with VNNI or AMX, where it ran 1.21-1.43x ONNX Runtime's int8
in the same runs; ONNX Runtime's variants are its fallbacks (`ModelFolder.candidates`). The
plugin computes what is not int8 in bf16 where the CPU has it (avx512_bf16, AMX) and in f32
elsewhere, so every host judges it with the start-up check before it serves.
"""

from __future__ import annotations

import numpy as np

from function.core.errors import ModelFolderError
from function.core.model_folder import ModelFolder, VariantEntry


class OpenvinoBackend:
    name = "openvino"

    def __init__(self, folder: ModelFolder, entry: VariantEntry, *, threads: int) -> None:
        import openvino as ov  # type: ignore[import-untyped]

        path = folder.file(entry.files[0])
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            **entry.recipe.get("compile_config", {}),
        }
        try:
            compiled = ov.Core().compile_model(str(path), "CPU", config)
        except Exception as error:  # noqa: BLE001 (any load failure refuses the variant)
            raise ModelFolderError(f"{path}: OpenVINO cannot load it: {error}") from None
        self._request = compiled.create_infer_request()
        self._output = compiled.output(0)
        self._token_types = any(port.get_any_name() == "token_type_ids" for port in compiled.inputs)
        self.precision = entry.precision

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self._token_types:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        return np.array(self._request.infer(feeds)[self._output], dtype=np.float32)
