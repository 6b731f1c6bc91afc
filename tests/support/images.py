"""Build and run the project's images with podman, as they would run in production.

There is no registry here: the base image is built from Debian with debootstrap (once, then
reused from podman's storage), the Python wheels come from PyPI and the torch CPU wheel from
the folder pip is configured with, and the model is a small one baked from a local copy in
the build context (MODEL_SOURCE=local). See ../shared/tools/README.md for why each flag.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

from tests.support.servers import ROOT

# Sizes and build times the image tests measured (the README shows them).
REPORT = ROOT / ".image-test" / "report.json"
CONTAINERS_CONF = ROOT.parent / "shared" / "tools" / "containers" / "containers.conf"
BASE_TAG = "localhost/assertion-base:bookworm"
CONTEXT_FILES = (
    "Dockerfile",
    ".dockerignore",
    "requirements.txt",
    "requirements-serve.txt",
    "requirements-lambda.txt",
    "requirements-beam.txt",
)
CONTEXT_DIRS = ("function", "model_bake")


def podman_missing() -> str | None:
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman runc debootstrap)"
    if not CONTAINERS_CONF.is_file():
        return f"{CONTAINERS_CONF} is missing (podman needs its runc/cgroupfs settings here)"
    return None


def podman(*args: str, check: bool = True, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"podman {' '.join(args[:3])} failed ({result.returncode}):\n{result.stderr[-4000:]}"
        )
    return result


def debian_mirror() -> str:
    policy = subprocess.run(["apt-cache", "policy"], capture_output=True, text=True).stdout
    found = re.search(r"(https?://\S+/debian)\s+bookworm/main", policy)
    return found.group(1) if found else "http://deb.debian.org/debian"


def base_image(work: Path) -> str:
    """BASE_IMAGE from the environment, else a cached local Debian bookworm with Python 3.11."""
    if os.environ.get("BASE_IMAGE"):
        return os.environ["BASE_IMAGE"]
    if podman("image", "exists", BASE_TAG, check=False).returncode == 0:
        return BASE_TAG
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        raise RuntimeError("no BASE_IMAGE given, and building one needs debootstrap run as root")
    rootfs = work / "rootfs"
    subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,python3-pip,ca-certificates",
         "bookworm", str(rootfs), debian_mirror()],
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(rootfs / cache, ignore_errors=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    subprocess.run(
        ["podman", "import", "-", BASE_TAG], stdin=tar.stdout, env=env, check=True, capture_output=True
    )
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    return BASE_TAG


def build_context(work: Path, model_source: Path) -> Path:
    """The project's build inputs and a model copy in ./model-source, apart from the checkout
    (so a user's own model-source folder is never touched)."""
    context = work / "context"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    for name in CONTEXT_FILES:
        shutil.copy(ROOT / name, context / name)
    for name in CONTEXT_DIRS:
        shutil.copytree(ROOT / name, context / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(model_source, context / "model-source")
    return context


def build(context: Path, base: str, target: str, tag: str) -> float:
    """Seconds to build `target` of the Dockerfile as `tag`."""
    cafile = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    wheels = subprocess.run(
        ["pip", "config", "get", "global.find-links"], capture_output=True, text=True
    ).stdout.strip()
    args = ["build", "--format", "docker", "--network", "host", "--layers=false", "--target", target, "-t", tag,
            "-v", f"{cafile}:{cafile}:ro", "--build-arg", f"PIP_CERT={cafile}", "--build-arg", f"BASE_IMAGE={base}",
            "--build-arg", "MODEL_SOURCE=local", "--build-arg", "MIN_AGREEMENT=0.9"]  # fmt: skip
    if wheels and Path(wheels).is_dir():  # the torch CPU wheel lies here; the PyTorch index is unreachable
        args += [
            "-v",
            f"{wheels}:{wheels}:ro",
            "--build-arg",
            f"FIND_LINKS={wheels}",
            "--build-arg",
            "TORCH_INDEX_URL=",
        ]
    began = time.perf_counter()
    podman(*args, str(context))
    return time.perf_counter() - began


def image_size_mb(tag: str) -> float:
    return int(podman("image", "inspect", tag, "--format", "{{.Size}}").stdout.strip()) / 1e6
