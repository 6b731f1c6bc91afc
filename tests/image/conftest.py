"""The images, built once per image-test session and shared by its modules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.support.images import (
    REPORT,
    base_image,
    build,
    build_context,
    image_size_mb,
    podman,
    podman_missing,
)
from tests.support.models import build_bert_folder


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if podman_missing():
        pytest.skip(str(podman_missing()))
    work = tmp_path_factory.mktemp("image")
    context = build_context(work, build_bert_folder(work / "model-source"))
    base = base_image(work)
    tags = {"runtime": f"localhost/assertion:test-{uuid.uuid4().hex[:6]}"}
    tags["lambda"] = tags["runtime"] + "-lambda"
    tags["bulk"] = tags["runtime"] + "-bulk"
    report = {"base_image": base, "build_seconds": {}, "size_mb": {}}
    for target, tag in tags.items():
        report["build_seconds"][target] = round(build(context, base, target, tag), 1)
        report["size_mb"][target] = round(image_size_mb(tag))
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    yield tags
    for tag in tags.values():
        podman("rmi", "-f", tag, check=False)
