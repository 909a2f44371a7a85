"""From a scored rollout to advantages: masked statistics, the per-token reward (the KL penalty on
every response token, the reward model's score on the last), GAE, and the KL coefficient's
controllers.

Every tensor is a RESPONSE tensor [B, T]: row b holds one sampled response, left-aligned at the
first generated token and right-padded after its end, with a float mask [B, T] that is 1 on the
real tokens and 0 on the padding. Padding may hold anything (garbage, -inf log-probabilities): it
is replaced before it is used, never multiplied by 0 (0 * inf is nan, and so would be its
gradient). Everything here runs once per rollout batch, so it may check its inputs and detach.
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of x over the entries where mask is 1 (over everything, or along `dim`).

    No check for an empty mask (this sits in the training step, where a check would cost a device
    sync): an empty mask gives 0 / 0 = nan, which is loud enough downstream."""
    keep = mask.bool()
    total = torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))
    count = keep.to(x.dtype)
    if dim is None:
        return total.sum() / count.sum()
    return total.sum(dim) / count.sum(dim)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of x over the masked entries (Bessel-corrected when unbiased)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.bool().sum()
        if int(n) < 2:
            raise ValueError(f"an unbiased variance needs at least 2 masked entries, got {int(n)}")
        var = var * n / (n - 1)
    return var


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """x scaled to unit (unbiased) variance over the masked entries, and centred unless shift_mean
    is False (rewards are whitened without centring in some recipes so their sign survives).
    Padding comes back as 0."""
    mean = masked_mean(x, mask)
    whitened = (x - mean) * torch.rsqrt(masked_var(x, mask) + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(mask.bool(), whitened, torch.zeros((), dtype=x.dtype, device=x.device))


def response_lengths(mask: torch.Tensor) -> torch.Tensor:
    """Real tokens per row [B] (int64), checking the mask is right-padded: ones, then zeros, and at
    least one real token per row (a response ends with its end token, so none is empty)."""
    if mask.dim() != 2:
        raise ValueError(f"a response mask is [B, T], got shape {tuple(mask.shape)}")
    keep = mask.bool()
    lengths = keep.sum(1)
    prefix = torch.arange(mask.shape[1], device=mask.device) < lengths[:, None]
    if not torch.equal(keep, prefix):
        raise ValueError("the response mask is not right-padded (ones, then zeros, in every row)")
    if bool((lengths == 0).any()):
        raise ValueError("a response has no real token (every row needs at least its end token)")
    return lengths


def _check_shapes(mask: torch.Tensor, **tensors: torch.Tensor) -> None:
    for name, tensor in tensors.items():
        if tensor.shape != mask.shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}, the mask {tuple(mask.shape)}")


@torch.no_grad()
def per_token_rewards(
    score: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor, beta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(rewards [B, T], kl [B, T]): kl = logprobs - ref_logprobs on the real tokens (the k1
    estimator: unbiased for KL(policy || reference) over a sampled response, though one token's
    value may be negative), rewards = -beta * kl, with the reward model's score [B] added at the
    last real token of each row, the only place the whole response can be judged. Both are 0 on
    padding."""
    _check_shapes(mask, logprobs=logprobs, ref_logprobs=ref_logprobs)
    if score.shape != mask.shape[:1]:
        raise ValueError(f"score has shape {tuple(score.shape)}, expected ({mask.shape[0]},)")
    lengths = response_lengths(mask)
    zero = torch.zeros((), dtype=logprobs.dtype, device=logprobs.device)
    kl = torch.where(mask.bool(), logprobs - ref_logprobs, zero)
    rewards = -beta * kl
    rows = torch.arange(mask.shape[0], device=mask.device)
    rewards[rows, lengths - 1] += score.to(rewards.dtype)
    return rewards, kl


@torch.no_grad()
def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) by generalised advantage estimation, in a reverse loop over T:
    delta_t = r_t + gamma * V_{t+1} - V_t, A_t = delta_t + gamma * lam * A_{t+1}. Values past the
    last real token count as 0: the episode ends there, so nothing is bootstrapped beyond it
    (whatever the value head said on padding). returns = advantages + values, the value head's
    target. Both are 0 on padding."""
    _check_shapes(mask, rewards=rewards, values=values)
    keep = mask.bool()
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    rewards = torch.where(keep, rewards, zero)
    values = torch.where(keep, values, zero)
    steps = mask.shape[1]
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(values[:, 0])
    for t in reversed(range(steps)):
        next_value = values[:, t + 1] if t + 1 < steps else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        # On padding delta is 0 and A_{t+1} is 0, so the recursion starts fresh at each row's end.
        last = delta + gamma * lam * last
        advantages[:, t] = last
    advantages = torch.where(keep, advantages, zero)
    return advantages, advantages + values


class FixedKLController:
    """A constant KL coefficient, with the adaptive controller's interface."""

    def __init__(self, beta: float) -> None:
        if beta < 0:
            raise ValueError(f"the KL coefficient must be >= 0, got {beta}")
        self.value = float(beta)

    def update(self, current_kl: float, n_steps: int) -> None:
        pass


class AdaptiveKLController:
    """The KL coefficient steered towards a target KL (Ziegler et al. 2019, as in TRL): the
    proportional error current / target - 1 is clipped to +-0.2, and beta is multiplied by
    1 + error * n_steps / horizon, so beta rises while the policy drifts too far from the
    reference and falls while it stays too close, by at most 20% per `horizon` samples."""

    def __init__(self, init_beta: float, target: float, horizon: float) -> None:
        if init_beta < 0 or target <= 0 or horizon <= 0:
            raise ValueError(
                f"adaptive KL needs init_beta >= 0, target > 0 and horizon > 0, got {init_beta}, {target}, {horizon}"
            )
        self.value = float(init_beta)
        self.target = float(target)
        self.horizon = float(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        error = min(max(float(current_kl) / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
