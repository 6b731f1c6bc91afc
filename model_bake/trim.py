"""python -m model_bake.trim DIR --backend onnx [--precision auto]: keep only what serving
reads.

The folder keeps its manifest (which still lists every variant, with the bake's verdicts)
and the common files; every other file is removed unless a kept variant reads it:
`--precision auto` keeps what PRECISION=auto may serve (the fastest servable variant, and
the ones it falls back on when it fails its start-up check on the serving CPU: int8, then
fp32), `int8` or `fp32` just that one (a folder with nothing to fall back on refuses to
start where its variant fails the check), `all` every servable variant of the backend. A
kept variant keeps every file it may read on any CPU (the int8 graph's two copies: the image
is built on one CPU and served on others). The runtime checks only the files of the variants
it may serve, and refuses the others by name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from function.core.errors import ModelFolderError
from function.core.model_folder import COMMON_FILES, MANIFEST_NAME, ModelFolder


def trim(folder_path: Path, backend: str, precision: str = "auto") -> list[str]:
    """Remove what the kept variant(s) do not need; returns the names removed."""
    folder = ModelFolder.open(folder_path)
    if precision == "all":
        variants = [v for v in folder.manifest.variants.values() if v.backend == backend and v.servable]
        if not variants:
            raise ModelFolderError(f"{folder_path} has no servable {backend} variant to keep")
    else:
        variants = folder.candidates(backend, precision)
    keep = {MANIFEST_NAME, *COMMON_FILES, *(name for v in variants for name in v.all_files)}
    removed = []
    for path in sorted(folder_path.iterdir()):
        if path.is_file() and path.name not in keep:
            path.unlink()
            removed.append(path.name)
    return removed


def main(argv: list[str] | None = None) -> int:
    summary = (__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m model_bake.trim", description=summary)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--backend", choices=("onnx", "torch"), required=True)
    parser.add_argument("--precision", choices=("auto", "fp32", "int8", "all"), default="auto")
    args = parser.parse_args(argv)
    try:
        removed = trim(args.folder, args.backend, args.precision)
    except ModelFolderError as error:
        print(f"model_bake.trim: FAILED: {error}", file=sys.stderr)
        return 1
    gone = ", ".join(removed) or "nothing"
    print(f"model_bake.trim: kept {args.backend} ({args.precision}); removed {gone}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
