"""PPO math: GAE and per-token rewards against hand-computed numbers, the clipped losses engage (and
stop the gradient) exactly beyond the clip, masked statistics ignore padding whatever it holds,
and the adaptive KL coefficient moves towards its target."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from stages.ppo.advantages import (
    AdaptiveKLController,
    FixedKLController,
    gae,
    masked_mean,
    masked_var,
    masked_whiten,
    per_token_rewards,
    response_lengths,
)
from stages.ppo.losses import entropy_from_logits, explained_variance, logprobs_from_logits, policy_loss, value_loss

# Two responses of T = 3: the first fills the row, the second has 2 real tokens and 1 pad.
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
GARBAGE = 123.0  # what the padding holds: must never reach a result


def t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_gae_matches_the_hand_computed_example():
    rewards = t([[0.1, -0.2, 1.0], [0.0, 2.0, GARBAGE]])
    values = t([[0.5, 0.4, 0.3], [1.0, 0.5, GARBAGE]])
    advantages, returns = gae(rewards, values, MASK, gamma=1.0, lam=0.95)
    # Row 0, backwards: d2 = 1.0 + 0 - 0.3 = 0.7 (nothing after the end)     A2 = 0.7
    #                   d1 = -0.2 + 0.3 - 0.4 = -0.3                          A1 = -0.3 + 0.95 * 0.7 = 0.365
    #                   d0 = 0.1 + 0.4 - 0.5 = 0.0                            A0 = 0.0 + 0.95 * 0.365 = 0.34675
    # Row 1: the pad's value is not bootstrapped:  d1 = 2.0 + 0 - 0.5 = 1.5    A1 = 1.5
    #                   d0 = 0.0 + 0.5 - 1.0 = -0.5                           A0 = -0.5 + 0.95 * 1.5 = 0.925
    torch.testing.assert_close(advantages, t([[0.34675, 0.365, 0.7], [0.925, 1.5, 0.0]]))
    torch.testing.assert_close(returns, t([[0.84675, 0.765, 1.0], [1.925, 2.0, 0.0]]))


def test_gae_with_gamma_and_lambda_one_returns_the_rewards_to_go():
    rewards = t([[0.1, -0.2, 1.0], [0.0, 2.0, GARBAGE]])
    values = t([[0.5, 0.4, 0.3], [1.0, 0.5, GARBAGE]])
    _, returns = gae(rewards, values, MASK, gamma=1.0, lam=1.0)
    torch.testing.assert_close(returns, t([[0.9, 0.8, 1.0], [2.0, 2.0, 0.0]]))


def test_gae_discounts_with_gamma():
    rewards = t([[0.0, 0.0, 1.0]])
    values = torch.zeros(1, 3, dtype=torch.float64)
    advantages, _ = gae(rewards, values, torch.ones(1, 3, dtype=torch.float64), gamma=0.5, lam=1.0)
    torch.testing.assert_close(advantages, t([[0.25, 0.5, 1.0]]))


def test_per_token_rewards_put_the_score_at_the_last_real_token_only():
    logprobs = t([[-1.0, -2.0, -0.5], [-0.3, -0.7, -math.inf]])
    ref_logprobs = t([[-1.5, -1.0, -0.5], [-0.4, -0.2, -math.inf]])
    score = torch.tensor([3.0, -2.0], dtype=torch.float64)
    rewards, kl = per_token_rewards(score, logprobs, ref_logprobs, MASK, beta=0.1)
    torch.testing.assert_close(kl, t([[0.5, -1.0, 0.0], [0.1, -0.5, 0.0]]))
    torch.testing.assert_close(rewards, t([[-0.05, 0.1, 3.0], [-0.01, 0.05 - 2.0, 0.0]]))
    assert rewards[1, 2] == 0.0 and kl[1, 2] == 0.0  # the -inf padding gave no nan
    assert score.tolist() == [3.0, -2.0]  # inputs untouched


@pytest.mark.parametrize(
    "mask, message",
    [
        ([[1.0, 0.0, 1.0]], "right-padded"),
        ([[0.0, 0.0, 0.0]], "no real token"),
    ],
)
def test_per_token_rewards_reject_a_bad_mask(mask, message):
    mask_tensor = t(mask)
    zeros = torch.zeros_like(mask_tensor)
    with pytest.raises(ValueError, match=message):
        per_token_rewards(torch.zeros(1, dtype=torch.float64), zeros, zeros, mask_tensor, beta=0.1)


def test_response_lengths_count_the_real_tokens():
    assert response_lengths(MASK).tolist() == [3, 2]


def test_identical_policies_give_ratio_one_and_minus_the_mean_advantage():
    logprobs = t([[-1.0, -2.0, -0.5], [-0.3, -0.7, -math.inf]]).requires_grad_()
    advantages = t([[1.0, -2.0, 0.5], [3.0, -1.0, GARBAGE]])
    loss, stats = policy_loss(logprobs, logprobs.detach().clone(), advantages, MASK, clip=0.2)
    expected = -masked_mean(advantages, MASK)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-12)
    assert expected.item() == pytest.approx(-(1.0 - 2.0 + 0.5 + 3.0 - 1.0) / 5)
    assert stats["policy/ratio"].item() == 1.0
    assert stats["policy/clipfrac"].item() == 0.0
    assert stats["policy/approxkl"].item() == 0.0
    loss.backward()
    # d loss / d logprob = -A / n on real tokens; no gradient (and no nan) on the padding
    torch.testing.assert_close(logprobs.grad, t([[-1.0, 2.0, -0.5], [-3.0, 1.0, 0.0]]) / 5)


def test_policy_clipping_engages_beyond_the_clip_and_stops_that_gradient():
    # Four tokens: ratio 1.5 or 0.5, advantage +1 or -1.
    ratios = t([[1.5, 0.5, 1.5, 0.5]])
    advantages = t([[1.0, 1.0, -1.0, -1.0]])
    mask = torch.ones(1, 4, dtype=torch.float64)
    old = torch.zeros(1, 4, dtype=torch.float64)
    new = ratios.log().requires_grad_()
    loss, stats = policy_loss(new, old, advantages, mask, clip=0.2)
    # A > 0, ratio 1.5: clipped to 1.2 (no credit past the clip)       -> -1.2, no gradient
    # A > 0, ratio 0.5: the unclipped term is the pessimistic one        -> -0.5
    # A < 0, ratio 1.5: unclipped, pessimistic                            -> +1.5
    # A < 0, ratio 0.5: clipped to 0.8                                    -> +0.8, no gradient
    assert loss.item() == pytest.approx((-1.2 - 0.5 + 1.5 + 0.8) / 4)
    assert stats["policy/clipfrac"].item() == pytest.approx(0.5)
    assert stats["policy/ratio"].item() == pytest.approx(1.0)
    approxkl = 0.5 * (math.log(1.5) ** 2 + math.log(0.5) ** 2) / 2
    assert stats["policy/approxkl"].item() == pytest.approx(approxkl)
    loss.backward()
    # d(-A * ratio)/d log ratio = -A * ratio, over n = 4
    torch.testing.assert_close(new.grad, t([[0.0, -0.5, 1.5, 0.0]]) / 4)


def test_ratios_inside_the_clip_are_never_clipped():
    new = t([[math.log(1.19), math.log(0.81)]])
    _, stats = policy_loss(new, torch.zeros_like(new), t([[1.0, -1.0]]), torch.ones_like(new), clip=0.2)
    assert stats["policy/clipfrac"].item() == 0.0


def test_value_loss_clips_the_move_from_the_old_values():
    old = t([[0.0, 0.0, 0.0, 0.0]])
    returns = t([[1.0, 1.0, 1.0, GARBAGE]])
    values = t([[1.0, 0.1, -1.0, GARBAGE]]).requires_grad_()
    mask = t([[1.0, 1.0, 1.0, 0.0]])
    loss, stats = value_loss(values, old, returns, mask, clip=0.2)
    # v = 1.0 moved 1.0 from old: clipped to 0.2, (0.2 - 1)^2 = 0.64 beats (1 - 1)^2 = 0 -> clipped
    # v = 0.1 inside the clip: both terms (0.1 - 1)^2 = 0.81                              -> not clipped
    # v = -1.0 clipped to -0.2: (-1 - 1)^2 = 4 beats (-0.2 - 1)^2 = 1.44                  -> not clipped
    assert loss.item() == pytest.approx(0.5 * (0.64 + 0.81 + 4.0) / 3)
    assert stats["value/clipfrac"].item() == pytest.approx(1 / 3)
    loss.backward()
    # the clipped token gets no gradient; the others 0.5 * 2 (v - R) / 3
    torch.testing.assert_close(values.grad, t([[0.0, -0.9 / 3, -2.0 / 3, 0.0]]))


def test_whitening_uses_the_masked_entries_only():
    x = t([[1.0, 2.0, 3.0], [10.0, 4.0, 1e6]])
    whitened = masked_whiten(x, MASK)
    real = whitened[MASK.bool()]
    assert real.mean().item() == pytest.approx(0.0, abs=1e-12)
    assert real.std().item() == pytest.approx(1.0, abs=1e-6)  # unbiased, like masked_var
    assert whitened[1, 2].item() == 0.0
    values = torch.tensor([1.0, 2.0, 3.0, 10.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(real, (values - values.mean()) / values.std())
    kept = masked_whiten(x, MASK, shift_mean=False)[MASK.bool()]
    assert kept.mean().item() == pytest.approx(4.0)
    assert kept.std().item() == pytest.approx(1.0, abs=1e-6)


def test_masked_statistics_ignore_padding_even_when_it_is_not_finite():
    x = t([[1.0, 2.0, 3.0], [5.0, 7.0, math.nan]])
    assert masked_mean(x, MASK).item() == pytest.approx(18.0 / 5)
    torch.testing.assert_close(masked_mean(x, MASK, dim=1), torch.tensor([2.0, 6.0], dtype=torch.float64))
    values = torch.tensor([1.0, 2.0, 3.0, 5.0, 7.0], dtype=torch.float64)
    assert masked_var(x, MASK).item() == pytest.approx(values.var().item())
    assert masked_var(x, MASK, unbiased=False).item() == pytest.approx(values.var(unbiased=False).item())
    with pytest.raises(ValueError, match="at least 2"):
        masked_var(x, t([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))


def test_explained_variance_is_one_for_perfect_values_and_zero_for_the_mean():
    returns = t([[1.0, 2.0, 3.0], [4.0, 6.0, GARBAGE]])
    assert explained_variance(returns.clone(), returns, MASK).item() == pytest.approx(1.0)
    mean = torch.full_like(returns, masked_mean(returns, MASK).item())
    assert explained_variance(mean, returns, MASK).item() == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(explained_variance(returns, torch.ones_like(returns), MASK).item())


def test_logprobs_gather_the_float32_log_softmax():
    torch.manual_seed(0)
    logits = (torch.randn(2, 3, 11) * 4).to(torch.bfloat16)
    tokens = torch.randint(0, 11, (2, 3))
    logprobs = logprobs_from_logits(logits, tokens)
    assert logprobs.dtype == torch.float32
    expected = F.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(logprobs, expected)


def test_entropy_is_the_masked_mean_over_real_tokens():
    logits = torch.zeros(2, 3, 8)  # uniform: entropy log 8
    logits[1, 0] = torch.tensor([100.0] + [0.0] * 7)  # near one-hot: entropy ~ 0
    logits[1, 2] = torch.tensor([100.0] + [0.0] * 7)  # padding: must not count
    mask = MASK.float()
    entropy = entropy_from_logits(logits, mask)
    assert entropy.item() == pytest.approx(4 * math.log(8) / 5, rel=1e-5)
    logits[1, 2] = 0.0
    assert entropy_from_logits(logits, mask).item() == pytest.approx(entropy.item())


def test_adaptive_kl_raises_beta_above_target_and_lowers_it_below():
    above = AdaptiveKLController(init_beta=0.1, target=6.0, horizon=10_000)
    above.update(current_kl=7.5, n_steps=100)  # error 0.25, clipped to 0.2
    assert above.value == pytest.approx(0.1 * (1 + 0.2 * 100 / 10_000))
    below = AdaptiveKLController(init_beta=0.1, target=6.0, horizon=10_000)
    below.update(current_kl=5.4, n_steps=100)  # error -0.1
    assert below.value == pytest.approx(0.1 * (1 - 0.1 * 100 / 10_000))
    on_target = AdaptiveKLController(init_beta=0.1, target=6.0, horizon=10_000)
    on_target.update(current_kl=6.0, n_steps=100)
    assert on_target.value == pytest.approx(0.1)


def test_fixed_kl_never_moves_and_bad_settings_are_refused():
    fixed = FixedKLController(0.05)
    fixed.update(current_kl=100.0, n_steps=1000)
    assert fixed.value == 0.05
    with pytest.raises(ValueError):
        AdaptiveKLController(init_beta=0.1, target=0.0, horizon=10_000)
    with pytest.raises(ValueError):
        FixedKLController(-1.0)
