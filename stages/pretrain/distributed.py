"""One code path for 1 process and N: torchrun's environment decides.

Under `torchrun --nproc_per_node N -m stages.pretrain` the RANK / WORLD_SIZE / LOCAL_RANK variables
are set: the process group starts (nccl on CUDA, gloo on CPU) and the model is wrapped in DDP, or
sharded with FSDP (torch's fully_shard, one unit per transformer block) when `pretrain.fsdp`.
Without them the run is one process and nothing is wrapped.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from crisol.training.device import pick_device


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1 or dist.is_initialized()


def setup(device_choice: str) -> Dist:
    """Start the process group when torchrun launched us; return this process's place in it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_choice, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(
            backend, timeout=datetime.timedelta(minutes=30), **({"device_id": device} if device.type == "cuda" else {})
        )
    return Dist(rank=rank, world=world, local_rank=local_rank, device=device)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


def wrap(model: nn.Module, d: Dist, fsdp: bool) -> nn.Module:
    """DDP or FSDP around `model` when distributed; the model itself otherwise."""
    if fsdp:
        from torch.distributed.fsdp import fully_shard

        if not dist.is_initialized():
            raise RuntimeError("pretrain.fsdp needs a process group: run under torchrun")
        for block in model.layers:
            fully_shard(block)
        fully_shard(model)
        return model
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None)
    return model


def _all_reduce(value: float, d: Dist, device: torch.device, op: dist.ReduceOp) -> float:
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=op)
    return float(t.item())


def all_mean(value: float, d: Dist, device: torch.device) -> float:
    """The mean of a float over ranks (the identity on one process)."""
    return _all_reduce(value, d, device, dist.ReduceOp.SUM) / d.world if d.active else value


def all_max(value: float, d: Dist, device: torch.device) -> float:
    """The largest of a float over ranks (the identity on one process): one clock for every rank."""
    return _all_reduce(value, d, device, dist.ReduceOp.MAX) if d.active else value
