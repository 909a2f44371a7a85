"""The reward stage:

    SFT model + SFT's training questions ──(sample k replies each, judge with the oracle)──> pairs
    user preference files ──(validated row by row)──────────────────────────────────────> pairs
    pairs ──(Bradley-Terry from the SFT weights, seeded head; the step kept: best validation accuracy)
        ──> reward model ──(normalised: stages/reward/normalise.py)──> <out>/model, pairs, metrics
    accuracy reported on the test split (stages/reward/heldout.py)

With source own, the generated pairs do not run (the oracle is the world's ground truth): the pairs
are own.root/preferences/ plus reward.user.inputs, and the normalisation is on their responses.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import torch

from crisol.chat.template import ChatTemplate
from crisol.core.cli import StageContext
from crisol.core.errors import StageInputError
from crisol.core.hashsplit import TEST, TRAIN, VALIDATION
from crisol.formats.conversations import read_examples
from crisol.model.reward import RewardModel, answer_ids
from crisol.model.weights import load_model, read_model_config
from crisol.training.device import prepare
from stages.reward.generated import GeneratedPairs, idk_candidates, pairs_from_samples, sample_replies
from stages.reward.heldout import heldout_metrics, is_reported, reported_splits
from stages.reward.normalise import PAIR_RESPONSES, SFT_SAMPLES, fit_normalisation
from stages.reward.outputs import write_outputs
from stages.reward.params import RewardParams, UserPreferenceParams
from stages.reward.preference import Preference
from stages.reward.train import EncodedPair, RewardResult, encode_pair, pair_metrics, score_pairs, train_reward_model
from stages.reward.user_preferences import UserPreferences, load_user_preferences


def generated_pairs(params: RewardParams, template: ChatTemplate, device: torch.device) -> GeneratedPairs:
    """Pairs of the SFT model's sampled replies to SFT's questions, labelled by the gold oracle."""
    g = params.generated
    questions = [e for e in read_examples(params.sft / "examples.parquet") if e.split in g.splits and e.kind in g.kinds]
    if len(questions) > g.max_prompts:
        questions = sorted(random.Random(g.seed).sample(questions, g.max_prompts), key=lambda e: e.id)
    sft_model = load_model(params.sft / "model").to(device)
    samples = sample_replies(
        sft_model, template, questions, g.samples_per_prompt, g.temperature, g.max_new_tokens, g.seed
    )
    return pairs_from_samples(
        samples,
        g.pairs_per_prompt,
        g.label_noise,
        g.seed,
        extra=idk_candidates(questions) if g.idk_candidate else (),
        validation_fraction=g.validation_fraction,
        test_fraction=g.test_fraction,
        split_salt=g.split_salt,
    )


def user_params(ctx: StageContext) -> UserPreferenceParams:
    """reward.user, with own.root/preferences/'s files first when the source is own (one of the two
    must hold a file: else a one-line error naming the folder and the formats)."""
    params: RewardParams = ctx.params
    if not ctx.source.is_own:
        return params.user
    files = ctx.source.files("preferences")
    if not files and not params.user.inputs:
        ctx.source.require("reward", "preferences")
    return params.user.model_copy(update={"inputs": [*files, *params.user.inputs]})


def run(ctx: StageContext) -> None:
    """Train the reward model on oracle-labelled samples of the SFT model (synthetic world only) and
    the user's preference pairs."""
    params: RewardParams = ctx.params
    started = time.perf_counter()
    device = prepare(params.device, params.threads)
    template = ChatTemplate.from_file(params.tokenizer)
    _check_context(params)
    data = read_pairs(ctx, template, device)
    model, result = train(params, data, template, device, ctx.log)
    scores = score(model, data, params.max_tokens, template, device)
    metrics = _metrics(ctx, data, model, result, scores)
    write_outputs(
        params.out,
        params.plots,
        model.cpu(),
        data.pairs,
        result.history,
        {
            "params": ctx.params_dict(),
            "normalised_on": scores.normalisation["on"],
            "best_step": result.best_step,
            "reported_splits": data.splits,
        },
    )
    heldout = scores.heldout
    ctx.log.info(
        "reward: accuracy %.1f%% ± %.1f%% on %d %s pairs, margin %.3f (step %d kept on %d validation pairs)",
        100 * heldout["accuracy"],
        100 * heldout["stderr"],
        heldout["pairs"],
        "/".join(sorted(set(data.splits.values()))),
        heldout["margin"],
        result.best_step,
        len(data.validation),
    )
    metrics["run_seconds"] = round(time.perf_counter() - started, 3)
    ctx.metrics.update(metrics)


def _check_context(params: RewardParams) -> None:
    config, _ = read_model_config(params.sft / "model")
    if params.max_tokens > config.max_seq_len:
        raise StageInputError(
            f"reward.max_tokens ({params.max_tokens}) exceeds the SFT model's context ({config.max_seq_len})"
        )


@dataclass
class RewardPairs:
    """The pairs the reward model learns from and is reported on, and where they came from."""

    generated: GeneratedPairs
    user: UserPreferences
    parts: dict[str, Any]  # which sources ran, on how many pairs, and why not
    pairs: list[Preference]  # every pair within reward.max_tokens
    over_length: int  # pairs dropped for their length
    train: list[EncodedPair]
    validation: list[EncodedPair]
    splits: dict[str, str]  # per origin, the split accuracy is reported on
    reported: list[tuple[Preference, EncodedPair]]

    @property
    def test_pairs(self) -> int:
        return sum(p.split == TEST for p in self.pairs)

    def summaries(self) -> dict[str, Any]:
        return {
            **({"generated": self.generated.summary()} if self.parts["generated"]["ran"] else {}),
            "user": self.user.summary(),
        }


def read_pairs(ctx: StageContext, template: ChatTemplate, device: torch.device) -> RewardPairs:
    """Generated pairs (synthetic world only) and the user's, encoded, the too long dropped, split."""
    params: RewardParams = ctx.params
    parts: dict[str, Any] = {}
    if ctx.source.has_world:
        generated = generated_pairs(params, template, device)
        parts["generated"] = {"ran": True, "n": len(generated.pairs)}
    else:
        generated = GeneratedPairs([], [])
        parts["generated"] = ctx.source.not_run("generating pairs from SFT samples labelled by the gold oracle")
    user = load_user_preferences(user_params(ctx), template, params.max_tokens)
    parts["user"] = {"ran": bool(user.rows), "n": len(user.pairs)}
    if not user.rows:
        parts["user"]["why"] = "no user preference files (reward.user.inputs)"

    pairs = [*generated.pairs, *user.pairs]
    encoded = [encode_pair(template, p) for p in pairs]
    fits = [max(len(e.chosen.ids), len(e.rejected.ids)) <= params.max_tokens for e in encoded]
    pairs = [p for p, ok in zip(pairs, fits) if ok]
    encoded = [e for e, ok in zip(encoded, fits) if ok]
    splits = reported_splits(pairs)
    data = RewardPairs(
        generated,
        user,
        parts,
        pairs,
        fits.count(False),
        train=[e for p, e in zip(pairs, encoded) if p.split == TRAIN],
        validation=[e for p, e in zip(pairs, encoded) if p.split == VALIDATION],
        splits=splits,
        reported=[(p, e) for p, e in zip(pairs, encoded) if is_reported(p, splits)],
    )
    if not data.train or not data.validation:
        raise StageInputError(
            f"reward: {len(data.train)} training and {len(data.validation)} validation pairs; "
            f"both are needed (more pairs, or other reward.*.validation_fraction): "
            f"{data.summaries()}"
        )
    ctx.log.info(
        "reward: %d training, %d validation and %d test pairs; accuracy reported on %s",
        len(data.train),
        len(data.validation),
        data.test_pairs,
        splits,
    )
    return data


def train(
    params: RewardParams, data: RewardPairs, template: ChatTemplate, device: torch.device, log: logging.Logger
) -> tuple[RewardModel, RewardResult]:
    """The reward model from the SFT weights, trained on the pairs; the step kept by validation."""
    # The head's initial weights are random: seeded, so two identical runs give one model.
    torch.manual_seed(params.seed)
    model = RewardModel(load_model(params.sft / "model")).to(device)
    result = train_reward_model(
        model,
        data.train,
        data.validation,
        epochs=params.epochs,
        batch_size=params.batch_size,
        lr=params.lr,
        warmup_steps=params.warmup_steps,
        margin=params.margin,
        centring=params.centring,
        grad_clip=params.grad_clip,
        eval_every=params.eval_every,
        seed=params.seed,
        pad_id=template.pad_id,
        device=device,
        log=log,
    )
    return model, result


@dataclass
class RewardScores:
    normalisation: dict[str, Any]
    sampled: bool  # normalised on the SFT model's samples (else the pairs' answers)
    heldout: dict[str, Any]
    heldout_chosen: torch.Tensor
    heldout_rejected: torch.Tensor
    train: dict[str, float | None]


def score(
    model: RewardModel, data: RewardPairs, max_tokens: int, template: ChatTemplate, device: torch.device
) -> RewardScores:
    """Normalise the scores, then score the reported and the training pairs."""
    # Normalised on the policy PPO starts from where its samples exist, else on the pairs' own answers.
    sampled = [
        answer_ids(template, s.example.messages[:-1], s.reply, s.judgement.finished) for s in data.generated.samples
    ]
    sampled = [a for a in sampled if len(a.ids) <= max_tokens]
    if sampled:
        normalisation = fit_normalisation(model, sampled, SFT_SAMPLES, template.pad_id, device)
    else:
        answers = [e.chosen for e in data.train] + [e.rejected for e in data.train]
        normalisation = fit_normalisation(model, answers, PAIR_RESPONSES, template.pad_id, device)
    chosen, rejected = score_pairs(model, [e for _, e in data.reported], template.pad_id, device)
    train_chosen, train_rejected = score_pairs(model, data.train, template.pad_id, device)
    heldout = heldout_metrics([p for p, _ in data.reported], chosen, rejected, data.splits)
    return RewardScores(
        normalisation, bool(sampled), heldout, chosen, rejected, pair_metrics(train_chosen, train_rejected)
    )


def _metrics(
    ctx: StageContext, data: RewardPairs, model: RewardModel, result: RewardResult, scores: RewardScores
) -> dict[str, Any]:
    normalisation, generated = scores.normalisation, data.generated
    return {
        "heldout_accuracy": scores.heldout["accuracy"],
        "sft_gold_score": round(generated.gold_score(), 5) if generated.samples else None,
        "parts": data.parts,
        "data": {
            **data.summaries(),
            "over_length": data.over_length,
            "train_pairs": len(data.train),
            "heldout_pairs": len(data.reported),
            "validation_pairs": len(data.validation),
            "test_pairs": data.test_pairs,
        },
        "heldout": scores.heldout,
        "validation": result.best,
        "train": scores.train,
        "scores": {
            **(
                {"sft_samples_raw_mean": normalisation["raw_mean"], "sft_samples_raw_std": normalisation["raw_std"]}
                if scores.sampled
                else {}
            ),
            "heldout_chosen_mean": round(float(scores.heldout_chosen.mean()), 5),
            "heldout_rejected_mean": round(float(scores.heldout_rejected.mean()), 5),
        },
        "normalisation": normalisation,
        "training": {
            "steps": result.steps,
            "best_step": result.best_step,
            "seconds": round(result.seconds, 3),
            "likelihood_weight": round(float(model.likelihood_weight.detach()), 5),
        },
    }
