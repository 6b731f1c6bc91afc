"""A local server that answers like Secret Manager's REST API and Google's OAuth token
endpoint (Secret Manager has no emulator). The real google-cloud-secret-manager client,
with real service-account credentials from GOOGLE_APPLICATION_CREDENTIALS (a key made for
the test), talks to it; the server checks the RS256 signature of whatever token the client
presents: an access token it issued, or a self-signed JWT."""

from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

import google_crc32c
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.local_server import LocalServer

ACCESS_TOKEN = "ya29.local-test-token"
CLIENT_EMAIL = "assertion-test@test-project.iam.gserviceaccount.com"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class FakeSecretManager(LocalServer):
    def __init__(self) -> None:
        self.versions: dict[str, bytes] = {}
        self.bad_checksum: set[str] = set()
        self.requests: list[tuple[str, str, str]] = []  # method, path, how the caller proved itself
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        super().__init__()

    def credentials_file(self, folder: Path) -> Path:
        """A service-account key file whose token endpoint is this server."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        path = folder / "credentials.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "test-project",
                    "private_key_id": "local-test-key",
                    "private_key": pem,
                    "client_email": CLIENT_EMAIL,
                    "client_id": "1234567890",
                    "token_uri": f"{self.url}/token",
                }
            )
        )
        return path

    def signed_by_key(self, token: str) -> bool:
        """A JWT signed with the test key (RS256), issued by the test service account."""
        try:
            header, claims, signature = token.split(".")
            self._key.public_key().verify(
                _b64decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            return json.loads(_b64decode(claims))["iss"] == CLIENT_EMAIL
        except Exception:  # noqa: BLE001 (any malformed token is simply not ours)
            return False

    def proof(self, authorization: str | None) -> str:
        token = (authorization or "").removeprefix("Bearer ")
        if token == ACCESS_TOKEN:
            return "access-token"
        return "self-signed-jwt" if token and self.signed_by_key(token) else "none"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()))
                fake.requests.append(("POST", self.path, "assertion"))
                if urlparse(self.path).path == "/token" and fake.signed_by_key(form.get("assertion", "")):
                    self._json(
                        200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
                    )
                elif urlparse(self.path).path == "/token":
                    self._json(400, {"error": "invalid_grant"})
                else:
                    self._json(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})

            def do_GET(self) -> None:
                path = unquote(urlparse(self.path).path)
                proof = fake.proof(self.headers.get("Authorization"))
                fake.requests.append(("GET", path, proof))
                if proof == "none":
                    self._json(
                        401,
                        {"error": {"code": 401, "message": "no credentials", "status": "UNAUTHENTICATED"}},
                    )
                    return
                name = path.removeprefix("/v1/").removesuffix(":access")
                if not path.endswith(":access") or name not in fake.versions:
                    self._json(
                        404, {"error": {"code": 404, "message": f"{name} not found", "status": "NOT_FOUND"}}
                    )
                    return
                data = fake.versions[name]
                checksum = google_crc32c.value(data) + (1 if name in fake.bad_checksum else 0)
                payload = {"data": base64.b64encode(data).decode(), "dataCrc32c": str(checksum)}
                self._json(200, {"name": name, "payload": payload})

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
