"""How the int8 variant is made, and how it must be run: the recipes the bake tries, in order.

Dynamic quantization (ONNX Runtime's `quantize_dynamic`): weights to int8 per output
channel, symmetric; activations to uint8 per forward pass, at run time. On x86, ONNX Runtime
multiplies those u8 x s8 matrices with VNNI or AMX where the CPU has them (exact 32-bit
sums), and otherwise, on AVX2 and on AVX-512 without VNNI, with a kernel whose 16-bit
intermediate sums saturate: the same graph then answers differently, and worse, depending on
the host. Every recipe therefore runs with ONNX Runtime's `session.x64quantprecision=1`,
which on exactly those CPUs (and nowhere else) converts the weights to u8 and takes the
exact u8u8 kernels. So every x86 CPU computes the same integer sums, and the bake's verdict,
judged on any of them, holds on the others (arm64's kernels sum exactly in any case); the
start-up check (`function.core.variant_check`) confirms it on every host. The bake ships the
graph as ONNX Runtime optimizes it with these settings (`optimize_offline`): where the
conversion applies on the bake's CPU it is done once there, and the weights ship as uint8
(exact everywhere); where it does not, they ship as int8 and a host that needs it converts
them at load, as before. The manifest counts both kinds of tensor.

ONNX Runtime applies the switch wherever its u8u8 and u8s8 kernels differ, which is every x86
CPU with AVX2, VNNI and AMX ones included, not only where sums saturate: on VNNI it trades
VPDPBUSD for slower u8u8 kernels (1.84x in-process on an AVX-512 VNNI EPYC). So `quantize`
also writes the graph with the quantizer's int8 weights and no switch, which the folder
serves where the CPU sums u8s8 exactly (`VariantEntry.forms_for`).

Measured on the benchmark's BERT-base-shaped model and on the test model (bench/results.md):
the saturating kernels cost the test model 8 points of agreement on an AVX2-only AMD EPYC;
the exact ones restore what a VNNI Xeon computes, at no measurable speed cost there. Weights
in 7 bits (`reduce_range`) avoid the saturation too, but lose agreement everywhere; u8u8
weights are no better than the exact kernels. When the first recipe fails the agreement
gate, the bake tries the next: the feed-forward output projections (whose inputs, GELU
outputs, have the widest range) kept in fp32, at a speed cost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from function.core.model_folder import EXACT_U8S8_GRAPH

# ONNX Runtime's switch to exact products on x86 (uint8 weights, u8u8 kernels): needed where
# u8s8 sums saturate, applied (and slower) on every x86 CPU, a no-op on arm64.
EXACT_X86_KERNELS = {"session.x64quantprecision": "1"}


@dataclass(frozen=True)
class Int8Recipe:
    name: str
    summary: str
    keep_fp32: str = ""  # which MatMuls stay in fp32 (see `_fp32_nodes`)
    session_config: dict[str, str] = field(default_factory=lambda: dict(EXACT_X86_KERNELS))

    def manifest_entry(self, fp32_nodes: list[str]) -> dict[str, Any]:
        """What the manifest records: enough to rebuild the graph, and how to run it."""
        return {
            "name": self.name,
            "summary": self.summary,
            "method": "onnxruntime.quantization.quantize_dynamic",
            "weights": "int8, symmetric, per output channel",
            "activations": "uint8, per forward pass (dynamic)",
            "fp32_nodes": fp32_nodes,
            "session_config": dict(self.session_config),
        }


RECIPES = (
    Int8Recipe(
        "dynamic-per-channel",
        "every MatMul and attention projection in int8; exact int8 sums on every x86 CPU",
    ),
    Int8Recipe(
        "dynamic-per-channel-ffn-out-fp32",
        "as dynamic-per-channel, with the feed-forward output projections kept in fp32",
        keep_fp32="ffn_out",
    ),
)


def _fp32_nodes(model_path: Path, keep: str) -> list[str]:
    if not keep:
        return []
    import onnx

    nodes = onnx.load(str(model_path), load_external_data=False).graph.node
    if keep == "ffn_out":  # BERT's layer.N/output/dense, not layer.N/attention/output/dense
        return sorted(
            node.name
            for node in nodes
            if node.op_type == "MatMul"
            and node.name.endswith("/output/dense/MatMul")
            and "/attention/" not in node.name
        )
    raise ValueError(f"unknown keep_fp32 {keep!r}")


def exact_kernels_config(session_config: dict[str, str]) -> dict[str, str]:
    """The recipe's session settings for a CPU whose u8s8 sums are exact: without the
    switch to uint8 weights, which ONNX Runtime applies on every x86 CPU with AVX2, VNNI or
    not (its test is that the u8u8 and u8s8 kernels differ), and which there only trades
    VPDPBUSD for slower u8u8 kernels that compute the same sums."""
    return {key: value for key, value in session_config.items() if key not in EXACT_X86_KERNELS}


def quantize(fp32_path: Path, out_path: Path, recipe: Int8Recipe, exact_path: Path) -> dict[str, Any]:
    """Write the int8 graph of `recipe`, optimized as ONNX Runtime would at every start, to
    `out_path` (the portable graph: exact on every CPU), and the same graph with its int8
    weights kept for CPUs with exact u8s8 kernels to `exact_path`; returns the manifest entry
    (`function.core.model_folder.EXACT_U8S8_GRAPH` names the second)."""
    raw = out_path.with_name(f".{out_path.name}.raw")
    exact_config = exact_kernels_config(recipe.session_config)
    try:
        fp32_nodes = quantize_only(fp32_path, raw, recipe)
        optimized = optimize_offline(raw, out_path, recipe.session_config)
        exact = optimize_offline(raw, exact_path, exact_config)
    finally:
        raw.unlink(missing_ok=True)
    return {
        **recipe.manifest_entry(fp32_nodes),
        "optimized_at_bake": optimized,
        EXACT_U8S8_GRAPH: {
            "file": exact_path.name,
            "for": "x86 CPUs with AVX-512 VNNI, AVX-VNNI or AMX (exact u8s8 sums)",
            "session_config": exact_config,
            "optimized_at_bake": exact,
        },
    }


def quantize_only(fp32_path: Path, out_path: Path, recipe: Int8Recipe) -> list[str]:
    """The quantizer's graph of `recipe`, int8 weights as they come; returns the nodes kept
    in fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32_nodes = _fp32_nodes(fp32_path, recipe.keep_fp32)
    # The quantizer advises at WARNING on the root logger; the bake reports what matters.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            fp32_path,
            out_path,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=fp32_nodes,
            # The fused contrib ops defeat shape inference; their outputs are float.
            extra_options={"DefaultTensorType": 1},
        )
    finally:
        root.setLevel(level)
    return fp32_nodes


def optimize_offline(source: Path, out_path: Path, session_config: dict[str, str]) -> dict[str, Any]:
    """Save the graph ONNX Runtime builds from `source` at its extended level with the
    recipe's settings: the fusions (DynamicQuantizeMatMul) and, on x86, the int8 weights
    rewritten as uint8 plus 128 with their zero points (`Avx2WeightS8ToU8Transformer`, what
    `session.x64quantprecision` asks for: the same products exactly). A session otherwise
    redoes this at every start: about 0.45 s of a 0.6 s load of the BERT-base-shaped int8
    graph on an AVX2 EPYC; the saved graph loads in 0.1 s and answers the same numbers to the
    bit (docs/benchmarks.md, issue 13's levers). The extended level holds no layout transformation tied to the
    CPU; the session still runs every level at load, which finds nothing left to do, and the
    start-up check judges the result on every host."""
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out_path)
    options.log_severity_level = 3
    for key, value in session_config.items():
        options.add_session_config_entry(key, value)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(str(out_path), load_external_data=False).graph
    weights = [tensor.data_type for tensor in graph.initializer]
    return {
        "by": f"onnxruntime {ort.__version__}",
        "level": "extended",
        "int8_tensors": weights.count(onnx.TensorProto.INT8),
        "uint8_tensors": weights.count(onnx.TensorProto.UINT8),
    }
