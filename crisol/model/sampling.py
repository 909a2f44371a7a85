"""Autoregressive generation with the KV cache: greedy, temperature, top-k and top-p sampling.

    generate(model, [[5, 17, 2], [9]], max_new_tokens=32, temperature=0)      # greedy
    generate(model, prompts, 64, temperature=0.8, top_p=0.95, stop_ids=[eos], seed=1)

Prompts of unequal length are left-padded into one batch; the KV cache (or, with
use_cache=False, the `starts` argument of every full forward) hides the pad slots and starts each
row's RoPE positions at its first real token, so a row's tokens are those it gets alone.

The decode loop is the hot path of RLHF rollouts, so a step does only what it must: one forward
of one token per row over the preallocated cache (no mask at all without padding, a view of a
precomputed mask with it), the lm_head on that token only, and one host sync to test the stop
tokens (none when there are none).

Threads: a decode step is many tiny ops, and on a CPU shared with other busy processes torch's
OpenMP threads wait for each other at every op; a narrow model generating a few rows runs on one
thread (crisol/model/generation_threads.py: 4-6 x faster beside a busy process).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from crisol.model.generation_threads import threads_for_generation
from crisol.model.kv_cache import KVCache
from crisol.model.transformer import Transformer


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Set to -inf the logits outside the top_k largest and outside the smallest set of tokens
    whose probability reaches top_p (the most likely token always stays). logits: [B, V]."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        # Drop a token when the tokens ranked above it already reach top_p.
        drop_sorted = (probs.cumsum(dim=-1) - probs) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: Tensor, temperature: float, top_k: int | None, top_p: float | None, generator: torch.Generator | None
) -> Tensor:
    """One token per row from logits [B, V]; temperature 0 is greedy (argmax)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits / temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _check_arguments(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    pad_id: int,
) -> None:
    vocab = model.config.vocab_size
    if not prompts:
        raise ValueError("generate: no prompts")
    for i, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ValueError(f"generate: prompt {i} is empty")
        if min(prompt) < 0 or max(prompt) >= vocab:
            raise ValueError(f"generate: prompt {i} has a token outside the vocabulary (0..{vocab - 1})")
    if max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be >= 0, got {max_new_tokens}")
    longest = max(len(p) for p in prompts)
    if longest + max_new_tokens > model.config.max_seq_len:
        raise ValueError(
            f"generate: longest prompt ({longest}) + max_new_tokens ({max_new_tokens}) exceeds "
            f"max_seq_len {model.config.max_seq_len}"
        )
    if temperature < 0:
        raise ValueError(f"generate: temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"generate: top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"generate: top_p must be in (0, 1], got {top_p}")
    if not 0 <= pad_id < vocab:
        raise ValueError(f"generate: pad_id {pad_id} is outside the vocabulary (0..{vocab - 1})")


def _cut_at_stop(tokens: list[int], stop_ids: set[int]) -> list[int]:
    for i, token in enumerate(tokens):
        if token in stop_ids:
            return tokens[:i]
    return tokens


def generate(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    stop_ids: Iterable[int] = (),
    pad_id: int = 0,
    seed: int | None = None,
    use_cache: bool = True,
) -> list[list[int]]:
    """The new tokens of each prompt, cut before the first stop token.

    temperature 0 is greedy; top_k / top_p filter before sampling. With a seed, sampling draws
    from its own generator (repeatable, torch's global RNG untouched); without, from the global one.
    use_cache=False recomputes the whole sequence every step (the baseline the cache is measured
    against; greedy results are the same).
    """
    _check_arguments(model, prompts, max_new_tokens, temperature, top_k, top_p, pad_id)
    stop = sorted(set(int(s) for s in stop_ids))
    device = model.lm_head.weight.device
    batch, width = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.as_tensor(prompt, dtype=torch.long)
    ids = ids.to(device)
    starts = torch.tensor([width - len(p) for p in prompts], dtype=torch.long, device=device)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    stop_tensor = torch.tensor(stop, dtype=torch.long, device=device) if stop else None
    out = torch.empty((batch, max_new_tokens), dtype=torch.long, device=device)
    produced = 0
    with torch.inference_mode(), threads_for_generation(model, batch):
        cache = KVCache.for_model(model, batch, width + max_new_tokens, starts) if use_cache else None
        step_input = ids
        finished = torch.zeros(batch, dtype=torch.bool, device=device)
        while produced < max_new_tokens:
            if use_cache:
                hidden = model.hidden_states(step_input, cache=cache)
            else:
                sequence = torch.cat((ids, out[:, :produced]), dim=1)
                hidden = model.hidden_states(sequence, starts=starts)
            logits = model.lm_head(hidden[:, -1]).float()
            token = sample_next(logits, temperature, top_k, top_p, generator)
            out[:, produced] = token
            produced += 1
            step_input = token[:, None]
            if stop_tensor is not None:
                finished |= torch.isin(token, stop_tensor)
                if bool(finished.all()):
                    break
    stop_set = set(stop)
    return [_cut_at_stop(row, stop_set) for row in out[:, :produced].tolist()]


class Reply(NamedTuple):
    tokens: list[int]  # the new tokens, cut before the first stop token
    finished: bool  # a stop token ended it (False: it ran out of tokens)


def generate_many(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    batch_size: int = 64,
    seed: int | None = None,
    **sampling,
) -> list[Reply]:
    """`generate` over any number of prompts: batches of similar length (little padding), each
    prompt cut from the left to leave room for at least one new token, each batch's budget capped
    by the context. Replies in the prompts' order; `sampling` is generate's keywords. A reply
    finished when it is shorter than its budget: generate cuts the stop token it ended with."""
    limit = model.config.max_seq_len
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[Reply] = [Reply([], False)] * len(prompts)
    for number, at in enumerate(range(0, len(order), batch_size)):
        chunk = order[at : at + batch_size]
        chunk_prompts = [list(prompts[i])[-(limit - 1) :] for i in chunk]
        budget = min(max_new_tokens, limit - max(len(p) for p in chunk_prompts))
        replies = generate(model, chunk_prompts, budget, seed=None if seed is None else seed + number, **sampling)
        for i, reply in zip(chunk, replies):
            out[i] = Reply(reply, len(reply) < budget)
    return out
