"""The real Pub/Sub emulator (`gcloud beta emulators pubsub start`), on a free local port.

Its Java child outlives gcloud; both run in a session of their own, which stop() ends whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.servers import free_port


def emulator_missing() -> str | None:
    """Why the emulator cannot run here, or None."""
    if shutil.which("gcloud") is None:
        return "gcloud is not installed (the Pub/Sub emulator comes with it)"
    if shutil.which("java") is None:
        return "java is not installed (the Pub/Sub emulator needs it)"
    return None


class PubSubEmulator:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            ["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port={self.host}", "--quiet"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited: {log_path.read_text()[-2000:]}")
            try:
                httpx.get(f"http://{self.host}/v1/projects/probe/topics", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the emulator did not start: {log_path.read_text()[-2000:]}")

    def freeze(self) -> None:
        """Stop the emulator dead (SIGSTOP to gcloud and its Java child): connections stay open,
        nothing answers, as a service that hangs."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        try:
            self.thaw()
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
