"""Assistant tokens/s of the SFT loop, padded and packed, against a bare PyTorch loop, on CPU.

    .venv/bin/python benchmarks/bench_sft.py [--conversations 1024] [--rounds 3] [--depth 4]
                                             [--d-model 128] [--max-tokens 128] [--batch 32]

Conversations are random token ids whose lengths follow the tiny profile's SFT data (most are
short questions, 10-30 tokens; a fifth are reading passages of 60-127), with the last ~40% of each
as the assistant's reply (the loss mask).
- bare: the same batches (one conversation per row, right-padded) through forward, masked
  cross-entropy, backward and AdamW in plain PyTorch; no schedule, no clipping.
- ours, padded: stages.sft.train.fine_tune as the stage runs it (schedule, clipping, the loss on
  assistant tokens), evaluations excluded from its timing.
- ours, packed: the same with `packing: true` (conversations back to back in rows of max_tokens,
  attention kept inside each by the segment mask).
Each round runs one epoch of each, alternating (other processes share the cores); the figures are
the median round's. Targets: ours padded / bare >= 0.95; packed / padded > 1 when lengths vary.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from crisol.model import ModelConfig, Transformer
from crisol.model.transformer import IGNORE_INDEX
from stages.sft.batches import Sequence, epoch_batches
from stages.sft.params import SftParams
from stages.sft.train import fine_tune

VOCAB, PAD = 4096, 2


def conversations(count: int, max_tokens: int, seed: int = 0) -> list[Sequence]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        length = int(rng.integers(60, max_tokens)) if rng.random() < 0.2 else int(rng.integers(10, 31))
        ids = rng.integers(11, VOCAB, size=length + 1)
        targets = ids[1:].copy()
        targets[: int(length * 0.6)] = IGNORE_INDEX
        out.append(Sequence(ids[:-1].astype(np.int64), targets.astype(np.int64)))
    return out


def model(args) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig.from_depth(args.depth, VOCAB, args.max_tokens, d_model=args.d_model))


def time_bare(args, data: list[Sequence]) -> tuple[float, int]:
    net = model(args)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    batches = epoch_batches(
        data, args.batch, PAD, packing=False, capacity=args.max_tokens - 1, rng=np.random.default_rng(1)
    )
    tokens = sum(b.trained_tokens for b in batches)
    start = time.perf_counter()
    for batch in batches:
        logits, _ = net(batch.ids)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE_INDEX)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start, tokens


def time_ours(args, data: list[Sequence], packing: bool) -> tuple[float, int]:
    params = SftParams(
        epochs=1,
        batch_size=args.batch,
        packing=packing,
        max_tokens=args.max_tokens,
        eval_every=10**9,
        warmup_steps=5,
        log_every=10**9,
    )
    result = fine_tune(
        model(args), data, data[:8], lambda m: 0.0, params, PAD, torch.device("cpu"), False, logging.getLogger("bench")
    )
    return result.seconds, result.trained_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    data = conversations(args.conversations, args.max_tokens)
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads;"
        f" {len(data)} conversations, {sum(s.trained_tokens for s in data):,} assistant tokens per epoch,"
        f" depth {args.depth}, d_model {args.d_model}"
    )
    rates: dict[str, list[float]] = {"bare": [], "ours, padded": [], "ours, packed": []}
    time_ours(args, data[:64], False)  # warm-up: first-call allocations
    for round_index in range(args.rounds):
        for name, timer in (
            ("bare", lambda: time_bare(args, data)),
            ("ours, padded", lambda: time_ours(args, data, False)),
            ("ours, packed", lambda: time_ours(args, data, True)),
        ):
            seconds, tokens = timer()
            rates[name].append(tokens / seconds)
        print(
            f"round {round_index + 1}: "
            + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items())
            + " assistant tokens/s"
        )
    median = {k: statistics.median(v) for k, v in rates.items()}
    print(f"ours padded / bare: {median['ours, padded'] / median['bare']:.2f}x (target >= 0.95)")
    print(f"packed / padded:    {median['ours, packed'] / median['ours, padded']:.2f}x")


if __name__ == "__main__":
    main()
