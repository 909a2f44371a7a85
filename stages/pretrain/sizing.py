"""Chinchilla sizing: for a compute budget C, the model size N and tokens D with C = 6 N D and
D = 20 N (Hoffmann et al. 2022's compute-optimal ratio), and the depth whose derived model
(ModelConfig.from_depth) is closest to N.

    python -m stages.pretrain.sizing --flops 1e18 [--vocab 4096] [--seq-len 1024]

N here counts non-embedding parameters (Kaplan's convention, which the ratio was fitted in spirit
of; at small sizes the embedding table would otherwise swamp it).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

from crisol.model.config import ModelConfig

TOKENS_PER_PARAM = 20
MAX_DEPTH = 128


@dataclass(frozen=True)
class Sizing:
    flops: float
    params: float  # N
    tokens: float  # D
    depth: int
    depth_params: int  # the chosen depth's non-embedding parameters
    depth_tokens: float  # D for that depth at the same budget (C / 6 N_depth)


def chinchilla(flops: float, vocab_size: int = 4096, seq_len: int = 1024) -> Sizing:
    if not flops > 0:
        raise ValueError(f"flops must be positive (got {flops})")
    params = math.sqrt(flops / (6 * TOKENS_PER_PARAM))
    best = min(
        range(1, MAX_DEPTH + 1),
        key=lambda d: abs(
            math.log(ModelConfig.from_depth(d, vocab_size, seq_len).num_params(non_embedding=True) / params)
        ),
    )
    depth_params = ModelConfig.from_depth(best, vocab_size, seq_len).num_params(non_embedding=True)
    return Sizing(
        flops=flops,
        params=params,
        tokens=TOKENS_PER_PARAM * params,
        depth=best,
        depth_params=depth_params,
        depth_tokens=flops / (6 * depth_params),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.pretrain.sizing", description=__doc__.splitlines()[0])
    parser.add_argument("--flops", type=float, required=True, help="compute budget C in FLOPs, e.g. 1e18")
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--seq-len", type=int, default=1024)
    args = parser.parse_args(argv)
    try:
        s = chinchilla(args.flops, args.vocab, args.seq_len)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"C = {s.flops:.3g} FLOPs -> N = {s.params:.3g} parameters, D = {s.tokens:.3g} tokens (D = 20 N)")
    print(
        f"closest depth: {s.depth} (d_model {64 * s.depth}): N = {s.depth_params:.3g} non-embedding "
        f"parameters, D = C / 6N = {s.depth_tokens:.3g} tokens"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
