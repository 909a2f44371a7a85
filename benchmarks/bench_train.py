"""Training tokens/s of the pretrain loop against a minimal reference loop, same model, on CPU; or,
with --steps-to-target, the steps AdamW and Muon take to a validation loss on real text.

    .venv/bin/python benchmarks/bench_train.py [--steps 20] [--rounds 3] [--depth 4] [--d-model 128]
                                               [--seq-len 128] [--batch 16] [--bf16 auto|on|off]
    .venv/bin/python benchmarks/bench_train.py --steps-to-target 5.0 --batch 32 [--max-steps 400]
                                               [--adamw-lrs 2.5e-3,5e-3,1e-2] [--muon-scales 0.5,1,2]

Steps to target (steps_to_target.py): both optimisers in the one run, on the pretrain stage's
Trainer, from the same seed (same initial weights, same windows in the same order), on real text
(real_text_tokens.py), each at every learning rate given; the best of each is compared.

Ours: stages.pretrain.trainer.Trainer.train_step, as the stage runs it: windows sampled from
memory-mapped token shards (written here from random tokens), the learning rate set from the
schedule, forward, backward, gradient clipping and AdamW with two parameter groups.
Reference: the same Transformer and batch shape in plain PyTorch: forward, backward, AdamW step,
zero_grad, on a batch made once (no loader, no schedule, no clipping).

Both start from the same seed; they alternate in rounds (other processes share the 2 cores), and
each round's tokens/s is the best of its timed steps' windows; the ratio ours/reference uses the
median round of each. Target: >= 0.95.

Precision: --bf16 as the stage's pretrain.bf16 (auto: on with CUDA, or a CPU with AMX tiles or AVX512-BF16); the
reference runs under the same autocast. With bf16 on, ours is also timed in float32 in the same
rounds, and the ratio bf16/float32 is what the autocast buys on this CPU.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from steps_to_target import add_target_arguments, cpu_trainer, steps_to_target

from crisol.formats.tokens import SplitManifest, TokenSplit, write_shard
from crisol.model import ModelConfig, Transformer
from crisol.training.device import autocast, cpu_bf16
from stages.pretrain.params import ModelShape, PretrainParams
from stages.pretrain.trainer import Trainer

VOCAB = 4096
CPU = torch.device("cpu")


def write_split(directory: Path, tokens: int, seed: int = 0) -> TokenSplit:
    directory.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    array = rng.integers(0, VOCAB, size=tokens, dtype=np.uint16)
    write_shard(directory, 0, array, ["doc"], np.array([0]), np.array([tokens]))
    SplitManifest(
        dtype="uint16",
        vocab_size=VOCAB,
        eos_id=1,
        tokenizer_sha256="bench",
        shards=({"index": 0, "tokens": tokens, "documents": 1},),
        params={},
    ).write(directory)
    return TokenSplit(directory)


def ours(args, split: TokenSplit, bf16: str) -> Trainer:
    params = PretrainParams(
        bf16=bf16,
        model=ModelShape(depth=args.depth, d_model=args.d_model),
        seq_len=args.seq_len,
        batch_size=args.batch,
        max_steps=10_000,
        warmup_steps=10,
        fact_probes=0,
    )
    return cpu_trainer(params, split)


def time_ours(trainer: Trainer, steps: int) -> float:
    start = time.perf_counter()
    for step in range(steps):
        for group in trainer.optimizer.param_groups:
            group["lr"] = trainer.lr_at(step)
        trainer.train_step()
    return time.perf_counter() - start


def time_reference(
    model: Transformer, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int, bf16: bool
) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        with autocast(CPU, bf16):
            _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--bf16", choices=["auto", "on", "off"], default="auto", help="as pretrain.bf16; the reference follows"
    )
    parser.add_argument("--steps-to-target", type=float, default=None, metavar="LOSS")
    add_target_arguments(parser)
    args = parser.parse_args()
    if args.steps_to_target is not None:
        steps_to_target(args)
        return
    tokens_per_step = args.batch * args.seq_len

    with tempfile.TemporaryDirectory() as tmp:
        split = write_split(Path(tmp) / "train", 2_000_000)
        trainer = ours(args, split, args.bf16)
        bf16 = trainer.bf16
        # With bf16 on, ours in float32 too: what the autocast buys, in the same run.
        float32 = ours(args, split, "off") if bf16 else None
        torch.manual_seed(1337)
        config = ModelConfig.from_depth(args.depth, VOCAB, args.seq_len, d_model=args.d_model)
        reference = Transformer(config)
        ref_opt = torch.optim.AdamW(reference.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
        x = torch.randint(0, VOCAB, (args.batch, args.seq_len))
        y = torch.randint(0, VOCAB, (args.batch, args.seq_len))
        time_ours(trainer, 3)  # warm-up all
        time_reference(reference, ref_opt, x, y, 3, bf16)
        if float32:
            time_ours(float32, 3)
        ours_tps, ref_tps, f32_tps = [], [], []
        for _ in range(args.rounds):
            ours_tps.append(args.steps * tokens_per_step / time_ours(trainer, args.steps))
            ref_tps.append(args.steps * tokens_per_step / time_reference(reference, ref_opt, x, y, args.steps, bf16))
            if float32:
                f32_tps.append(args.steps * tokens_per_step / time_ours(float32, args.steps))
    o, r = statistics.median(ours_tps), statistics.median(ref_tps)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"bf16 hardware {cpu_bf16()}; bf16 autocast {'on' if bf16 else 'off'} (--bf16 {args.bf16})"
    )
    print(
        f"model: depth {args.depth}, d_model {args.d_model}, {config.num_params():,} params; "
        f"batch {args.batch} x {args.seq_len} tokens, {args.steps} steps x {args.rounds} rounds"
    )
    print(f"ours      : {o:9.0f} tokens/s (rounds: {', '.join(f'{v:.0f}' for v in ours_tps)})")
    print(f"reference : {r:9.0f} tokens/s (rounds: {', '.join(f'{v:.0f}' for v in ref_tps)})")
    print(f"ratio ours/reference: {o / r:.3f} (target >= 0.95)")
    if f32_tps:
        f = statistics.median(f32_tps)
        print(f"ours float32: {f:9.0f} tokens/s (rounds: {', '.join(f'{v:.0f}' for v in f32_tps)})")
        print(f"ratio bf16/float32 (ours): {o / f:.3f}")


if __name__ == "__main__":
    main()
