"""Pretraining tokens/s alone and beside one CPU-bound process: how much a shared machine costs.

    .venv/bin/python benchmarks/bench_contention.py [--seconds 20] [--threads 2]

Tiny-shaped pretraining (the tiny profile's model: depth 4, d_model 128; seq_len 128, batch 32;
stages.pretrain.trainer.Trainer.train_step on a random token shard, as benchmarks/bench_train.py)
runs in a fresh process for --seconds after a warm-up, four times:

    torch's defaults (libgomp's default wait policy)      alone | beside a busy process
    as the stages run (crisol/core/threads.py)            alone | beside a busy process

The busy process is one Python loop that never sleeps (one core's worth of work). The ratio
shared/alone is printed for each; target for the stages' setting: >= 0.40 (issue 21; torch's
defaults kept about 0.11 on the 2-core development machine). Run it on an otherwise idle machine:
the point is to add exactly one competitor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUSY_LOOP = "while True: pass"


def worker(seconds: float, threads: int) -> dict[str, float]:
    """Train for `seconds` (after 3 warm-up steps) and return tokens/s. Runs in its own process, so
    libgomp reads the environment the parent chose for it."""
    import torch  # first: whatever imports next must not change libgomp's settings

    sys.path.insert(0, str(HERE))
    from bench_train import ours, write_split

    torch.set_num_threads(threads)
    args = argparse.Namespace(depth=4, d_model=128, seq_len=128, batch=32)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = ours(args, write_split(Path(tmp) / "train", 2_000_000))
        for _ in range(3):
            trainer.train_step()
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            trainer.train_step()
            steps += 1
        elapsed = time.perf_counter() - start
    return {"tokens_per_s": steps * args.batch * args.seq_len / elapsed, "steps": steps}


def environment(setting: str) -> dict[str, str]:
    """The worker's environment: torch's defaults (no OpenMP variables) or the stages' settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    if setting == "stages":
        sys.path.insert(0, str(HERE.parent))
        from crisol.core.threads import share_cpu_politely

        share_cpu_politely(env)
    return env


def measure(setting: str, shared: bool, seconds: float, threads: int) -> float:
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if shared else None
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", "--seconds", str(seconds), "--threads", str(threads)],
            env=environment(setting),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    return json.loads(out.strip().splitlines()[-1])["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.seconds, args.threads)))
        return
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f} at start; {args.threads} torch threads, {args.seconds:g} s per measurement"
    )
    ratios = {}
    for setting, label in (("defaults", "torch's defaults"), ("stages", "as the stages run")):
        alone = measure(setting, False, args.seconds, args.threads)
        shared = measure(setting, True, args.seconds, args.threads)
        ratios[setting] = shared / alone
        print(f"{label:<18}: alone {alone:8.0f} tokens/s, beside a busy process {shared:8.0f} tokens/s")
    print(f"shared/alone, torch's defaults : {ratios['defaults']:.3f}")
    print(f"shared/alone, as the stages run: {ratios['stages']:.3f} (target >= 0.40)")


if __name__ == "__main__":
    main()
