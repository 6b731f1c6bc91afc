"""A local HTTP server that answers like the Hugging Face hub, for the bake's download path
(the real hub is unreachable here; `HF_ENDPOINT` points huggingface_hub at this instead).

It serves repositories of files at commits: the model-info API (with file sizes, LFS sha256
and git blob ids, as the hub publishes them) and the ``resolve`` file endpoint with the
hub's headers. A file can be published with one content and served with another, to play
a corrupted or tampered download.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlparse

from tests.support.local_server import LocalServer

LFS_SUFFIXES = (".safetensors", ".bin", ".onnx")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class Commit:
    files: dict[str, bytes]
    served: dict[str, bytes] = field(default_factory=dict)  # overrides: what is really sent

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        entry: dict = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
        if name.endswith(LFS_SUFFIXES):
            entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return entry


class FakeHub(LocalServer):
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, Commit]] = {}
        self.requests: list[str] = []
        super().__init__()

    def publish(self, repo: str, sha: str, folder: Path, names: list[str] | None = None) -> Commit:
        names = names or sorted(p.name for p in folder.iterdir() if p.is_file())
        commit = Commit({name: (folder / name).read_bytes() for name in names})
        self.repos.setdefault(repo, {})[sha] = commit
        return commit

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._answer(head=True)

            def do_GET(self) -> None:
                self._answer(head=False)

            def _answer(self, head: bool) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"] and "revision" in parts:
                    at = parts.index("revision")
                    self._model_info("/".join(parts[2:at]), parts[at + 1])
                elif "resolve" in parts:
                    at = parts.index("resolve")
                    self._file("/".join(parts[:at]), parts[at + 1], "/".join(parts[at + 2 :]), head)
                else:
                    self._error(404, "EntryNotFound", "not found")

            def _commit(self, repo: str, revision: str) -> Commit | None:
                if repo not in hub.repos:
                    self._error(404, "RepoNotFound", "Repository not found")
                    return None
                if revision not in hub.repos[repo]:
                    self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                    return None
                return hub.repos[repo][revision]

            def _model_info(self, repo: str, revision: str) -> None:
                commit = self._commit(repo, revision)
                if commit is None:
                    return
                body = {
                    "_id": "0" * 24,
                    "id": repo,
                    "modelId": repo,
                    "sha": revision,
                    "private": False,
                    "disabled": False,
                    "gated": False,
                    "downloads": 0,
                    "likes": 0,
                    "tags": [],
                    "siblings": [commit.sibling(name) for name in sorted(commit.files)],
                }
                self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

            def _file(self, repo: str, revision: str, name: str, head: bool) -> None:
                commit = self._commit(repo, revision)
                if commit is None:
                    return
                if name not in commit.files:
                    self._error(404, "EntryNotFound", f"{name} does not exist")
                    return
                data = commit.served.get(name, commit.files[name])
                published = commit.sibling(name)
                etag = published.get("lfs", {}).get("sha256") or published["blobId"]
                headers = {
                    "Content-Type": "application/octet-stream",
                    "X-Repo-Commit": revision,
                    "ETag": f'"{etag}"',
                }
                if "lfs" in published:
                    headers["X-Linked-Etag"] = f'"{etag}"'
                    headers["X-Linked-Size"] = str(published["size"])
                self._send(200, b"" if head else data, headers, length=len(data))

            def _error(self, status: int, code: str, message: str) -> None:
                body = json.dumps({"error": message}).encode()
                self._send(status, body, {"Content-Type": "application/json", "X-Error-Code": code})

            def _send(
                self, status: int, body: bytes, headers: dict[str, str], length: int | None = None
            ) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
