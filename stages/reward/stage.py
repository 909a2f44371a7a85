"""The reward stage:

    SFT model + SFT's training questions ──(sample k replies each, judge with the oracle)──> pairs
    user preference files ──(validated row by row)──────────────────────────────────────> pairs
    pairs ──(Bradley-Terry from the SFT weights; best held-out accuracy kept)──> reward model
        ──(normalised: the SFT model's samples score mean 0, std 1)──> <out>/model, pairs, metrics
"""

from __future__ import annotations

import random
import time
from typing import Any

from stages.chat.template import ChatTemplate
from stages.common.cli import StageContext
from stages.common.conversations import read_examples
from stages.common.errors import StageInputError
from stages.common.hashsplit import TRAIN, VALIDATION
from stages.model.reward import RewardModel, score_sequences
from stages.model.weights import load_model
from stages.reward.generated import idk_candidates, pairs_from_samples, sample_replies
from stages.reward.outputs import write_outputs
from stages.reward.params import RewardParams
from stages.reward.train import answer_ids, encode_pair, pair_metrics, score_pairs, train_reward_model
from stages.reward.user_preferences import load_user_preferences
from stages.training.device import prepare


def run(ctx: StageContext) -> None:
    """Train the reward model on oracle-labelled samples of the SFT model and the user's preference pairs."""
    params: RewardParams = ctx.params
    log = ctx.log
    started = time.perf_counter()
    device = prepare(params.device, params.threads)
    template = ChatTemplate.from_file(params.tokenizer)
    sft_model = load_model(params.sft / "model").to(device)
    if params.max_tokens > sft_model.config.max_seq_len:
        raise StageInputError(f"reward.max_tokens ({params.max_tokens}) exceeds the SFT model's context "
                              f"({sft_model.config.max_seq_len})")

    g = params.generated
    questions = [e for e in read_examples(params.sft / "examples.parquet") if e.split in g.splits and e.kind in g.kinds]
    if len(questions) > g.max_prompts:
        questions = sorted(random.Random(g.seed).sample(questions, g.max_prompts), key=lambda e: e.id)
    samples = sample_replies(sft_model, template, questions, g.samples_per_prompt, g.temperature, g.max_new_tokens,
                             g.seed)
    generated = pairs_from_samples(samples, g.pairs_per_prompt, g.label_noise, g.seed,
                                   extra=idk_candidates(questions) if g.idk_candidate else (),
                                   validation_fraction=g.validation_fraction, split_salt=g.split_salt)
    user = load_user_preferences(params.user, template, params.max_tokens)
    pairs = [*generated.pairs, *user.pairs]
    encoded = [encode_pair(template, p) for p in pairs]
    fits = [max(len(e.chosen.ids), len(e.rejected.ids)) <= params.max_tokens for e in encoded]
    over_length = fits.count(False)
    pairs = [p for p, ok in zip(pairs, fits) if ok]
    encoded = [e for e, ok in zip(encoded, fits) if ok]
    train = [e for p, e in zip(pairs, encoded) if p.split == TRAIN]
    held_out = [e for p, e in zip(pairs, encoded) if p.split == VALIDATION]
    if not train or not held_out:
        raise StageInputError(f"reward: {len(train)} training and {len(held_out)} held-out pairs; both are needed "
                              f"(generated: {generated.summary()}, user: {user.summary()})")
    log.info("reward: %d prompts, %d samples (SFT gold score %.3f); %d training and %d held-out pairs",
             len(questions), len(samples), generated.gold_score(), len(train), len(held_out))

    model = RewardModel(load_model(params.sft / "model")).to(device)
    result = train_reward_model(model, train, held_out, epochs=params.epochs, batch_size=params.batch_size,
                                lr=params.lr, warmup_steps=params.warmup_steps, margin=params.margin,
                                centring=params.centring, grad_clip=params.grad_clip, eval_every=params.eval_every,
                                seed=params.seed, pad_id=template.pad_id, device=device, log=log)

    # Normalise on the SFT model's own samples (the policy PPO starts from): mean 0, std 1.
    sampled = [answer_ids(template, s.example.messages[:-1], s.reply, s.judgement.finished) for s in samples]
    raw = score_sequences(model, [a for a in sampled if len(a.ids) <= params.max_tokens], template.pad_id, device)
    model.set_normalisation(float(raw.mean()), float(raw.std()))
    chosen, rejected = score_pairs(model, held_out, template.pad_id, device)
    train_chosen, train_rejected = score_pairs(model, train, template.pad_id, device)

    metrics: dict[str, Any] = {
        "heldout_accuracy": pair_metrics(chosen, rejected)["accuracy"],
        "sft_gold_score": round(generated.gold_score(), 5),
        "data": {"generated": generated.summary(), "user": user.summary(), "over_length": over_length,
                 "train_pairs": len(train), "heldout_pairs": len(held_out)},
        "heldout": pair_metrics(chosen, rejected),
        "train": pair_metrics(train_chosen, train_rejected),
        "scores": {"sft_samples_raw_mean": round(float(raw.mean()), 5), "sft_samples_raw_std": round(float(raw.std()), 5),
                   "heldout_chosen_mean": round(float(chosen.mean()), 5),
                   "heldout_rejected_mean": round(float(rejected.mean()), 5)},
        "training": {"steps": result.steps, "best_step": result.best_step, "seconds": round(result.seconds, 3),
                     "likelihood_weight": round(float(model.likelihood_weight.detach()), 5)},
    }
    write_outputs(params.out, params.plots, model.cpu(), pairs, result.history,
                  {"params": ctx.params_dict(), "normalised_on": "sft samples", "best_step": result.best_step})
    log.info("reward: held-out accuracy %.1f%% (%d pairs), margin %.3f; SFT samples' gold score %.3f",
             100 * metrics["heldout"]["accuracy"], len(held_out), metrics["heldout"]["margin"],
             generated.gold_score())
    metrics["run_seconds"] = round(time.perf_counter() - started, 3)
    ctx.metrics.update(metrics)
