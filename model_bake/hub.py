"""Download the files the runtime needs, at one pinned commit, and check each one against
the checksum the hub publishes for it (sha256 for LFS files, the git blob id for the rest)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from model_bake.errors import BakeError

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json")
OPTIONAL_FILES = ("tokenizer_config.json", "special_tokens_map.json")


def require_commit(revision: str) -> None:
    if not COMMIT_SHA.fullmatch(revision):
        raise BakeError(
            f"revision '{revision}' is not a full commit sha (40 hex digits): branches and "
            "tags move, and a build must bake the same bytes every time"
        )


def select_files(present: set[str], model_id: str, revision: str) -> list[str]:
    """The files to download, or a BakeError naming what the revision lacks."""
    where = f"revision {revision} of {model_id}"
    listing = f"(it has: {sorted(present)})"
    if "config.json" not in present:
        raise BakeError(f"{where} has no config.json {listing}")
    weights = [name for name in WEIGHT_FILES if name in present][:1]
    if not weights:
        raise BakeError(f"{where} has neither {' nor '.join(WEIGHT_FILES)} {listing}")
    tokenizer = [name for name in TOKENIZER_FILES if name in present]
    if not tokenizer:
        raise BakeError(f"{where} has no tokenizer files ({' or '.join(TOKENIZER_FILES)}) {listing}")
    optional = [name for name in OPTIONAL_FILES if name in present]
    return ["config.json", *tokenizer, *optional, *weights]


def git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_published(path: Path, sibling: Any, where: str) -> None:
    """Compare a downloaded file with the size and checksum the hub lists for it."""
    size = path.stat().st_size
    lfs = sibling.lfs
    expected_size = lfs.size if lfs else sibling.size
    if expected_size is not None and size != expected_size:
        raise BakeError(f"{where}: downloaded {size} bytes, the hub lists {expected_size}")
    if lfs:
        from function.core.model_folder import sha256_file

        actual, expected, kind = sha256_file(path), lfs.sha256, "sha256"
    elif sibling.blob_id:
        actual, expected, kind = git_blob_sha1(path), sibling.blob_id, "git blob id"
    else:
        raise BakeError(f"{where}: the hub publishes no checksum for it; refusing an unverified file")
    if actual != expected:
        raise BakeError(
            f"{where}: {kind} {actual} differs from the {expected} the hub publishes "
            "(corrupted or tampered download)"
        )


def fetch(model_id: str, revision: str, download_dir: Path, token: str | None = None) -> Path:
    """Download and verify; returns the folder holding the files."""
    from huggingface_hub import HfApi, constants, hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    require_commit(revision)
    endpoint = constants.ENDPOINT
    try:
        info = HfApi(token=token).model_info(model_id, revision=revision, files_metadata=True)
    except RevisionNotFoundError:
        raise BakeError(f"{model_id} has no revision {revision} on {endpoint}") from None
    except RepositoryNotFoundError:
        raise BakeError(f"{model_id} is not on {endpoint} (or it is private: set HF_TOKEN)") from None
    except Exception as error:  # noqa: BLE001 (network, proxy, TLS: say which endpoint and how)
        raise BakeError(
            f"cannot read {model_id}@{revision} from {endpoint}: {error!r}. Without access to the "
            f"hub: bake a local copy of the model repository (python -m model_bake --from-dir DIR, "
            f"or make serve FROM_DIR=DIR), serve a folder baked elsewhere (make serve MODEL_DIR=DIR), "
            f"point HF_ENDPOINT at a mirror, or try the API on a random demo model (make serve-demo)"
        ) from None
    if info.sha != revision:
        raise BakeError(f"{endpoint} answered for commit {info.sha} when {revision} was asked")
    siblings = {sibling.rfilename: sibling for sibling in info.siblings or []}
    for name in select_files(set(siblings), model_id, revision):
        where = f"{model_id}@{revision[:12]}/{name}"
        try:
            path = hf_hub_download(model_id, name, revision=revision, local_dir=download_dir, token=token)
        except Exception as error:  # noqa: BLE001 (any download failure fails the bake, named)
            raise BakeError(f"{where}: download failed: {error!r}") from None
        check_published(Path(path), siblings[name], where)
    return download_dir
