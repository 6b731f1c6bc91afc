"""Measurements of a served process over real HTTP: cold start, latency, throughput, memory."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import free_port


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    started: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(command: Sequence[str], env: Mapping[str, str], cwd: Path) -> Server:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        cwd=cwd,
        env={**os.environ, **env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Server(process, port, started)


def first_answer(server: Server, sentence: str, timeout: float = 300.0) -> float:
    """Seconds from process start to the first 200 from /predict."""
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=60) as client:
        while time.perf_counter() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server exited with {server.process.returncode}")
            try:
                if client.post(f"{server.url}/predict", json={"sentence": sentence}).status_code == 200:
                    return time.perf_counter() - server.started
            except httpx.HTTPError:
                time.sleep(0.02)
    raise TimeoutError("no answer")


def latencies(server: Server, sentences: Sequence[str]) -> list[float]:
    """One request at a time on one kept-alive connection: batch-1 latency in seconds."""
    out = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for sentence in sentences:
            began = time.perf_counter()
            reply = client.post("/predict", json={"sentence": sentence})
            out.append(time.perf_counter() - began)
            reply.raise_for_status()
    return out


def throughput(server: Server, sentences: Sequence[str], concurrency: int) -> float:
    """Sentences per second with `concurrency` callers each sending one sentence at a time."""
    chunks = [sentences[index::concurrency] for index in range(concurrency)]

    def caller(chunk: Sequence[str]) -> int:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for sentence in chunk:
                client.post("/predict", json={"sentence": sentence}).raise_for_status()
        return len(chunk)

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(caller, chunks))
    return done / (time.perf_counter() - began)


def tree_rss_peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) summed over a process and its children, in MB."""
    total = 0
    for task in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{task}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += [int(child), *_children(int(child))]
    return found


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
