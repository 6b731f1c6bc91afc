"""Measurements of a served process over real HTTP: cold start, latency, throughput, memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from function.core.cpus import cpu_features
from tests.support.servers import child_pids, free_port

RESULTS = Path(__file__).resolve().parent / "results"


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


def int8_env(tree: Path, baked: Path) -> dict[str, str]:
    """The environment of the served int8 variant of `baked`, run from source tree `tree`."""
    return {"PYTHONPATH": str(tree), "MODEL_DIR": str(baked), "BACKEND": "onnx", "PRECISION": "int8"}


def save_results(suffix: str, title: str, text: str, detail: str = "") -> None:
    """A standalone comparison's figures on the bench model in `results_file(suffix)`, headed
    by when and on which CPU they were measured."""
    features = cpu_features()
    results_file(suffix).write_text(
        f"# {title}\n\nMeasured {datetime.now(UTC).isoformat(timespec='seconds')} on "
        f"**{features.model}, {features.kind}** ({os.cpu_count()} CPUs){', ' + detail if detail else ''}, "
        f"bench model (BERT-base-shaped, random weights).\n\n{text}"
    )


def results_file(suffix: str = "") -> Path:
    """Where a run's figures stay for this CPU kind (`bench/results/<cpu>[.suffix].md`):
    figures differ between kinds, so the latest run of each stays beside the others."""
    features = cpu_features()
    slug = re.sub(r"[^a-z0-9]+", "-", f"{features.model} {features.kind}".lower()).strip("-")
    RESULTS.mkdir(exist_ok=True)
    return RESULTS / f"{slug}{'.' + suffix if suffix else ''}.md"


DROP_CACHES = Path("/proc/sys/vm/drop_caches")
TICK = os.sysconf("SC_CLK_TCK")


def can_drop_page_cache() -> bool:
    return os.geteuid() == 0 and os.access(DROP_CACHES, os.W_OK)


def drop_page_cache() -> None:
    """Forget every cached file, as a fresh instance that just pulled the image has none."""
    os.sync()
    DROP_CACHES.write_text("3\n")


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


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_post.lua"


def throughput(server: Server, sentences: Sequence[str], concurrency: int, seconds: float = 10.0) -> float:
    """Sentences per second with `concurrency` connections, each sending one sentence per
    request and the next as soon as the answer is in. Uses wrk (a C load generator, so the
    two cores go to the server, not the client) when installed, else an asyncio client."""
    if shutil.which("wrk"):
        return _wrk_throughput(server, sentences, concurrency, seconds)
    return _python_throughput(server, sentences, concurrency)


@contextlib.contextmanager
def wrk_bodies(sentences: Sequence[str]) -> Iterator[str]:
    """A file of request bodies, one JSON line per sentence, for bench/wrk_post.lua."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as bodies:
        for sentence in sentences:
            bodies.write(json.dumps({"sentence": sentence}) + "\n")
    try:
        yield bodies.name
    finally:
        os.unlink(bodies.name)


def run_wrk(server: Server, bodies: str, concurrency: int, seconds: float, *, timeout: str = "60s",
            latency: bool = False) -> str:  # fmt: skip
    """One wrk run POSTing the bodies in turn to /predict; its report."""
    return subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "--timeout", timeout,
         *(["--latency"] if latency else []), "-s", str(WRK_SCRIPT), server.url],
        env={**os.environ, "BODIES": bodies}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def _wrk_throughput(server: Server, sentences: Sequence[str], concurrency: int, seconds: float) -> float:
    with wrk_bodies(sentences) as bodies:
        report = run_wrk(server, bodies, concurrency, seconds)
    if "Non-2xx" in report or "Socket errors" in report:
        raise RuntimeError(f"wrk saw failed requests:\n{report}")
    return requests_per_s(report)


def requests_per_s(report: str) -> float:
    """The rate a wrk report gives."""
    match = re.search(r"Requests/sec:\s+([0-9.]+)", report)
    if match is None:
        raise RuntimeError(f"cannot read wrk's output:\n{report}")
    return float(match.group(1))


def _python_throughput(server: Server, sentences: Sequence[str], concurrency: int) -> float:
    async def run() -> float:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for sentence in sentences:
            queue.put_nowait(sentence)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:

            async def caller() -> None:
                while not queue.empty():
                    reply = await client.post("/predict", json={"sentence": queue.get_nowait()})
                    reply.raise_for_status()

            began = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(concurrency)))
            return len(sentences) / (time.perf_counter() - began)

    return asyncio.run(run())


def worker_peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of the process that serves, in MB: the worker when `pid`
    is a pre-forking master (gunicorn), else `pid` itself."""
    serving = child_pids(pid) or [pid]
    return max(memory_kb(task).get("VmHWM", 0) for task in serving) / 1024


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def thread_ticks(pid: int) -> dict[int, int]:
    """utime + stime of every thread of a process, in clock ticks."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended
            continue
        ticks[int(tid)] = int(fields[11]) + int(fields[12])
    return ticks


def wait_until_idle(pid: int, timeout: float = 120.0) -> None:
    """Until the worker spends under 5 % of a core for half a second: the requests wrk
    abandoned when a run ended are still computed (nobody reads their answers) and would
    count against the next window."""
    deadline = time.monotonic() + timeout
    before = sum(thread_ticks(pid).values())
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(thread_ticks(pid).values())
        if now - before < 0.05 * 0.5 * TICK:
            return
        before = now
    raise RuntimeError(f"process {pid} did not become idle within {timeout:.0f} s")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
