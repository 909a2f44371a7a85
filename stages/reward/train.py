"""Training the reward model on preference pairs: Bradley-Terry loss, and the validation accuracy
that picks the step kept (the reported accuracy is another split's: stages/reward/heldout.py).

A pair is two sequences, prompt + chosen and prompt + rejected, each in the chat template (an
answer that finished ends with `<|end|>`, a truncated one does not); the score is read at each
sequence's last token. Loss: -logsigmoid(r_chosen - r_rejected - margin), plus
`centring` x mean((r_chosen + r_rejected)^2) when set (keeps raw scores near 0, as in
"Helping or Herding?" / OpenRLHF's option). Chosen and rejected rows of a batch run as one
right-padded forward. Every score here includes the reward model's likelihood term (the answer's
start is known), trained at LIKELIHOOD_LR_SCALE times the body's learning rate.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from crisol.chat.template import ChatTemplate
from crisol.model.reward import Answered, RewardModel, answer_batch, answer_ids
from crisol.training.optim import adamw
from crisol.training.schedule import learning_rate
from stages.reward.preference import Preference

EVAL_BATCH = 64


LIKELIHOOD_LR_SCALE = 500.0  # the likelihood weight is one number: it learns at 500 x the body's rate


class EncodedPair(NamedTuple):
    chosen: Answered
    rejected: Answered


def encode_pair(template: ChatTemplate, pair: Preference) -> EncodedPair:
    return EncodedPair(
        answer_ids(template, pair.prompt, pair.chosen, pair.chosen_finished),
        answer_ids(template, pair.prompt, pair.rejected, pair.rejected_finished),
    )


def _pair_scores(
    model: RewardModel, chunk: Sequence[EncodedPair], pad_id: int, device: torch.device, normalised: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    ids, last, start = answer_batch([p.chosen for p in chunk] + [p.rejected for p in chunk], pad_id, device)
    scores = model(ids, last, answer_start=start) if normalised else model.raw(ids, last, answer_start=start)
    return scores[: len(chunk)], scores[len(chunk) :]


def score_pairs(
    model: RewardModel, pairs: Sequence[EncodedPair], pad_id: int, device: torch.device, normalised: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen scores, rejected scores) of every pair, without gradients."""
    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    with torch.no_grad():
        for at in range(0, len(pairs), EVAL_BATCH):
            c, r = _pair_scores(model, pairs[at : at + EVAL_BATCH], pad_id, device, normalised)
            chosen.append(c.cpu())
            rejected.append(r.cpu())
    model.train(was_training)
    return torch.cat(chosen), torch.cat(rejected)


def _optimizer(model: RewardModel, lr: float, device: torch.device) -> torch.optim.AdamW:
    """AdamW over body and head, with the likelihood weight in a group of its own (lr_scale)."""
    model.likelihood_weight.requires_grad_(False)
    optimizer = adamw(model, lr=lr, weight_decay=0.0, betas=(0.9, 0.95), device=device)
    model.likelihood_weight.requires_grad_(True)
    optimizer.add_param_group(
        {"params": [model.likelihood_weight], "weight_decay": 0.0, "lr_scale": LIKELIHOOD_LR_SCALE}
    )
    return optimizer


def pair_metrics(chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, float | None]:
    if not len(chosen):
        return {"accuracy": None, "margin": None, "pairs": 0}  # null in JSON, never NaN
    margin = chosen - rejected
    return {
        "accuracy": round(float((margin > 0).float().mean()), 5),
        "margin": round(float(margin.mean()), 5),
        "pairs": len(chosen),
    }


@dataclass
class RewardResult:
    history: dict[str, list[dict[str, float]]] = field(default_factory=lambda: {"train_loss": [], "validation": []})
    best_step: int = 0
    best: dict[str, float] | None = None
    steps: int = 0
    seconds: float = 0.0


def train_reward_model(
    model: RewardModel,
    train: list[EncodedPair],
    validation: list[EncodedPair],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    warmup_steps: int,
    margin: float,
    centring: float,
    grad_clip: float,
    eval_every: int,
    seed: int,
    pad_id: int,
    device: torch.device,
    log: logging.Logger,
) -> RewardResult:
    """Train in place; on return the model holds the state with the best accuracy on `validation`.
    Deterministic for a seed when the model's initial state is (the caller seeds its head)."""
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(len(train)) for _ in range(epochs)]
    per_epoch = math.ceil(len(train) / batch_size)
    total = per_epoch * epochs
    optimizer = _optimizer(model, lr, device)
    result = RewardResult()
    best_state = None

    def evaluate(step: int) -> None:
        nonlocal best_state
        entry = {"step": step, **pair_metrics(*score_pairs(model, validation, pad_id, device, normalised=False))}
        result.history["validation"].append(entry)
        log.info(
            "reward: step %d/%d: validation accuracy %.1f%%, margin %.3f",
            step,
            total,
            100 * entry["accuracy"],
            entry["margin"],
        )
        if result.best is None or entry["accuracy"] > result.best["accuracy"]:
            result.best, result.best_step = entry, step
            best_state = copy.deepcopy(model.state_dict())

    model.train()
    evaluate(0)
    step = 0
    for order in orders:
        for at in range(0, len(order), batch_size):
            started = time.perf_counter()
            chunk = [train[i] for i in order[at : at + batch_size]]
            rate = learning_rate(step, peak=lr, warmup=warmup_steps, total=total, floor_ratio=0.1, decay="cosine")
            for group in optimizer.param_groups:
                group["lr"] = rate * group.get("lr_scale", 1.0)
            chosen, rejected = _pair_scores(model, chunk, pad_id, device, normalised=False)
            loss = -F.logsigmoid(chosen - rejected - margin).mean()
            if centring > 0:
                loss = loss + centring * ((chosen + rejected) ** 2).mean()
            loss.backward()
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            result.seconds += time.perf_counter() - started
            step += 1
            result.history["train_loss"].append({"step": step, "loss": round(float(loss.detach()), 5)})
            if step % eval_every == 0 or step == total:
                evaluate(step)
    result.steps = step
    assert best_state is not None
    model.load_state_dict(best_state)
    return result
