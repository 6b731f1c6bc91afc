"""The CPU this process runs on: how many CPUs it may really use (the smaller of its affinity
mask and its container's CPU quota: Cloud Run and Lambda limit CPU by quota, not by affinity),
and which int8-relevant features it has (the same image lands on hosts we do not choose)."""

from __future__ import annotations

import functools
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path


def _quota_cpus(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    try:  # cgroup v2: "max 100000" or "200000 100000"
        limit, length = (root / "cpu.max").read_text().split()[:2]
        return None if limit == "max" else int(limit) / int(length)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota = _quota_cpus()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


# The CPU features that decide which int8 kernels ONNX Runtime runs and what they compute:
# x86 u8s8 products are summed exactly with VNNI or AMX, and through 16-bit intermediate sums
# that can saturate on AVX2 and on AVX-512 without VNNI (unless the session asks for the
# slower exact kernels, as every int8 variant here does); arm64 dot-product and matrix
# extensions change the speed, not the sums.
INT8_FLAGS = (
    "avx2",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
    "amx_bf16",
    "asimddp",
    "i8mm",
    "sve",
)


X86_MACHINES = frozenset({"x86_64", "AMD64", "i686", "i386"})
# ONNX Runtime's MLAS multiplies u8 by s8 with VPDPBUSD (AVX-512 VNNI, AVX-VNNI) or AMX tiles
# here: 32-bit sums, no saturation.
EXACT_U8S8_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@dataclass(frozen=True)
class CpuFeatures:
    """Which CPU this process runs on, as far as the int8 kernels care."""

    model: str
    machine: str
    flags: tuple[str, ...]  # the INT8_FLAGS present, in that order

    @property
    def kind(self) -> str:
        """A short name for the family of int8 kernels this CPU gets."""
        flags = set(self.flags)
        if self.machine in X86_MACHINES:
            for flag, name in (
                ("amx_int8", "AMX"),
                ("avx512_vnni", "AVX-512 VNNI"),
                ("avx_vnni", "AVX-VNNI"),
                ("avx512bw", "AVX-512, no VNNI"),
                ("avx2", "AVX2, no VNNI"),
            ):
                if flag in flags:
                    return f"x86_64 {name}"
            return "x86_64 without AVX2"
        if self.machine in {"aarch64", "arm64"}:
            extras = [name for flag, name in (("i8mm", "i8mm"), ("asimddp", "dotprod")) if flag in flags]
            return "arm64" + (f" {'+'.join(extras)}" if extras else "")
        return self.machine or "unknown"

    @property
    def exact_u8s8(self) -> bool:
        """Whether ONNX Runtime's x86 u8s8 kernels sum exactly here (VNNI or AMX), so that an
        int8 graph needs no conversion of its weights to uint8 (which takes slower kernels)."""
        return self.machine in X86_MACHINES and bool(set(self.flags) & EXACT_U8S8_FLAGS)

    def as_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "machine": self.machine,
            "kind": self.kind,
            "flags": list(self.flags),
            "exact_u8s8": self.exact_u8s8,
        }


@functools.cache
def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuFeatures:
    """Read once per process: the first processor's model name and its int8-relevant flags
    (Linux's /proc/cpuinfo; elsewhere the model from `platform` and no flags)."""
    model, flags = "", set()
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in {"model name", "cpu model", "processor"} and not model and not value.strip().isdigit():
                model = value.strip()
            elif key in {"flags", "features"}:
                flags.update(value.split())
                if model:
                    break
    except OSError:
        pass
    return CpuFeatures(
        model=model or platform.processor() or "unknown",
        machine=platform.machine(),
        flags=tuple(flag for flag in INT8_FLAGS if flag in flags),
    )
