"""One PPO step: a rollout, its per-token rewards (the KL penalty on every token, the score on the
last), GAE advantages whitened over the batch, then `ppo_epochs` passes of shuffled minibatches
that minimise the clipped policy loss plus vf_coef times the clipped value loss, with one AdamW
over the policy and the value model and one gradient-norm clip over both (TRL's PPOTrainer wraps
the two the same way).

Every model stays in eval() mode: PPO's importance ratio compares the policy with itself as it
sampled, and anything train-mode only (dropout) would make the first minibatch's ratio differ
from 1 before any update. That ratio is recorded separately (policy/ratio_first and its largest
deviation) because it is the cheapest check that the rollout and the update read the same
distribution (same temperature, same padding, same positions).

Deterministic for a seed: minibatch order comes from one torch generator seeded once, sampling
from the seed each step passes to `step`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal, Sequence

import torch
from torch import Tensor, nn

from crisol.chat.template import ChatTemplate
from crisol.model.reward import RewardModel
from crisol.model.transformer import Transformer
from crisol.training.optim import adamw
from crisol.training.text_mix import TextMix
from stages.ppo.advantages import AdaptiveKLController, FixedKLController, gae, masked_whiten, per_token_rewards
from stages.ppo.losses import entropy_from_logits, explained_variance, logprobs_from_logits, policy_loss, value_loss
from stages.ppo.rollout import Rollout, response_logits, response_values, rollout


@dataclass(frozen=True)
class PPOSettings:
    max_new_tokens: int
    temperature: float = 0.7
    missing_eos_penalty: float = 1.0
    ppo_epochs: int = 4
    minibatch_size: int = 8  # rows per optimisation step
    clip: float = 0.2  # policy ratio clip
    value_clip: float = 0.2
    vf_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    max_grad_norm: float = 1.0  # 0: no clipping
    lr: float = 1e-5
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.95)


@dataclass
class StepResult:
    rollout: Rollout  # the batch the step trained on (replies and finished for the oracle)
    stats: dict[str, float]


ValueInit = Literal["zero", "reward"]


def value_model_from(reward_model: RewardModel, init: ValueInit = "zero") -> RewardModel:
    """A trainable copy of the reward model to serve as the value model: its head at every position
    estimates the return of the response so far.

    init "zero": the head starts at 0 everywhere, which is the expected score of an SFT sample (the
    reward model is normalised to mean 0 on them), so the first advantages are the scores
    themselves, not the noise of an untrained head. "reward": the reward model's head with its
    normalisation folded in, (w h + b - shift) / scale, so its values start on the scores' scale;
    it was only trained at the last token, so elsewhere it guesses."""
    value_model = copy.deepcopy(reward_model)
    with torch.no_grad():
        head = value_model.head
        if init == "zero":
            head.weight.zero_()
            head.bias.zero_()
        elif init == "reward":
            head.weight.div_(value_model.scale)
            head.bias.sub_(value_model.shift).div_(value_model.scale)
        else:
            raise ValueError(f"value model init must be 'zero' or 'reward', got {init!r}")
        value_model.set_normalisation(0.0, 1.0)
    value_model.requires_grad_(True)
    value_model.likelihood_weight.requires_grad_(False)  # values() never reads it
    return value_model.eval()


class PPOTrainer:
    """Holds the four models, the optimiser and the KL controller; `step(prompts)` runs one PPO
    step in place. The reference and reward model are frozen here."""

    def __init__(
        self,
        policy: Transformer,
        reference: Transformer,
        reward_model: RewardModel,
        value_model: RewardModel,
        template: ChatTemplate,
        settings: PPOSettings,
        kl_controller: FixedKLController | AdaptiveKLController,
        seed: int = 0,
        text: TextMix | None = None,
    ) -> None:
        """`text`: pretraining windows whose weighted next-token loss joins every minibatch's (PPO-ptx)."""
        if settings.ppo_epochs < 1 or settings.minibatch_size < 1:
            raise ValueError(
                f"ppo_epochs and minibatch_size must be >= 1, got {settings.ppo_epochs} and {settings.minibatch_size}"
            )
        self.policy, self.reference = policy.eval(), reference.eval()
        self.reward_model, self.value_model = reward_model.eval(), value_model.eval()
        self.reference.requires_grad_(False)
        self.reward_model.requires_grad_(False)
        self.template, self.settings, self.kl = template, settings, kl_controller
        device = policy.lm_head.weight.device
        # One module over both, so one optimiser and one gradient-norm clip cover them together.
        self.trained = nn.ModuleList([policy, value_model])
        self.optimizer = adamw(
            self.trained, lr=settings.lr, weight_decay=settings.weight_decay, betas=settings.betas, device=device
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.text = text
        self.steps = 0

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step(self, prompts: Sequence[Sequence[int]], seed: int | None = None) -> StepResult:
        s = self.settings
        batch = rollout(
            self.policy,
            self.reference,
            self.reward_model,
            self.value_model,
            prompts,
            self.template,
            max_new_tokens=s.max_new_tokens,
            temperature=s.temperature,
            missing_eos_penalty=s.missing_eos_penalty,
            seed=seed,
        )
        beta = self.kl.value
        rewards, kl = per_token_rewards(batch.scores, batch.logprobs, batch.ref_logprobs, batch.mask, beta)
        advantages, returns = gae(rewards, batch.values, batch.mask, s.gamma, s.lam)
        advantages = masked_whiten(advantages, batch.mask)
        stats = self._rollout_stats(batch, kl, beta, returns)
        stats.update(self._optimise(batch, advantages, returns))
        self.kl.update(stats["objective/kl"], len(batch))
        stats["objective/beta_next"] = self.kl.value
        self.steps += 1
        return StepResult(batch, stats)

    @staticmethod
    @torch.no_grad()
    def _rollout_stats(batch: Rollout, kl: Tensor, beta: float, returns: Tensor) -> dict[str, float]:
        kl_sum = kl.sum(1)
        non_score = -beta * kl_sum
        return {
            "objective/rm_score": float(batch.rm_scores.mean()),
            "objective/scores": float(batch.scores.mean()),
            "objective/kl": float(kl_sum.mean()),
            "objective/non_score_reward": float(non_score.mean()),
            "objective/rlhf_reward": float((batch.scores + non_score).mean()),
            "objective/beta": beta,
            "value/explained_variance": float(explained_variance(batch.values, returns, batch.mask)),
            "response/length": float(batch.lengths.float().mean()),
            "response/eos_rate": float(batch.finished.float().mean()),
        }

    def _optimise(self, batch: Rollout, advantages: Tensor, returns: Tensor) -> dict[str, float]:
        s = self.settings
        sums: dict[str, Tensor] = {}
        first: dict[str, float] = {}
        count = 0
        for _ in range(s.ppo_epochs):
            order = torch.randperm(len(batch), generator=self.generator).to(batch.ids.device)
            for at in range(0, len(batch), s.minibatch_size):
                rows = order[at : at + s.minibatch_size]
                ids, starts, mask = batch.ids[rows], batch.starts[rows], batch.mask[rows]
                logits = response_logits(self.policy, ids, starts, batch.prompt_width, s.temperature)
                logprobs = logprobs_from_logits(logits, batch.response[rows])
                values = response_values(self.value_model, ids, starts, batch.prompt_width)
                p_loss, p_stats = policy_loss(logprobs, batch.logprobs[rows], advantages[rows], mask, s.clip)
                v_loss, v_stats = value_loss(values, batch.values[rows], returns[rows], mask, s.value_clip)
                loss = p_loss + s.vf_coef * v_loss
                if self.text is not None:
                    text_loss = self.text.loss(self.policy, ids.device)
                    loss = loss + text_loss
                    sums["policy/text_loss"] = sums.get("policy/text_loss", 0.0) + text_loss.detach()
                loss.backward()
                if s.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(self.trained.parameters(), s.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                if not first:
                    first = _first_ratio(logprobs.detach(), batch.logprobs[rows], mask)
                with torch.no_grad():
                    entry = {
                        **p_stats,
                        **v_stats,
                        "policy/loss": p_loss.detach(),
                        "value/loss": v_loss.detach(),
                        "policy/entropy": entropy_from_logits(logits.detach(), mask),
                    }
                for name, value in entry.items():
                    sums[name] = sums.get(name, 0.0) + value
                count += 1
        return {**{name: float(total) / count for name, total in sums.items()}, **first}


@torch.no_grad()
def _first_ratio(logprobs: Tensor, old_logprobs: Tensor, mask: Tensor) -> dict[str, float]:
    """The ratio on the first minibatch of the first epoch, before any update reached it: its mean
    and its largest deviation from 1 over the real tokens (both must read exactly 1 and 0)."""
    keep = mask.bool()
    ratio = torch.exp(logprobs - old_logprobs)[keep]
    return {"policy/ratio_first": float(ratio.mean()), "policy/ratio_first_max_error": float((ratio - 1.0).abs().max())}
