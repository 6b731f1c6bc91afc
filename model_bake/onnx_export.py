"""Export the model to ONNX for the serving backend (fp32; `model_bake.int8_recipes` makes
the int8 graph from it).

The graph is traced from transformers' BERT with eager attention (the pattern ONNX Runtime's
transformer optimizer recognizes) and fused by that optimizer (embedding layer norm,
attention, skip layer norms, bias GELU). Whether a variant may be served is decided
afterwards, by `model_bake.agreement`.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

from model_bake.errors import BakeError

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
# The int8 graph with its weights as the quantizer wrote them, for CPUs with exact u8s8 sums.
EXACT_INT8_FILE = "model.int8.vnni.onnx"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(staging: Path) -> str:
    """Write the fused fp32 graph, model.onnx, into `staging`; returns its name."""
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModelForSequenceClassification

    config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
    raw = staging / ".onnx-raw.onnx"
    # The optimizer narrates every fusion at INFO and gives advice at WARNING on the root
    # logger; the bake reports what matters itself.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            staging, local_files_only=True, attn_implementation="eager", dtype=torch.float32
        ).eval()
        example = torch.ones((2, 8), dtype=torch.long)
        axes = {"batch": 0, "sequence": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's warnings are about shapes it handles
            torch.onnx.export(
                model,
                (example, torch.ones_like(example), torch.zeros_like(example)),
                str(raw),
                input_names=list(INPUTS),
                output_names=["logits"],
                dynamic_axes={
                    **{name: {axes["batch"]: "batch", axes["sequence"]: "sequence"} for name in INPUTS},
                    "logits": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        optimized = optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
        )
        fused = optimized.get_fused_operator_statistics()
        optimized.save_model_to_file(str(staging / FP32_FILE))
    except BakeError:
        raise
    except Exception as error:  # noqa: BLE001 (export or fusion: fail the bake, named)
        raise BakeError(f"ONNX export failed: {type(error).__name__}: {error}") from None
    finally:
        root.setLevel(level)
        raw.unlink(missing_ok=True)
    if not fused.get("Attention"):
        raise BakeError(f"the ONNX optimizer fused no attention ({fused}): the export would be slow")
    return FP32_FILE
