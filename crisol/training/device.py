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
    """The bf16 autocast setting; auto is on with CUDA, and on a CPU that multiplies bf16 on AMX tiles.

    On the tiny profile with 2 threads of an AMX CPU (Intel Xeon, 4th generation on), bf16 autocast
    trains pretraining 1.27x and SFT 1.31x faster than float32, for held-out exact match after SFT
    -0.041 +- 0.053 over four seed sets (docs/results.md, 2026-12-07: within noise, not shown to be
    free); a CPU without AMX converts bf16 in software and is slower with it, so auto stays off there.
    """
    return value == "on" or (value == "auto" and (device.type == "cuda" or (device.type == "cpu" and amx_bf16())))


def amx_bf16() -> bool:
    """Whether this CPU has AMX tiles (bf16 matrix multiply), as torch's CPU feature check reports."""
    supported = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private: absent in some torch builds
    return bool(supported and supported())


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    if bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare(device_choice: str, threads: int | None) -> torch.device:
    """A single-process stage's device, after setting torch's CPU threads when given."""
    if threads:
        torch.set_num_threads(threads)
    return pick_device(device_choice)
