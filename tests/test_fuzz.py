"""What nobody thought of: schemathesis over the real server's /openapi.json (every route and
method, positive and negative data, with and without a key), and the raw-socket cases a
schema cannot express (a chunked body past MAX_BODY_BYTES, a body that stops mid-way,
oversized and duplicated headers, a slow client).

schemathesis runs as a user runs it (its CLI, a fixed seed; FUZZ_EXAMPLES and FUZZ_SEED vary
them) against Functions Framework on a local port, with our own check loaded as a hook
(tests/support/fuzz_hooks.py): no answer repeats a text the request sent, and afterwards no
such text is in the server's log. Findings so far, each now a regression test here or in
test_contract.py: a PUT on /health answered 415 instead of 405; an entity filtered out by
entity_types skipped its offset checks.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.keys import KEY_A
from tests.support.servers import ROOT, ServedProcess, functions_framework_server

MAX_BODY = 4096
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "400")
SEED = os.environ.get("FUZZ_SEED", "20261201")
# What JSON Schema cannot say about these two routes (a span inside its text, start < end, a
# tool's own output shape): schema-valid data is often rightly refused, so the check that
# valid data is accepted is off there, and on there for the sentence routes.
CONFIG = """
# A body over MAX_BODY_BYTES is refused before it is parsed, with 413: a rejection too.
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 413, 415, 422]

[[operations]]
include-path = "/predict/spans"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/predict/entities"
checks.positive_data_acceptance.enabled = false
"""
# Without a key, authentication answers before routing: an unknown method gets 401, not 405,
# on purpose (nothing about the API is told to a caller without a key).
NO_KEY_CONFIG = (
    CONFIG
    + """
[checks]
unsupported_method.enabled = false
"""
)


def schemathesis() -> Path:
    found = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "schemathesis"
    if not found.is_file():
        pytest.skip(f"schemathesis is not installed ({found}): pip install -r requirements-dev.txt")
    return found


@pytest.fixture(scope="module")
def server(baked_model: Path, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    env = {"MODEL_DIR": str(baked_model), "API_KEYS": KEY_A, "MAX_BODY_BYTES": str(MAX_BODY)}
    served = functions_framework_server(env, log)
    served.wait_ready()
    yield served
    served.stop()


def run_schemathesis(
    server: ServedProcess, tmp_path: Path, config: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    (tmp_path / "schemathesis.toml").write_text(config)
    sent = tmp_path / "sent.jsonl"
    result = subprocess.run(
        [str(schemathesis()), "--config-file", str(tmp_path / "schemathesis.toml"), "run", *args,
         "--max-examples", EXAMPLES, "--seed", SEED, "--no-shrink", "--no-color",
         "--report", "junit", "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",
             "FUZZ_SENT_TEXTS": str(sent)},
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    texts = [json.loads(line) for line in sent.read_text().splitlines()] if sent.exists() else []
    return result, texts


def generated(output: str) -> int:
    found = re.search(r"(\d+) generated", output)
    return int(found.group(1)) if found else 0


def test_schemathesis_with_a_key_finds_nothing(server: ServedProcess, tmp_path: Path) -> None:
    result, texts = run_schemathesis(
        server, tmp_path, CONFIG, f"{server.url}/openapi.json", "--header", f"X-API-Key: {KEY_A}"
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert generated(result.stdout) >= 5 * 50, result.stdout[-2000:]
    print(f"schemathesis with a key: {generated(result.stdout)} cases, {len(texts)} texts checked")
    assert texts, "the echo check ran and saw texts"
    logs = server.logs()
    assert not [text for text in texts if text.strip() in logs], "a request's text reached the log"
    assert '"status": 500' not in logs


def test_schemathesis_without_a_key_gets_401_everywhere_but_health(
    server: ServedProcess, tmp_path: Path
) -> None:
    schema = tmp_path / "openapi.json"
    schema.write_text(httpx.get(f"{server.url}/openapi.json", headers={"X-API-Key": KEY_A}).text)
    before = server.logs().count('"status": 401')
    result, _ = run_schemathesis(server, tmp_path, NO_KEY_CONFIG, str(schema), "--url", server.url)
    assert result.returncode == 0, result.stdout[-6000:]
    assert server.logs().count('"status": 401') - before >= 50
    print(f"schemathesis without a key: {generated(result.stdout)} cases")


def test_published_rules_let_generated_sentences_through(server: ServedProcess) -> None:
    """The schema's pattern is what the route accepts: its own example passes, and so does a
    sentence built from the pattern's shape with odd characters."""
    openapi = httpx.get(f"{server.url}/openapi.json", headers={"X-API-Key": KEY_A}).json()
    rule = openapi["components"]["schemas"]["PredictRequest"]["properties"]["sentence"]
    for sentence in [*rule["examples"], "x[entity]\u00e9\u2192\U0001f637[entity]", "[entity]][entity]"]:
        assert re.search(rule["pattern"], sentence)
        reply = httpx.post(f"{server.url}/predict", json={"sentence": sentence}, headers={"X-API-Key": KEY_A})
        assert reply.status_code == 200, (sentence, reply.text)


# --- raw sockets: what a schema cannot express --------------------------------------------


def raw(server: ServedProcess, data: bytes, *, read: bool = True, timeout: float = 20.0) -> bytes:
    """Send bytes as they are; the answer, or what came before the server closed the
    connection (b"" when it closed without a word)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as conn:
        try:
            conn.sendall(data)
            while read and (chunk := conn.recv(65536)):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            pass
    return b"".join(chunks)


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.") else 0


def head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"X-API-Key: {KEY_A}", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def still_serves(server: ServedProcess) -> None:
    reply = httpx.post(
        f"{server.url}/predict",
        json={"sentence": "No [entity] fever [entity]."},
        headers={"X-API-Key": KEY_A},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text


def test_a_chunked_body_past_the_limit_is_413_without_content_length(server: ServedProcess) -> None:
    chunk = b'{"sentence": "' + b"a" * 1000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
    reply = raw(
        server, head("/predict", "Content-Type: application/json", "Transfer-Encoding: chunked") + body
    )
    assert status(reply) == 413 and b"body_too_large" in reply
    still_serves(server)


def test_a_body_that_stops_midway_costs_nothing_and_the_server_goes_on(server: ServedProcess) -> None:
    partial = (
        head("/predict", "Content-Type: application/json", "Content-Length: 500") + b'{"sentence": "No [ent'
    )
    before = server.logs().count('"error_code": "client_disconnected"')
    for _ in range(5):
        raw(server, partial, read=False)
    still_serves(server)
    logs = server.logs()
    assert '"status": 500' not in logs, "a caller who went away is not a fault of ours"
    assert logs.count('"error_code": "client_disconnected"') - before == 5, "each logged as a 499"


def test_oversized_and_duplicated_headers_are_refused_or_handled_never_500(server: ServedProcess) -> None:
    body = b'{"sentence": "No [entity] fever [entity]."}'
    huge = raw(server, head("/predict", "Content-Type: application/json", f"X-Junk: {'j' * 200_000}",
                            f"Content-Length: {len(body)}") + body)  # fmt: skip
    assert 400 <= status(huge) < 500 or huge == b"", huge[:200]
    twice = raw(server, head("/predict", "Content-Type: application/json", "Content-Type: text/plain",
                             f"Content-Length: {len(body)}") + body)  # fmt: skip
    assert status(twice) in (200, 400, 415), twice[:300]
    lengths = raw(server, head("/predict", "Content-Type: application/json", f"Content-Length: {len(body)}",
                               "Content-Length: 3") + body)  # fmt: skip
    assert status(lengths) in (400, 0) or 400 <= status(lengths) < 500, lengths[:300]
    keys = raw(server, head("/predict", "Content-Type: application/json", "X-API-Key: wrong-key-0000000000",
                            f"Content-Length: {len(body)}") + body)  # fmt: skip
    assert status(keys) in (200, 401), keys[:300]
    still_serves(server)


def test_a_slow_client_does_not_hold_up_the_others(server: ServedProcess) -> None:
    body = b'{"sentence": "No [entity] fever [entity]."}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as slow:
        slow.sendall(head("/predict", "Content-Type: application/json", f"Content-Length: {len(body)}"))
        slow.sendall(body[:10])  # and then nothing, for a while
        for _ in range(5):  # answered while the slow request is still open
            still_serves(server)
        slow.sendall(body[10:])
        reply = slow.recv(65536)
    assert status(reply) == 200, reply[:300]
