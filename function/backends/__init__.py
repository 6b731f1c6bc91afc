"""How the numbers are computed, behind one interface (`Backend`).

A backend turns padded id matrices into logits; everything else (markers, tokenization,
windowing, batching, softmax, labels) lives in the core, so a faster backend is a new file
here and nothing else changes.
"""

from __future__ import annotations

from function.backends.base import Backend
from function.errors import ModelFolderError
from function.model_folder import ModelFolder

BACKENDS = ("torch",)


def load_backend(name: str, folder: ModelFolder, *, threads: int) -> Backend:
    """Load backend `name` from a baked folder; imports only what that backend needs."""
    entry = folder.backend(name)
    if name == "torch":
        from function.backends.torch_backend import TorchBackend

        return TorchBackend(folder, entry, threads=threads)
    raise ModelFolderError(f"unknown backend '{name}'; known: {list(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "load_backend"]
