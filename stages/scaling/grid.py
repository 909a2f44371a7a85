"""The IsoFLOP grid: for each compute budget C, a few model sizes N, each trained on D = C / (6 N)
tokens, i.e. max_steps = round(D / tokens per step).

Sizes come from one family of models, ModelConfig.from_depth with the sweep's width rule (see
Family), so a depth names a size and the recommendation is a depth. N counts non-embedding
parameters, as stages/pretrain/sizing.py does; the FLOPs a run really spends (metrics.json
`flops`) also count the output projection and attention, which the law's C = 6 N D leaves out.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

from crisol.core.errors import ParamsError
from crisol.model.config import ModelConfig

MAX_DEPTH = 256


@dataclass(frozen=True)
class Family:
    """The models the sweep draws sizes from: depth -> ModelConfig (every other shape derived)."""

    d_model: int | None  # None: 64 x depth (from_depth's own rule); an integer: fixed width
    vocab_size: int
    seq_len: int
    tie_embeddings: bool = True

    def config(self, depth: int) -> ModelConfig:
        width = {"d_model": self.d_model} if self.d_model is not None else {}
        return ModelConfig.from_depth(depth, self.vocab_size, self.seq_len, tie_embeddings=self.tie_embeddings, **width)

    def params(self, depth: int) -> int:
        """N: non-embedding parameters of the family's model at `depth`."""
        return self.config(depth).num_params(non_embedding=True)

    def closest_depth(self, n: float) -> int:
        """The depth whose N is closest to `n` on a log scale (sizes grow geometrically)."""
        if not n > 0:
            raise ValueError(f"model size must be positive (got {n})")
        return min(range(1, MAX_DEPTH + 1), key=lambda d: (abs(math.log(self.params(d) / n)), d))


@dataclass(frozen=True)
class Point:
    """One cell of the grid: a budget and a depth, and the run that spends the budget."""

    budget: float
    depth: int
    params: int  # N
    steps: int
    tokens: int  # D = steps x tokens per step (the budget after rounding to whole steps)

    @property
    def flops(self) -> float:
        return 6.0 * self.params * self.tokens


def budget_depths(budget: float, family: Family, depths: list[int] | None, sizes: int, prior_ratio: float) -> list[int]:
    """The depths a budget is tried at: the given ones, or `sizes` consecutive depths centred on
    the Chinchilla prior N = sqrt(C / (6 x ratio)) (so the grid brackets the optimum the prior expects)."""
    if depths is not None:
        return sorted(set(depths))
    centre = family.closest_depth(math.sqrt(budget / (6.0 * prior_ratio)))
    first = max(1, centre - (sizes - 1) // 2)
    return list(range(first, first + sizes))


def plan_points(
    budgets: list[float],
    family: Family,
    depths: list[int] | None,
    sizes: int,
    prior_ratio: float,
    tokens_per_step: int,
    min_steps: int,
) -> list[Point]:
    """Every (budget, depth) cell, smallest budget first; a cell under `min_steps` is a ParamsError."""
    points = []
    for budget in sorted(budgets):
        for depth in budget_depths(budget, family, depths, sizes, prior_ratio):
            n = family.params(depth)
            steps = round(budget / (6.0 * n) / tokens_per_step)
            if steps < min_steps:
                raise ParamsError(
                    f"scaling.budgets: {budget:.3g} FLOPs at depth {depth} (N = {n:,}) is {steps} steps of "
                    f"{tokens_per_step:,} tokens, under scaling.min_steps ({min_steps}); raise the budget or "
                    f"use smaller depths"
                )
            points.append(Point(budget=budget, depth=depth, params=n, steps=steps, tokens=steps * tokens_per_step))
    return points


def run_id(depth: int, steps: int, identity: Mapping[str, Any]) -> str:
    """A run's directory name: readable (depth, steps) plus a digest of everything that makes the
    run what it is, so a changed recipe or dataset is a new run and an unchanged one is found again."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"d{depth}-s{steps}-{digest}"
