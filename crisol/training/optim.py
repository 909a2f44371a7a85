"""The optimisers: AdamW with decoupled weight decay on matrices only (norm gains are left alone, as
in nanoGPT), fused on CUDA; or Muon for the hidden matrices with that AdamW for everything else.
Frozen parameters (requires_grad False, as SFT's frozen layers) are left out.

Muon (Keller Jordan's; torch.optim.Muon's algorithm with its iterations batched by shape,
crisol/training/muon.py) orthogonalises each matrix's momentum with a Newton-Schulz iteration. It
is for the transformer blocks' 2-D weights only: the embedding and the lm head (tied to it or not)
are lookups and a readout, not hidden maps, and stay on AdamW with the norms, as in
modded-nanogpt and nanochat. Its updates are scaled per matrix by 0.2 x sqrt(max(rows, cols))
("match_rms_adamw", Moonshot's "Muon is Scalable"), which gives them AdamW's RMS: the same learning
rate and schedule then suit both, times `lr_scale` on Muon's group where measurement says otherwise.
"""

from __future__ import annotations

from typing import Any, Iterator, Literal

import torch
from torch import nn

from crisol.training.muon import BatchedMuon

OptimizerName = Literal["adamw", "muon"]
MUON_MOMENTUM = 0.95  # Muon's own default (nesterov), as nanochat and modded-nanogpt use it


def adamw(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    device: torch.device,
    skip: frozenset[int] = frozenset(),
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters whose id is not in `skip`."""
    trainable = [p for p in model.parameters() if p.requires_grad and id(p) not in skip]
    matrices = [p for p in trainable if p.dim() >= 2]
    vectors = [p for p in trainable if p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": weight_decay}, {"params": vectors, "weight_decay": 0.0}]
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=lr, betas=betas, **extra)


def hidden_matrices(model: nn.Module) -> list[nn.Parameter]:
    """The trainable 2-D weights of the blocks: every matrix but the embedding and the lm head."""
    outer = {id(p) for name in ("embed_tokens", "lm_head") for p in getattr(model, name).parameters()}
    return [p for p in model.parameters() if p.requires_grad and p.dim() == 2 and id(p) not in outer]


class Combined:
    """Several optimisers over disjoint parameters, stepped as one.

    The trainers need param_groups (the schedule sets each group's lr), step and zero_grad;
    iterating yields the parts, which is how torch.distributed.checkpoint's get_state_dict and
    set_state_dict take several optimisers (stages/pretrain/checkpoint.py), keyed by parameter name."""

    def __init__(self, *optimizers: torch.optim.Optimizer):
        self.optimizers = optimizers

    def __iter__(self) -> Iterator[torch.optim.Optimizer]:
        return iter(self.optimizers)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [group for optimizer in self.optimizers for group in optimizer.param_groups]

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"parts": [optimizer.state_dict() for optimizer in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for optimizer, part in zip(self.optimizers, state["parts"], strict=True):
            optimizer.load_state_dict(part)


def build_optimizer(
    model: nn.Module,
    name: OptimizerName,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    device: torch.device,
    muon_lr_scale: float = 1.0,
) -> torch.optim.AdamW | Combined:
    """The optimiser `name` over `model`'s trainable parameters (module docstring). Muon's group
    carries `lr_scale`: set_lr gives it lr x muon_lr_scale, the others lr."""
    if name == "adamw":
        return adamw(model, lr=lr, weight_decay=weight_decay, betas=betas, device=device)
    if name != "muon":
        raise ValueError(f"unknown optimizer {name!r} (adamw or muon)")
    matrices = hidden_matrices(model)
    if not matrices:  # every block frozen (SFT's freeze_layers): nothing for Muon
        return adamw(model, lr=lr, weight_decay=weight_decay, betas=betas, device=device)
    muon = BatchedMuon(
        matrices,
        lr=lr * muon_lr_scale,
        weight_decay=weight_decay,
        momentum=MUON_MOMENTUM,
        nesterov=True,
        adjust_lr_fn="match_rms_adamw",
    )
    rest = adamw(model, lr=lr, weight_decay=weight_decay, betas=betas, device=device, skip=frozenset(map(id, matrices)))
    for group in muon.param_groups:
        group["lr_scale"] = muon_lr_scale
    return Combined(muon, rest)


def set_lr(optimizer: torch.optim.Optimizer | Combined, lr: float) -> None:
    """The schedule's rate for this step, times each group's lr_scale."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
