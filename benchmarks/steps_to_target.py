"""bench_train.py --steps-to-target LOSS: optimiser steps AdamW and Muon take to a validation loss.

Each run is the pretrain stage's Trainer (its schedule, clipping and optimiser) on real text
(real_text_tokens.py), from the same seed: the same initial weights and the same windows in the
same order, so only the optimiser and its rate differ. The validation loss is the mean over a fixed
set of held-out windows, taken every --eval-every steps; a run's figure is the first evaluated step
at or under the target (None: not reached in --max-steps). Per-step time is the median of the
timed steps, evaluation excluded: on a shared machine, only a rough figure.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from real_text_tokens import write_splits

from crisol.formats.tokens import TokenSplit
from crisol.training.optim import set_lr
from stages.pretrain.distributed import Dist
from stages.pretrain.inputs import Inputs
from stages.pretrain.params import ModelShape, PretrainParams
from stages.pretrain.trainer import Trainer


@dataclass
class Run:
    optimizer: str
    lr: float
    muon_lr_scale: float
    curve: list[tuple[int, float]]  # (step, validation loss)
    step_seconds: float

    def steps_to(self, target: float) -> int | None:
        return next((step for step, loss in self.curve if loss <= target), None)

    @property
    def label(self) -> str:
        scale = f" x{self.muon_lr_scale:g} on matrices" if self.optimizer == "muon" else ""
        return f"{self.optimizer:5s} lr {self.lr:g}{scale}"


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-steps", type=int, default=400, help="schedule length and step budget of each run")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-windows", type=int, default=64)
    parser.add_argument("--adamw-lrs", default="2.5e-3,5e-3,1e-2")
    parser.add_argument("--muon-lr", type=float, default=5e-3, help="lr of Muon runs (AdamW's part: embedding, norms)")
    parser.add_argument("--muon-scales", default="0.5,1,2", help="muon_lr_scale values (Muon's matrices: lr x scale)")
    parser.add_argument("--seed", type=int, default=1337)


def _trainer(args, optimizer: str, lr: float, scale: float, train: TokenSplit) -> Trainer:
    params = PretrainParams(
        model=ModelShape(depth=args.depth, d_model=args.d_model),
        seq_len=args.seq_len,
        batch_size=args.batch,
        max_steps=args.max_steps,
        warmup_steps=args.warmup,
        optimizer=optimizer,
        lr=lr,
        muon_lr_scale=scale,
        seed=args.seed,
        fact_probes=0,
    )
    return cpu_trainer(params, train)


def cpu_trainer(params: PretrainParams, train: TokenSplit) -> Trainer:
    """The pretrain stage's Trainer on one CPU process over `train`, with no validation set, fact
    probes or checkpoint directory of its own: what the training benchmarks time."""
    manifest = train.manifest
    inputs = Inputs(
        train=train,
        validation=train,
        tokenizer=None,
        tokenizer_sha256="bench",
        vocab_size=manifest.vocab_size,
        eos_id=manifest.eos_id,
    )
    d = Dist(rank=0, world=1, local_rank=0, device=torch.device("cpu"))
    return Trainer(params, inputs, d, Path("unused"), logging.getLogger("bench"), validation=None, probes=[])


@torch.no_grad()
def _validation_loss(model: torch.nn.Module, windows: torch.Tensor, batch: int) -> float:
    model.eval()
    losses = [float(model(w[:, :-1], w[:, 1:])[1]) for w in windows.split(batch)]
    model.train()
    return statistics.fmean(losses)


def _windows(split: TokenSplit, seq_len: int, count: int) -> torch.Tensor:
    """`count` windows of seq_len + 1 tokens spread evenly over the held-out split."""
    tokens = split.tokens(split.shard_indices[0])
    starts = torch.linspace(0, len(tokens) - seq_len - 2, count).long().tolist()
    return torch.stack([torch.as_tensor(tokens[s : s + seq_len + 1].astype("int64")) for s in starts])


def train_one(args, optimizer: str, lr: float, scale: float, train: TokenSplit, windows: torch.Tensor) -> Run:
    trainer = _trainer(args, optimizer, lr, scale, train)
    curve = [(0, _validation_loss(trainer.model, windows, args.batch))]
    seconds = []
    for step in range(args.max_steps):
        set_lr(trainer.optimizer, trainer.lr_at(step))
        started = time.perf_counter()
        trainer.train_step()
        seconds.append(time.perf_counter() - started)
        if (step + 1) % args.eval_every == 0 or step + 1 == args.max_steps:
            curve.append((step + 1, _validation_loss(trainer.model, windows, args.batch)))
            if curve[-1][1] <= args.steps_to_target:
                break  # the figure is in: the rest of the budget would change nothing
    run = Run(optimizer, lr, scale, curve, statistics.median(seconds))
    reached = run.steps_to(args.steps_to_target)
    points = " ".join(f"{step}:{loss:.3f}" for step, loss in curve)
    print(f"  {run.label}: {reached} steps to target; validation loss by step {points}", flush=True)
    return run


def _or_never(steps: int | None, max_steps: int) -> int:
    """Steps to the target for ranking runs; a run that never reached it ranks after every one that did
    (step 0, an untrained model already there, is a real figure, not a miss)."""
    return max_steps + 1 if steps is None else steps


def steps_to_target(args) -> None:
    target = args.steps_to_target
    with tempfile.TemporaryDirectory() as tmp:
        train, held_out = write_splits(Path(tmp))
        print(f"real text: {train.manifest.tokens:,} train tokens, {held_out.manifest.tokens:,} held out")
        windows = _windows(held_out, args.seq_len, args.eval_windows)
        runs = [train_one(args, "adamw", float(lr), 1.0, train, windows) for lr in args.adamw_lrs.split(",")]
        runs += [train_one(args, "muon", args.muon_lr, float(s), train, windows) for s in args.muon_scales.split(",")]
    print(
        f"model: depth {args.depth}, d_model {args.d_model}; batch {args.batch} x {args.seq_len}; "
        f"schedule: warmup {args.warmup}, cosine over {args.max_steps} to 0.2; seed {args.seed}; "
        f"target validation loss {target}"
    )
    best = {}
    for name in ("adamw", "muon"):
        mine = [r for r in runs if r.optimizer == name]
        best[name] = min(mine, key=lambda r: (_or_never(r.steps_to(target), args.max_steps), r.curve[-1][1]))
        for r in mine:
            mark = "*" if r is best[name] else " "
            print(f"{mark} {r.label:32s} steps to target {r.steps_to(target)}, {r.step_seconds * 1000:.0f} ms/step")
    a, m = best["adamw"].steps_to(target), best["muon"].steps_to(target)
    if a is None or m is None:
        ratio = "n/a (a best run did not reach the target)"
    else:
        ratio = f"{a / m:.2f}x" if m else "n/a (the untrained model is already at the target: choose a lower one)"
    overhead = best["muon"].step_seconds / best["adamw"].step_seconds
    print(f"steps to target: adamw {a}, muon {m}; adamw/muon = {ratio}; muon time per step {overhead:.2f}x adamw's")
