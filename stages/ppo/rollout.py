"""One PPO rollout: the policy samples a response to each prompt, and everything the update needs is
read off the finished sequences once, without gradients: the response tokens' log-probabilities
under the policy (old_logprobs) and the frozen reference, the value model's estimates, and the
reward model's score of each whole response.

Layout: a batch is one tensor `ids` [B, P + R], each prompt left-padded to width P, its response
right-padded to R after it; `starts` [B] counts each row's left pad (the transformer masks those
slots and starts RoPE positions at the first real token). Response token j of a row sits at
ids[:, P + j] and is predicted at position P + j - 1, so every per-token tensor is the
advantages.py response layout [B, R] with a right-padded float mask.

The stop token is part of the response: its log-probability is what teaches the policy when to
stop, and the reward model reads its score there. `generate` cuts the stop token off its replies,
so it is asked to stop on the template's end-of-turn only, and the other stop tokens (the
document end) are cut here, where their identity is still visible: the tokens are those a
generate with every stop id samples (the same draws, step by step), only a batch whose row emits
`<|eos|>` decodes on until that row also ends its turn or runs out of tokens. A response that
never stops within max_new_tokens is unfinished: it keeps every token and its score loses
`missing_eos_penalty` (TRL's), so rambling on is never the cheap way to a high score.

Every log-probability, here and in the training step, comes from `response_logits`: the same
forward with the same `starts` and the logits divided by the sampling temperature, the
distribution the tokens were actually drawn from. Anything else and the importance ratio of the
first minibatch is not 1 before any update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from crisol.chat.template import ChatTemplate
from crisol.model.reward import RewardModel
from crisol.model.sampling import generate
from crisol.model.transformer import Transformer
from stages.ppo.losses import logprobs_from_logits


@dataclass
class Rollout:
    """A sampled, scored batch; every tensor is on the policy's device and detached."""

    ids: Tensor  # [B, P + R] long: left-padded prompt, then right-padded response
    starts: Tensor  # [B] long: left pad of each row
    prompt_width: int  # P
    response: Tensor  # [B, R] long: ids[:, P:], the stop token included, pad after it
    mask: Tensor  # [B, R] float: 1 on the response's tokens (stop token included)
    last: Tensor  # [B] long: index into ids of each row's last real token
    finished: Tensor  # [B] bool: the response ended with a stop token
    logprobs: Tensor  # [B, R] float: old log-probabilities under the policy (temperature applied)
    ref_logprobs: Tensor  # [B, R] float: the same under the reference
    values: Tensor  # [B, R] float: the value model at the positions predicting each token
    rm_scores: Tensor  # [B] float: the reward model's (normalised) score at `last`
    scores: Tensor  # [B] float: rm_scores minus the penalty of unfinished responses
    replies: list[str]  # each response's text (stop token cut), for the gold oracle

    def __len__(self) -> int:
        return self.ids.shape[0]

    @property
    def lengths(self) -> Tensor:
        """Response tokens per row [B], the stop token included."""
        return self.mask.sum(1).long()


def response_logits(model: Transformer, ids: Tensor, starts: Tensor, prompt_width: int, temperature: float) -> Tensor:
    """Logits [B, R, V] (float32) at the positions that predict the response tokens, divided by the
    sampling temperature: the one forward behind every log-probability of PPO. The lm_head runs on
    those positions only (the prompt's vocabulary logits are never needed)."""
    if temperature <= 0:
        raise ValueError(f"PPO samples with a temperature > 0, got {temperature}")
    hidden = model.hidden_states(ids, starts=starts)[:, prompt_width - 1 : -1]
    return model.lm_head(hidden).float() / temperature


def response_logprobs(model: Transformer, ids: Tensor, starts: Tensor, prompt_width: int, temperature: float) -> Tensor:
    """log p(response token) [B, R] under `model` at the sampling temperature."""
    logits = response_logits(model, ids, starts, prompt_width, temperature)
    return logprobs_from_logits(logits, ids[:, prompt_width:])


def response_values(value_model: RewardModel, ids: Tensor, starts: Tensor, prompt_width: int) -> Tensor:
    """The value head [B, R] at the positions that predict each response token (p - 1 for token p):
    the value of the state before the token is chosen."""
    return value_model.values(ids, starts)[:, prompt_width - 1 : -1]


def complete_response(tokens: Sequence[int], budget: int, end_id: int, other_stops: set[int]) -> tuple[list[int], bool]:
    """(the response with its stop token, finished) from what `generate` returned when stopping on
    `end_id` alone: cut after the first other stop token, or give back the end token generate cut
    (a reply shorter than its budget stopped), or keep all tokens of an unfinished one."""
    for i, token in enumerate(tokens):
        if token in other_stops:
            return list(tokens[: i + 1]), True
    if len(tokens) < budget:
        return [*tokens, end_id], True
    return list(tokens), False


def _layout(
    prompts: Sequence[Sequence[int]], responses: list[list[int]], pad_id: int, device: torch.device
) -> tuple[Tensor, Tensor, Tensor, int]:
    """(ids, starts, mask, P): prompts left-padded to P, responses right-padded after them."""
    width = max(len(p) for p in prompts)
    span = max(len(r) for r in responses)
    ids = torch.full((len(prompts), width + span), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), span), dtype=torch.float32)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        ids[row, width - len(prompt) : width] = torch.as_tensor(list(prompt), dtype=torch.long)
        ids[row, width : width + len(response)] = torch.as_tensor(response, dtype=torch.long)
        mask[row, : len(response)] = 1.0
    starts = torch.tensor([width - len(p) for p in prompts], dtype=torch.long)
    return ids.to(device), starts.to(device), mask.to(device), width


@torch.no_grad()
def rollout(
    policy: Transformer,
    reference: Transformer,
    reward_model: RewardModel,
    value_model: RewardModel,
    prompts: Sequence[Sequence[int]],
    template: ChatTemplate,
    *,
    max_new_tokens: int,
    temperature: float,
    missing_eos_penalty: float,
    seed: int | None = None,
) -> Rollout:
    """Sample one response per prompt (token ids, e.g. `template.generation_prompt`) and score it.

    Sampling is plain temperature sampling (no top-k / top-p: the log-probabilities PPO optimises
    must be those of the distribution sampled from). Raises ValueError when a prompt plus
    max_new_tokens exceeds the context (the caller cuts prompts).
    """
    if max_new_tokens < 1:
        raise ValueError(f"a rollout needs max_new_tokens >= 1, got {max_new_tokens}")
    if temperature <= 0:
        raise ValueError(f"PPO samples with a temperature > 0, got {temperature}")
    sampled = generate(
        policy,
        prompts,
        max_new_tokens,
        temperature=temperature,
        top_k=None,
        top_p=None,
        stop_ids=(template.end_id,),
        pad_id=template.pad_id,
        seed=seed,
    )
    other_stops = set(template.stop_ids) - {template.end_id}
    completed = [complete_response(tokens, max_new_tokens, template.end_id, other_stops) for tokens in sampled]
    responses = [tokens for tokens, _ in completed]
    device = policy.lm_head.weight.device
    finished = torch.tensor([done for _, done in completed], dtype=torch.bool, device=device)
    ids, starts, mask, width = _layout(prompts, responses, template.pad_id, device)
    last = width - 1 + mask.sum(1).long()
    logprobs = response_logprobs(policy, ids, starts, width, temperature)
    ref_logprobs = response_logprobs(reference, ids, starts, width, temperature)
    values = response_values(value_model, ids, starts, width)
    # Every response starts at column `width`: the reward model's likelihood term reads from there.
    answer_start = torch.full_like(last, width)
    rm_scores = reward_model(ids, last, starts, answer_start=answer_start).float()
    scores = rm_scores - missing_eos_penalty * (~finished).float()
    return Rollout(
        ids=ids,
        starts=starts,
        prompt_width=width,
        response=ids[:, width:],
        mask=mask,
        last=last,
        finished=finished,
        logprobs=logprobs,
        ref_logprobs=ref_logprobs,
        values=values,
        rm_scores=rm_scores,
        scores=scores,
        replies=[template.reply(r) for r in responses],
    )
