"""The two position-wise pieces of a Llama block: RMSNorm and the SwiGLU MLP (no biases)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RMSNorm(nn.Module):
    """weight * x / sqrt(mean(x^2) + eps), normalised in float32 as transformers' LlamaRMSNorm.

    Low-precision activations are normalised in float32, cast back, then scaled, in that order,
    as Llama does; float32 activations take torch's fused kernel in one call.
    """

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps
        self.shape = (dim,)

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == torch.float32 and self.weight.dtype == torch.float32:
            return F.rms_norm(x, self.shape, self.weight, self.eps)
        return self.weight * F.rms_norm(x.float(), self.shape, eps=self.eps).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.shape[0]}, eps={self.eps}"


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)), Llama's MLP.

    gate and up read the same input, so they are one matrix `gate_up_proj` ([gate; up] stacked
    along the output dimension) and one matmul: in a single-token decode step every op costs
    microseconds of dispatch whatever its size, and one larger matmul is no slower in training.
    The Hugging Face export splits it back into gate_proj and up_proj.
    """

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.gate_up_proj = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)
