"""Compute, speed and energy accounting for metrics.json.

FLOPs: ModelConfig.flops_per_token(seq_len) (6 N plus attention, PaLM's convention) x tokens.
MFU: achieved FLOP/s over the devices' dense bf16 peak, for the GPUs named in PEAK_BF16_FLOPS
(null on CPU or an unknown GPU: a made-up peak would make a made-up figure).
Energy: board power (TDP) x devices x training time on a named GPU; on CPU an assumed
`cpu_watts_per_core` x threads x time (10 W per busy core is a typical laptop/server package share;
it is an assumption, stated beside the figure, not a measurement).
"""

from __future__ import annotations

from typing import Any

import torch

# Dense bf16 tensor-core peak, FLOP/s, by a substring of torch.cuda.get_device_name().
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12}
# Board power (TDP), watts: SXM parts.
TDP_WATTS = {"H200": 700.0, "H100": 700.0, "A100": 400.0}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def _lookup(table: dict[str, float], name: str) -> float | None:
    return next((value for key, value in table.items() if key in name), None)


def accounting(
    *,
    device: torch.device,
    world: int,
    flops_per_token: int,
    tokens: int,
    train_seconds: float,
    cpu_watts_per_core: float,
) -> dict[str, Any]:
    name = device_name(device)
    flops = flops_per_token * tokens
    tokens_per_s = tokens / train_seconds if train_seconds > 0 else None
    mfu = None
    watts = None
    energy_basis = None
    if device.type == "cuda":
        peak = _lookup(PEAK_BF16_FLOPS, name)
        if peak and train_seconds > 0:
            mfu = flops / train_seconds / (peak * world)
        tdp = _lookup(TDP_WATTS, name)
        if tdp:
            watts = tdp * world
            energy_basis = f"TDP {tdp:.0f} W x {world} GPU(s)"
    else:
        threads = torch.get_num_threads() * world
        watts = cpu_watts_per_core * threads
        energy_basis = f"assumed {cpu_watts_per_core:g} W per core x {threads} threads"
    return {
        "device": name,
        "world_size": world,
        "tokens": tokens,
        "flops_per_token": flops_per_token,
        "flops": float(flops),
        "train_seconds": round(train_seconds, 3),
        "tokens_per_s": round(tokens_per_s, 1) if tokens_per_s else None,
        "tokens_per_s_per_device": round(tokens_per_s / world, 1) if tokens_per_s else None,
        "mfu": round(mfu, 4) if mfu is not None else None,
        "energy_kwh": round(watts * train_seconds / 3.6e6, 6) if watts else None,
        "energy_basis": energy_basis,
    }
