"""Which device a training stage runs on, and whether its `auto` switches turn on there."""

from __future__ import annotations

import contextlib

import torch


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    """`auto`: the process's CUDA device when there is one, else the CPU."""
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device is cuda but no CUDA device is available")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def switch(value: str, device: torch.device) -> bool:
    """An on/off/auto setting; auto is on with CUDA only (torch.compile is slower on CPU)."""
    return value == "on" or (value == "auto" and device.type == "cuda")


def bf16_switch(value: str, device: torch.device) -> bool:
    """The bf16 autocast setting; auto is on with CUDA, and on a CPU that multiplies bf16 in hardware.

    On the tiny profile with 2 threads, bf16 autocast trains pretraining 1.27x and SFT 1.31x faster
    than float32 on an AMX CPU (Intel Xeon, 4th generation on), for held-out exact match after SFT
    -0.041 +- 0.053 over four seed sets (docs/results.md, 2026-12-07: within noise, not shown to be
    free); bench_train's tiny step 1.34x on an AVX512-BF16 CPU without AMX (AMD EPYC, Zen 4). A CPU
    with neither converts bf16 in software and is slower with it, so auto stays off there.
    """
    return value == "on" or (value == "auto" and (device.type == "cuda" or (device.type == "cpu" and cpu_bf16())))


def cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX tiles or AVX512-BF16 dot products), as
    torch's CPU feature checks report."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private: absent in some torch builds
    return any(bool(getattr(torch.cpu, name, None) and getattr(torch.cpu, name)()) for name in checks)


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    if bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare(device_choice: str, threads: int | None) -> torch.device:
    """A single-process stage's device, after setting torch's CPU threads when given."""
    if threads:
        torch.set_num_threads(threads)
    return pick_device(device_choice)
