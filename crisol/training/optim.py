"""AdamW with decoupled weight decay on matrices only (norm gains are left alone, as in nanoGPT),
fused on CUDA. Frozen parameters (requires_grad False, as SFT's frozen layers) are left out."""

from __future__ import annotations

import torch
from torch import nn


def adamw(
    model: nn.Module, *, lr: float, weight_decay: float, betas: tuple[float, float], device: torch.device
) -> torch.optim.AdamW:
    matrices = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": weight_decay}, {"params": vectors, "weight_decay": 0.0}]
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=lr, betas=betas, **extra)
