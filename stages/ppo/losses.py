"""What one PPO optimisation step minimises, on the response tensors of advantages.py ([B, T]
with a float mask, right-padded): the clipped policy-gradient loss, the clipped value loss, the
policy's entropy, and the log-probabilities they all start from, plus explained variance to
watch the value head.

The losses run inside the training step, so they never sync the device: their stats come back
as detached 0-d tensors for the caller to log when it likes (explained_variance, a once-per-batch
diagnostic, is the exception). Padding is replaced (torch.where) before any arithmetic, so a
-inf log-probability there gives neither a nan loss nor a nan gradient."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stages.ppo.advantages import masked_mean, masked_var


def _masked(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.bool(), x, torch.zeros((), dtype=x.dtype, device=x.device))


def logprobs_from_logits(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) [B, T] from logits [B, T, V] and the tokens [B, T] they predict, in float32
    (a bf16 log-softmax is too coarse for ratios that must be exactly 1 when nothing changed);
    the logit of the token minus the logsumexp, so no [B, T, V] log-softmax is kept."""
    logits = logits.float()
    chosen = logits.gather(-1, tokens.long().unsqueeze(-1)).squeeze(-1)
    return chosen - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the next-token distributions over the real response tokens, in
    float32."""
    logp = F.log_softmax(logits.float(), dim=-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return masked_mean(entropy, mask)


def policy_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The PPO clipped surrogate: ratio = exp(new - old), loss = masked mean of
    max(-A * ratio, -A * clamp(ratio, 1 - clip, 1 + clip)), the pessimistic of the two, so a
    token whose ratio already moved past the clip in its advantage's direction gives no
    gradient. Stats: policy/clipfrac (share of tokens where the clipped term won),
    policy/approxkl (0.5 * mean (new - old)^2) and policy/ratio (mean ratio)."""
    log_ratio = _masked(logprobs - old_logprobs, mask)
    advantages = _masked(advantages, mask)
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        stats = {
            "policy/clipfrac": masked_mean((clipped > unclipped).to(ratio.dtype), mask),
            "policy/approxkl": 0.5 * masked_mean(log_ratio**2, mask),
            "policy/ratio": masked_mean(ratio, mask),
        }
    return loss, stats


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped value loss: 0.5 * masked mean of max((v - R)^2, (v_clipped - R)^2), where
    v_clipped = clamp(v, old - clip, old + clip) keeps the value head within `clip` of the values
    the rollout was scored with. Stats: value/clipfrac (share of tokens where the clipped term
    won)."""
    values = _masked(values, mask)
    old_values = _masked(old_values, mask)
    returns = _masked(returns, mask)
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)
    unclipped = (values - returns) ** 2
    clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        stats = {"value/clipfrac": masked_mean((clipped > unclipped).to(values.dtype), mask)}
    return loss, stats


@torch.no_grad()
def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - var(returns - values) / var(returns) over the real tokens: 1 for a perfect value head,
    0 for one that predicts the mean, negative for worse; nan when the returns do not vary."""
    returns_var = masked_var(returns, mask)
    residual_var = masked_var(returns - values, mask)
    if float(returns_var) == 0.0:
        return torch.tensor(float("nan"), dtype=returns.dtype, device=returns.device)
    return 1.0 - residual_var / returns_var
