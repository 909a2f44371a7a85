"""Muon's optimiser step: our BatchedMuon (Newton-Schulz batched by matrix shape) against
torch.optim.Muon (one matrix at a time), on the hidden matrices of a model shape, in one run.

    .venv/bin/python benchmarks/bench_muon.py [--depth 4] [--d-model 128] [--steps 50] [--threads 2]

Both step the same parameters from the same gradients; the benchmark prints the largest difference
of the weights they end with (bf16 rounding at most: both iterate in bf16), ms per step of each,
and the ratio, last.
"""

from __future__ import annotations

import argparse
import time

import torch

from crisol.model.config import ModelConfig
from crisol.model.transformer import Transformer
from crisol.training.muon import BatchedMuon
from crisol.training.optim import MUON_MOMENTUM, hidden_matrices


def time_steps(optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter], grads: list, steps: int) -> float:
    """Median seconds of one step (gradients set anew each step, outside the timing)."""
    times = []
    for step in range(steps):
        for p, g in zip(params, grads[step % len(grads)]):
            p.grad = g
        started = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Transformer(ModelConfig.from_depth(args.depth, 65, 128, d_model=args.d_model))
    matrices = hidden_matrices(model)
    shapes = sorted({tuple(p.shape) for p in matrices})
    print(f"{len(matrices)} matrices of shapes {shapes}, {args.steps} steps, {args.threads} threads")
    grads = [[torch.randn_like(p) for p in matrices] for _ in range(4)]
    runs = {}
    for name, kind in (("torch.optim.Muon", torch.optim.Muon), ("BatchedMuon", BatchedMuon)):
        params = [torch.nn.Parameter(p.detach().clone()) for p in matrices]
        optimizer = kind(params, lr=4e-3, momentum=MUON_MOMENTUM, adjust_lr_fn="match_rms_adamw")
        runs[name] = (time_steps(optimizer, params, grads, args.steps), params)
    (base, reference), (ours, batched) = runs["torch.optim.Muon"], runs["BatchedMuon"]
    differs = max(float((a - b).detach().abs().max()) for a, b in zip(reference, batched))
    print(
        f"torch.optim.Muon: {base * 1e3:.2f} ms/step; BatchedMuon: {ours * 1e3:.2f} ms/step; "
        f"weights differ by {differs:.1e} at most"
    )
    print(f"BatchedMuon / torch.optim.Muon speed: {base / ours:.2f}x")


if __name__ == "__main__":
    main()
