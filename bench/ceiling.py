"""The compute ceiling: what these cores can do at best, to say how close the service gets.

The peak is measured, not looked up: ONNX Runtime runs one BERT-sized matrix product
(512 x 768 by 768 x 3072, the feed-forward layer's shape) in fp32, and the same product
dynamically quantized to int8 exactly as the bake quantizes the model. FLOPs per sentence
count the encoder's matrix products and attention for the sentence's own token count.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

ROWS, INNER, COLS = 512, 768, 3072


def encoder_flops(tokens: int, layers: int = 12, hidden: int = 768, intermediate: int = 3072) -> float:
    dense = 2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 2 * 2 * tokens * tokens * hidden
    return layers * (dense + attention)


def _matmul_model(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(
        np.random.default_rng(0).standard_normal((INNER, COLS)).astype(np.float32), "W"
    )
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "gemm",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, INNER])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, COLS])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _rate(path: Path, threads: int, seconds: float = 2.0) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((ROWS, INNER)).astype(np.float32)
    for _ in range(3):
        session.run(None, {"X": x})
    runs, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        session.run(None, {"X": x})
        runs += 1
    return 2 * ROWS * INNER * COLS * runs / (time.perf_counter() - began)


def gemm_peaks(threads: int) -> dict[str, float]:
    """FLOP/s (int8: operations/s) of the model's largest matrix product, fp32 and int8."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as folder:
        fp32, int8 = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
        _matmul_model(fp32)
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True)
        return {"fp32": _rate(fp32, threads), "int8": _rate(int8, threads)}
