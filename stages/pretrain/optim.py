"""AdamW with decoupled weight decay on matrices only (norm gains are left alone, as in nanoGPT),
fused on CUDA."""

from __future__ import annotations

import torch
from torch import nn

from stages.pretrain.params import PretrainParams


def adamw(model: nn.Module, params: PretrainParams, device: torch.device) -> torch.optim.AdamW:
    matrices = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": params.weight_decay},
              {"params": vectors, "weight_decay": 0.0}]
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=params.lr, betas=(params.beta1, params.beta2), **extra)
