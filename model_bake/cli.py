"""python -m model_bake: bake a pinned model revision into a verified model folder."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from model_bake import DEFAULT_MODEL_ID, DEFAULT_REVISION
from model_bake.agreement import DEFAULT_MIN_AGREEMENT
from model_bake.bake import BakeRequest, bake
from model_bake.errors import BakeError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m model_bake",
        description=(
            "Download (or copy) the files the runtime needs at a pinned commit, verify them, "
            "convert what needs converting, run a smoke set against the reference pipeline, "
            "and write OUT with a manifest.json. Fails on any mismatch."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--model-id", default=DEFAULT_MODEL_ID, help="hub repository id")
    parser.add_argument(
        "--revision",
        default=None,
        help=f"full commit sha to bake (default for the hub: {DEFAULT_REVISION}); with "
        "--from-dir, the revision the copy is of, recorded in the manifest",
    )
    parser.add_argument(
        "--from-dir",
        type=Path,
        default=None,
        help="bake from a local copy of the model repository instead of the hub (air-gapped builds)",
    )
    parser.add_argument("--force", action="store_true", help="bake again even when OUT is up to date")
    parser.add_argument(
        "--min-agreement",
        type=float,
        default=DEFAULT_MIN_AGREEMENT,
        help="share of calibration sentences on which an exported variant must give the reference's "
        f"label to be servable (default {DEFAULT_MIN_AGREEMENT})",
    )
    parser.add_argument(
        "--threads", type=int, default=min(4, os.cpu_count() or 1), help="CPU threads for the smoke set"
    )
    args = parser.parse_args(argv)
    if args.from_dir is None and args.revision is None:
        args.revision = DEFAULT_REVISION
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="model_bake: %(message)s", stream=sys.stderr)
    # They log one line per HTTP request; the download progress bars say enough.
    for chatty in ("httpx", "httpx2", "filelock"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    request = BakeRequest(
        out=args.out,
        model_id=args.model_id,
        revision=args.revision,
        from_dir=args.from_dir,
        token=os.environ.get("HF_TOKEN") or None,
        force=args.force,
        threads=args.threads,
        min_agreement=args.min_agreement,
    )
    started = time.perf_counter()
    try:
        manifest, written = bake(request)
    except BakeError as error:
        print(f"model_bake: FAILED: {error}", file=sys.stderr)
        return 1
    what = "baked" if written else "up to date, nothing to do:"
    print(
        f"model_bake: {what} {manifest.model_id}@{manifest.revision} in {args.out} "
        f"(servable: {', '.join(manifest.servable_names())}; {time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0
