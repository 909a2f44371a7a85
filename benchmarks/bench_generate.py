"""KV-cache generation against full recomputation, at two model sizes, on 2 CPU threads.

    .venv/bin/python benchmarks/bench_generate.py [--repeats 5] [--batch 1] [--prompt 32] [--profile]

For each case the same greedy generation runs with the cache (one token per step over the
preallocated cache) and without it (the whole sequence recomputed every step, the baseline), and
the script checks both produce the same tokens. It prints tokens/s both ways (best of --repeats
runs, median beside it: other processes share the 2 cores) and the ratio, then where a cached
decode step spends its time: per-step wall time split into the transformer body, lm_head and
sampling, and, with --profile, torch.profiler's top operators for the cached run.

Threads: 2 by default (the development machine's cores). The script sets OMP_WAIT_POLICY=PASSIVE
unless the environment sets it: with libgomp's default policy, when other processes keep the cores
busy, two OpenMP threads wait on each other at every op and both paths slow down 10-100x,
erratically (a 1M-model decode step took 16 ms instead of 0.5 ms here).
"""

from __future__ import annotations

import os

# Before torch loads libgomp, which reads it once (see the module docstring).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import torch  # noqa: E402

from crisol.model import KVCache, ModelConfig, Transformer, generate  # noqa: E402
from crisol.model.sampling import sample_next  # noqa: E402

VOCAB = 4096


@dataclass(frozen=True)
class Case:
    name: str
    config: ModelConfig
    new_tokens: int


CASES = (
    Case("10M", ModelConfig.from_depth(6, VOCAB, 512), 256),
    Case("1M", ModelConfig.from_depth(2, VOCAB, 512), 64),
)


def timed_runs(
    model: Transformer, prompts: list[list[int]], new_tokens: int, use_cache: bool, repeats: int
) -> tuple[list[float], list[list[int]]]:
    tokens = generate(model, prompts, new_tokens, temperature=0, use_cache=use_cache)  # warm-up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        generate(model, prompts, new_tokens, temperature=0, use_cache=use_cache)
        seconds.append(time.perf_counter() - start)
    return seconds, tokens


def step_breakdown(model: Transformer, prompts: list[list[int]], new_tokens: int) -> dict[str, float]:
    """Microseconds per cached decode step in the body, lm_head and sampling (after a prefill)."""
    ids = torch.tensor(prompts)
    parts = {"body": 0.0, "lm_head": 0.0, "sample": 0.0}
    with torch.inference_mode():
        cache = KVCache.for_model(model, ids.shape[0], ids.shape[1] + new_tokens)
        token = model.lm_head(model.hidden_states(ids, cache=cache)[:, -1]).argmax(-1)
        for _ in range(new_tokens - 1):
            t0 = time.perf_counter()
            hidden = model.hidden_states(token[:, None], cache=cache)
            t1 = time.perf_counter()
            logits = model.lm_head(hidden[:, -1]).float()
            t2 = time.perf_counter()
            token = sample_next(logits, 0.0, None, None, None)
            t3 = time.perf_counter()
            parts["body"] += t1 - t0
            parts["lm_head"] += t2 - t1
            parts["sample"] += t3 - t2
    return {name: seconds / (new_tokens - 1) * 1e6 for name, seconds in parts.items()}


def profile_cached(model: Transformer, prompts: list[list[int]], new_tokens: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        generate(model, prompts, new_tokens, temperature=0)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def run_case(case: Case, batch: int, prompt_len: int, repeats: int, profile: bool) -> float:
    torch.manual_seed(0)
    model = Transformer(case.config).eval()
    generator = torch.Generator().manual_seed(1)
    prompts = torch.randint(0, VOCAB, (batch, prompt_len), generator=generator).tolist()
    produced = batch * case.new_tokens
    cached, cached_tokens = timed_runs(model, prompts, case.new_tokens, True, repeats)
    full, full_tokens = timed_runs(model, prompts, case.new_tokens, False, repeats)
    if cached_tokens != full_tokens:
        raise SystemExit(f"{case.name}: cached and recomputed greedy tokens differ")
    cached_rate, full_rate = produced / min(cached), produced / min(full)
    c = case.config
    print(
        f"\n{case.name}: {c.num_params() / 1e6:.2f}M params (depth {c.depth}, d_model {c.d_model}, "
        f"vocab {c.vocab_size}, tied), batch {batch}, prompt {prompt_len}, {case.new_tokens} new tokens"
    )
    print(f"  with KV cache   {cached_rate:9.0f} tokens/s  (median {produced / statistics.median(cached):.0f})")
    print(f"  recompute       {full_rate:9.0f} tokens/s  (median {produced / statistics.median(full):.0f})")
    print(
        f"  ratio           {cached_rate / full_rate:9.2f} x  (medians: "
        f"{statistics.median(full) / statistics.median(cached):.2f} x)"
    )
    steps = min((step_breakdown(model, prompts, case.new_tokens) for _ in range(3)), key=lambda p: sum(p.values()))
    print(
        "  cached decode step: "
        + ", ".join(f"{name} {us:.0f} us" for name, us in steps.items())
        + f" = {sum(steps.values()):.0f} us"
    )
    if profile:
        profile_cached(model, prompts, case.new_tokens)
    return cached_rate / full_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--prompt", type=int, default=32, help="prompt length in tokens")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top operators")
    parser.add_argument("--case", choices=[case.name for case in CASES], help="run one case only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY="
        f"{os.environ['OMP_WAIT_POLICY']}, {platform.processor() or platform.machine()}"
    )
    for case in CASES:
        if args.case in (None, case.name):
            run_case(case, args.batch, args.prompt, args.repeats, args.profile)


if __name__ == "__main__":
    main()
