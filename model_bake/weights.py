"""Weights in the one format the runtime reads: safetensors."""

from __future__ import annotations

from pathlib import Path

from model_bake.errors import BakeError


def convert_pytorch_bin(source: Path, target: Path) -> None:
    """pytorch_model.bin -> model.safetensors. Older revisions of hub models ship only the
    pickle format; it is loaded with weights_only=True so a crafted file cannot run code."""
    import torch
    from safetensors.torch import save_file

    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (unpickling errors come in many types)
        raise BakeError(f"{source}: cannot be loaded as torch weights: {error!r}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BakeError(f"{source}: is not a state dict of tensors")
    # Tied or shared tensors cannot be written as views; each gets its own copy.
    save_file(
        {name: tensor.detach().contiguous().clone() for name, tensor in state.items()},
        str(target),
        metadata={"format": "pt"},
    )
