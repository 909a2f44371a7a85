"""Scored choices per second of evaluation's log-likelihood primitive against the plain way, on CPU.

    .venv/bin/python benchmarks/bench_evaluate.py [--items 200] [--rounds 3] [--depth 4] [--d-model 128]
                                                  [--context 128] [--batch 32]

Requests are HellaSwag-shaped (a context, four choices of 10-30 tokens) from random token ids, on
a random tiny-profile model (the timing does not depend on the weights).
- baseline: one forward per request, log-softmax over every position and the whole vocabulary,
  then the continuation's tokens gathered: what a first implementation writes.
- ours: stages.evaluate.loglikelihood.loglikelihoods, as the evaluate stage calls it (requests
  sorted by length and batched, the lm_head and log-softmax on the continuation's positions only).
Each round times both, alternating; the figures are the median round's. Both give the same sums
(checked, to 1e-4). Target: ours / baseline >= 3.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from crisol.model import ModelConfig, Transformer
from stages.evaluate.loglikelihood import Request, loglikelihoods, model_input

VOCAB = 4096


def requests(items: int, context: int, seed: int = 0) -> list[Request]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(items):
        ctx = torch.randint(11, VOCAB, (int(torch.randint(context // 2, context, (1,), generator=g)),), generator=g)
        for _ in range(4):
            choice = torch.randint(11, VOCAB, (int(torch.randint(10, 31, (1,), generator=g)),), generator=g)
            out.append(Request(ctx.tolist(), choice.tolist()))
    return out


@torch.inference_mode()
def baseline(model: Transformer, reqs: list[Request]) -> list[float]:
    out = []
    for r in reqs:
        ids, n_cont, _ = model_input(r, model.config.max_seq_len)
        logits = model(torch.tensor([ids]))
        logits = logits[0] if isinstance(logits, tuple) else logits
        logprobs = torch.log_softmax(logits[0].float(), dim=-1)
        target = torch.tensor(r.continuation)
        out.append(float(logprobs[-n_cont:].gather(-1, target[:, None]).sum()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Transformer(ModelConfig.from_depth(args.depth, VOCAB, args.context + 32, d_model=args.d_model)).eval()
    reqs = requests(args.items, args.context)
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{len(reqs)} requests ({args.items} items x 4 choices), {model.config.num_params():,} parameters"
    )
    ours_lls = [s.loglikelihood for s in loglikelihoods(model, reqs, batch_size=args.batch)]
    base_lls = baseline(model, reqs)
    worst = max(abs(a - b) for a, b in zip(ours_lls, base_lls))
    assert worst < 1e-3 * max(1.0, max(abs(b) for b in base_lls)), f"sums differ by {worst}"
    rounds = []
    for _ in range(args.rounds):
        tick = time.perf_counter()
        baseline(model, reqs)
        base_s = time.perf_counter() - tick
        tick = time.perf_counter()
        loglikelihoods(model, reqs, batch_size=args.batch)
        ours_s = time.perf_counter() - tick
        rounds.append((base_s, ours_s))
    base_s, ours_s = sorted(rounds, key=lambda r: r[0] / r[1])[len(rounds) // 2]
    print(f"baseline (one request per forward, full log-softmax): {len(reqs) / base_s:8.1f} requests/s")
    print(f"ours (sorted batches, continuation positions only):   {len(reqs) / ours_s:8.1f} requests/s")
    print(
        f"ratio ours / baseline: {base_s / ours_s:.2f}x (largest difference in sums {worst:.2e}; "
        f"median of {args.rounds} rounds; mean {statistics.fmean([r[0] / r[1] for r in rounds]):.2f}x)"
    )


if __name__ == "__main__":
    main()
