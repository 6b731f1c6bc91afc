"""How the numbers are computed, behind one interface (`Backend`).

A backend turns padded id matrices into logits; everything else (markers, tokenization,
windowing, batching, softmax, labels) lives in the core, so a faster backend is a new file
here and nothing else changes. Each backend module imports its runtime only when loaded:
serving with onnx never imports torch or transformers.
"""

from __future__ import annotations

from function.core.backends.base import Backend
from function.core.errors import ModelFolderError
from function.core.model_folder import ModelFolder, VariantEntry

BACKENDS = ("onnx", "torch")


def load_backend(variant: VariantEntry, folder: ModelFolder, *, threads: int) -> Backend:
    """Load a variant's backend from a baked folder."""
    if variant.backend == "onnx":
        from function.core.backends.onnx_backend import OnnxBackend

        return OnnxBackend(folder, variant, threads=threads)
    if variant.backend == "torch":
        from function.core.backends.torch_backend import TorchBackend

        try:
            return TorchBackend(folder, variant, threads=threads)
        except ImportError as error:  # the serving image carries the onnx backend only
            raise ModelFolderError(
                f"BACKEND=torch needs torch and transformers, which this installation lacks "
                f"({error.name}): install requirements.txt, or serve BACKEND=onnx"
            ) from None
    raise ModelFolderError(f"unknown backend '{variant.backend}'; known: {list(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "load_backend"]
