"""Log-probabilities of a given text, the `echo` + `logprobs` of /v1/completions: what
lm-evaluation-harness's `local-completions` model scores multiple choice and perplexity with.

One forward over the prompt gives, for every token after the first, log p(token | the tokens
before it) and the `top` most likely tokens at that position; the first token has none (OpenAI's
`null`). Runs on the model's engine thread (Engine.call), between decode steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from crisol.model.transformer import Transformer

TopTokens = dict[int, float]


def prompt_logprobs(model: Transformer, ids: list[int], top: int) -> tuple[list[float | None], list[TopTokens | None]]:
    with torch.inference_mode():
        logits, _ = model(torch.tensor([ids], dtype=torch.long, device=model.lm_head.weight.device))
        logprobs = torch.log_softmax(logits[0, :-1].float(), dim=-1)
        targets = torch.tensor(ids[1:], dtype=torch.long, device=logprobs.device)
        chosen = logprobs.gather(1, targets[:, None])[:, 0].tolist()
        tops: list[TopTokens | None] = [None]
        if top:
            best = torch.topk(logprobs, min(top, logprobs.shape[-1]), dim=-1)
            tops += [dict(zip(i, v)) for i, v in zip(best.indices.tolist(), best.values.tolist())]
        else:
            tops += [{} for _ in chosen]
    return [None, *chosen], tops


def logprobs_block(
    decode: Callable[[list[int]], str],
    tokens: list[int],
    token_logprobs: list[float | None],
    top: list[TopTokens | None],
    start: int = 0,
) -> dict:
    """OpenAI's completion `logprobs` object; a token's own logprob is among its top entries when it
    is the most likely one (lm-eval's is_greedy test compares against them)."""
    strings = [decode([t]) for t in tokens]
    offsets, at = [], start
    for piece in strings:
        offsets.append(at)
        at += len(piece)
    tops = [None if entry is None else {decode([i]): v for i, v in entry.items()} for entry in top]
    return {"tokens": strings, "token_logprobs": token_logprobs, "top_logprobs": tops, "text_offset": offsets}
