"""Start the real entry points as processes, the way they run in production.

`FunctionsFrameworkServer` runs ``functions-framework --asgi`` (gunicorn + uvicorn worker)
on a local port. `LambdaProcess` runs `tests.support.lambda_invoke`, which imports
``function.lambda_handler`` exactly as Lambda's init phase does and then invokes
``handler(event, context)`` once per request, one at a time, as a Lambda execution
environment would. Each process writes its stdout and stderr to a log file the tests read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# Every process started, so that the session's end can stop what a failed test left running.
STARTED: list[ServedProcess] = []


def stop_all() -> int:
    """Stop every process still running; returns how many there were."""
    running = [process for process in STARTED if process.process.poll() is None]
    for process in running:
        process.stop()
    return len(running)


def child_pids(pid: int) -> list[int]:
    """The direct children of a process: gunicorn's workers under a Functions Framework master."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def functions_framework_command() -> list[str]:
    executable = shutil.which("functions-framework", path=str(Path(sys.executable).parent))
    if executable is None:
        executable = shutil.which("functions-framework")
    if executable is None:
        raise RuntimeError("functions-framework is not installed (pip install -r requirements.txt)")
    return [executable]


class ServedProcess:
    """A process that serves HTTP on `port`, logging to `log_path`."""

    def __init__(
        self,
        command: list[str],
        env: Mapping[str, str],
        log_path: Path,
        ready_path: str,
        port: int | None = None,
    ):
        self.port = port or free_port()
        self.log_path = log_path
        self.ready_path = ready_path
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",  # each log line reaches the file as it is written
            "PORT": str(self.port),
            **env,
        }
        self._log = log_path.open("wb")
        STARTED.append(self)
        self.process = subprocess.Popen(
            [part.replace("{port}", str(self.port)) for part in command],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_line(self, needle: str, timeout: float = 10.0) -> str:
        """The first log line holding `needle`; the line of a request is written just after
        its response is sent, so it may take a moment to appear."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((line for line in self.logs().splitlines() if needle in line), None)
            if found is not None or time.monotonic() > deadline:
                if found is None:
                    raise AssertionError(f"no log line holds {needle!r} in {self.log_path.name}")
                return found
            time.sleep(0.05)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Return once it serves; otherwise stop it and raise with the end of its log."""
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.log_path.name} exited with {self.process.returncode}:\n{self.logs()[-4000:]}"
                )
            if self.ready_path.startswith("log:"):  # a target with no GET route: its log says
                if self.ready_path[4:] in self.logs():
                    return
            else:
                try:
                    if httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.log_path.name} not ready after {timeout} s:\n{self.logs()[-4000:]}")

    def refuses_to_start(self, *phrases: str, timeout: float = 120.0) -> str:
        """Assert the process exits non-zero on its own, saying "refusing to start" and each
        phrase; returns its log. The process is stopped whatever happens."""
        try:
            returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            self.stop()
        logs = self.logs()
        assert returncode is not None, f"still running after {timeout} s:\n{logs[-2000:]}"
        assert returncode != 0, logs[-2000:]
        for phrase in ("refusing to start", *phrases):
            assert phrase in logs, logs[-2000:]
        return logs

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a platform stops an instance; then SIGKILL to the whole process group
        (a gunicorn worker or any other child included), so that nothing outlives a test."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: start_new_session
        self.process.wait()
        self._log.close()
        return self.process.returncode


def http_target_command() -> list[str]:
    """The HTTP target as Cloud Run runs it, on loopback; ``{port}`` is filled in at start."""
    return [
        *functions_framework_command(),
        "--source",
        "function/main.py",
        "--target",
        "predict_http",
        "--asgi",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ]


def functions_framework_server(env: Mapping[str, str], log_path: Path) -> ServedProcess:
    return ServedProcess(http_target_command(), env, log_path, "/health")


def pubsub_server(env: Mapping[str, str], log_path: Path, port: int | None = None) -> ServedProcess:
    """The CloudEvent target on Functions Framework's Flask stack, as `make serve-pubsub` runs
    it; ready once the worker has logged that its model is loaded."""
    command = [
        *functions_framework_command(),
        "--source", "function/main.py", "--target", "predict_pubsub", "--signature-type", "cloudevent",
        "--host", "127.0.0.1", "--port", "{port}",
    ]  # fmt: skip
    return ServedProcess(command, env, log_path, 'log:"event": "ready"', port)


def lambda_process(env: Mapping[str, str], log_path: Path) -> ServedProcess:
    command = [sys.executable, "-m", "tests.support.lambda_invoke", "--port", "{port}"]
    return ServedProcess(command, env, log_path, "/ready")
