"""The optional OpenVINO variant (`python -m model_bake --openvino`): the exported fp32 graph
statically quantized to int8 by NNCF (OpenVINO's own quantizer, transformer preset) and saved
as OpenVINO IR (`model.int8.openvino.xml` and `.bin`).

Why it exists: on x86 CPUs with VNNI, OpenVINO's int8 ran 1.21-1.43x the served ONNX Runtime
int8 in the same runs (`make bench-openvino`, median 1.34x over five runs on an AVX-512 VNNI
EPYC); on AVX2 it ran 0.48x. So the runtime offers it only where the CPU has VNNI or AMX, and
only when asked (BACKEND=openvino): it costs 0.5 s more of a cold start and 180 MB of image.

The activations' scales come from every other calibration sentence (the even ones); the
agreement gate then judges the variant on all of them, like every other variant, and the
start-up check judges it again on each host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from function.core.classifier import AssertionClassifier
from function.core.model_folder import OPENVINO_INT8_FILES, ModelFolder, VariantEntry

RECIPE_NAME = "nncf-static-transformer"


def missing() -> str:
    """'' when openvino and nncf can be imported here, else what is missing."""
    try:
        import nncf  # type: ignore[import-untyped]  # noqa: F401
        import openvino  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as missing:
        return f"{missing.name} is not installed (pip install -r requirements-openvino.txt)"
    return ""


def quantize(folder: ModelFolder, fp32: VariantEntry, sentences: list[str], threads: int) -> VariantEntry:
    """Write the IR into `folder` and return its variant entry (not yet judged)."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(folder.file(fp32.files[0])))
    names = {port.get_any_name() for port in model.inputs}
    calibration = sentences[::2]
    classifier = AssertionClassifier.from_folder(folder, fp32, threads=threads)
    try:
        inputs = classifier.prepare_sentences(
            calibration, where=[f"calibration[{2 * n}]" for n in range(len(calibration))]
        ).inputs
    finally:
        classifier.close()

    def sample(model_input: Any) -> dict[str, np.ndarray]:
        ids = np.array([model_input.ids], dtype=np.int64)
        found = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in names:
            found["token_type_ids"] = np.zeros_like(ids)
        return found

    quantized = nncf.quantize(
        model,
        nncf.Dataset(list(inputs), sample),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(inputs),
    )
    xml, _ = OPENVINO_INT8_FILES
    ov.save_model(quantized, str(folder.file(xml)), compress_to_fp16=False)
    recipe = {
        "name": RECIPE_NAME,
        "summary": (
            "the fused fp32 ONNX graph quantized statically by NNCF (transformer preset: int8 "
            "MatMuls, smooth quant, fast bias correction), served by OpenVINO's CPU plugin"
        ),
        "calibrated_on": f"the {len(inputs)} even-numbered calibration sentences",
        "openvino": ov.__version__,
        "nncf": nncf.__version__,
        "for": "x86 CPUs with VNNI or AMX (0.48x ONNX Runtime's int8 on AVX2)",
    }
    return VariantEntry("openvino", "int8", OPENVINO_INT8_FILES, recipe=recipe)
