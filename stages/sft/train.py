"""The fine-tuning loop: epochs of shuffled batches, AdamW (or Muon) with warmup and decay, evaluation every
eval_every steps (validation loss on assistant tokens; exact match on validation questions where
there are short gold answers to match), and the best state by `select_by` kept in memory: SFT on a
small model overfits within a few epochs, so the last step is rarely the best one, and the curve
shows where it turned.

Deterministic for a seed: each epoch's order comes from one numpy generator seeded once.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from crisol.model.transformer import IGNORE_INDEX, Transformer
from crisol.training.device import autocast
from crisol.training.optim import Combined, build_optimizer, set_lr
from crisol.training.schedule import learning_rate
from crisol.training.text_mix import TextMix
from stages.sft.batches import Batch, Sequence, epoch_batches, evaluation_batches
from stages.sft.params import SftParams

EVAL_BATCH = 64


def _loss(model: Transformer, batch: Batch, reduction: str) -> torch.Tensor:
    logits, _ = model(batch.ids, positions=batch.positions, segments=batch.segments)
    return F.cross_entropy(
        logits.view(-1, logits.shape[-1]), batch.targets.view(-1), ignore_index=IGNORE_INDEX, reduction=reduction
    )


@torch.no_grad()
def assistant_loss(
    model: Transformer, sequences: list[Sequence], pad_id: int, device: torch.device, bf16: bool
) -> float:
    """Mean cross-entropy per assistant token over every sequence (each token weighs the same)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in evaluation_batches(sequences, EVAL_BATCH, pad_id):
        batch = batch.to(device)
        with autocast(device, bf16):
            total += float(_loss(model, batch, "sum"))
        count += batch.trained_tokens
    model.train(was_training)
    return total / count if count else float("nan")


@dataclass
class History:
    train_loss: list[dict[str, float]] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    lr: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[dict[str, float]]]:
        # Selecting by loss asks no questions: its exact-match curve has no points.
        asked = [entry for entry in self.validation if entry["exact_match"] is not None]
        return {
            "train_loss": self.train_loss,
            "validation_loss": self.validation,
            "validation_exact_match": asked,
            "lr": self.lr,
        }


@dataclass
class Result:
    history: History
    best_step: int
    best: dict[str, float]
    steps: int
    trained_tokens: int  # assistant tokens the loss was taken over, all epochs
    text_tokens: int  # pretraining tokens mixed in (sft.text_mix_rows), all epochs
    seconds: float  # optimiser work, evaluations excluded


def selection(asked: str, world_questions: bool) -> tuple[str, str]:
    """The criterion the kept step is chosen by, and why (for metrics)."""
    if asked != "auto":
        return asked, f"sft.select_by is {asked}"
    if world_questions:
        return "exact_match", "auto: the world's generated questions are the data (short gold answers)"
    return "loss", "auto: no world questions (own data): exact match means nothing for free-text answers"


def better(candidate: dict[str, float], best: dict[str, float] | None, select_by: str) -> bool:
    if best is None:
        return True
    if select_by == "loss":
        return candidate["loss"] < best["loss"]
    return (candidate["exact_match"], -candidate["loss"]) > (best["exact_match"], -best["loss"])


def _optimizer(model: Transformer, p: SftParams, device: torch.device):
    return build_optimizer(
        model,
        p.optimizer,
        lr=p.lr,
        weight_decay=p.weight_decay,
        betas=(p.beta1, p.beta2),
        device=device,
        muon_lr_scale=p.muon_lr_scale,
    )


def fine_tune(
    model: Transformer,
    train: list[Sequence],
    validation: list[Sequence],
    exact_match: Callable[[Transformer], float] | None,
    select_by: str,
    params: SftParams,
    pad_id: int,
    device: torch.device,
    bf16: bool,
    log: logging.Logger,
    text: TextMix | None = None,
) -> Result:
    """Train `model` in place; on return it holds the best evaluated state by `select_by` (exact_match,
    ties by loss; or loss). `exact_match` None: no questions asked (select_by must be loss). `text`:
    pretraining windows added to every step (the logged training loss stays the assistant tokens')."""
    if exact_match is None and select_by != "loss":
        raise ValueError(f"select_by {select_by} needs an exact-match function")
    p = params
    rng = np.random.default_rng(p.seed)
    capacity = p.max_tokens - 1
    epochs = [
        epoch_batches(train, p.batch_size, pad_id, packing=p.packing, capacity=capacity, rng=rng)
        for _ in range(p.epochs)
    ]
    total = sum(len(e) for e in epochs)
    optimizer = _optimizer(model, p, device)
    history = History()
    best_state: dict[str, torch.Tensor] | None = None
    best: dict[str, float] | None = None
    best_step = 0

    def evaluate(step: int) -> None:
        nonlocal best_state, best, best_step
        entry = {
            "step": step,
            "loss": round(assistant_loss(model, validation, pad_id, device, bf16), 5),
            "exact_match": None if exact_match is None else round(exact_match(model), 5),
        }
        history.validation.append(entry)
        log.info("sft: step %d/%d: validation loss %.4f%s", step, total, entry["loss"], _asked(entry))
        if better(entry, best, select_by):
            best, best_step = entry, step
            best_state = copy.deepcopy(model.state_dict())

    model.train()
    evaluate(0)
    step, trained_tokens, seconds = 0, 0, 0.0
    window_loss, window_steps = torch.zeros((), device=device), 0
    for batches in epochs:
        for batch in batches:
            started = time.perf_counter()
            lr = learning_rate(
                step, peak=p.lr, warmup=p.warmup_steps, total=total, floor_ratio=p.min_lr_ratio, decay=p.decay
            )
            batch = batch.to(device)
            window_loss += _optimizer_step(model, optimizer, batch, text, lr, p.grad_clip, device, bf16)
            seconds += time.perf_counter() - started
            window_steps += 1
            trained_tokens += batch.trained_tokens
            step += 1
            if step % p.log_every == 0 or step == total:
                mean = float(window_loss) / window_steps
                if not math.isfinite(mean):
                    raise RuntimeError(f"sft: training loss is {mean} at step {step}; lower sft.lr")
                history.train_loss.append({"step": step, "loss": round(mean, 5)})
                history.lr.append({"step": step, "lr": lr})
                window_loss.zero_()
                window_steps = 0
            if step % p.eval_every == 0 or step == total:
                evaluate(step)
    assert best_state is not None and best is not None
    model.load_state_dict(best_state)
    log.info("sft: kept step %d (validation loss %.4f%s)", best_step, best["loss"], _asked(best))
    text_tokens = 0 if text is None else step * text.tokens_per_step
    return Result(history, best_step, dict(best), step, trained_tokens, text_tokens, seconds)


def _optimizer_step(
    model: Transformer,
    optimizer: torch.optim.Optimizer | Combined,
    batch: Batch,
    text: TextMix | None,
    lr: float,
    grad_clip: float,
    device: torch.device,
    bf16: bool,
) -> torch.Tensor:
    """One step at learning rate `lr` on a batch already on `device`, plus `text`'s windows when
    given; the batch's mean assistant loss, detached."""
    set_lr(optimizer, lr)
    with autocast(device, bf16):
        loss = _loss(model, batch, "mean")
        total = loss if text is None else loss + text.loss(model, device)
    total.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def _asked(entry: dict[str, float | None]) -> str:
    return "" if entry["exact_match"] is None else f", exact match {100 * entry['exact_match']:.1f}%"
