"""The ppo stage:

    SFT model ──copy──> policy (trained)      SFT model ──> reference (frozen)
    reward model ──> scorer (frozen), and a copy as the value model (trained)
    training prompts ──(steps x: rollout through the KV cache, per-token KL rewards, GAE,
                        clipped PPO epochs)──> policy
    every eval_every steps, on held-out prompts: reward-model score and KL to the reference (with
    standard errors), and the gold (oracle) score of the same samples where the world has one
        ──> plots, metrics, <out>/model, <out>/hf, <out>/samples.json, <out>/heldout_prompts.jsonl

Prompts (stages/ppo/prompt_sets.py): source synthetic, SFT's world questions with gold answers;
source own, the user's prompts (own.root/prompts/, else the held-out prompts of the instruction and
preference data), with no gold anywhere: gold figures are null, the gold curves are header-only
CSVs (dvc.yaml declares them, so they exist), and `parts.gold` says why it did not run.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import torch

from crisol.chat.hf_template import export_chat_model
from crisol.chat.template import ChatTemplate
from crisol.core.atomic import atomic_dir, write_json
from crisol.core.cli import StageContext
from crisol.core.plots import write_plots
from crisol.model.reward import RewardModel, load_reward_model
from crisol.model.transformer import Transformer
from crisol.model.weights import load_model, save_model
from crisol.training.device import prepare
from crisol.training.freeze import freeze
from crisol.training.text_mix import text_mix
from stages.ppo.advantages import AdaptiveKLController, FixedKLController
from stages.ppo.heldout import finite_tree, gold_scores, held_out_figures, rounded, samples
from stages.ppo.params import PPOParams
from stages.ppo.prompt_sets import prompt_sets
from stages.ppo.prompts import Prompt, PromptSampler, PromptSets
from stages.ppo.rollout import Rollout, rollout
from stages.ppo.trainer import PPOSettings, PPOTrainer, value_model_from

TRAIN_STATS = (
    "objective/rm_score",
    "objective/gold_score",
    "objective/kl",
    "objective/rlhf_reward",
    "objective/beta",
    "policy/entropy",
    "policy/approxkl",
    "policy/clipfrac",
    "policy/ratio",
    "policy/ratio_first",
    "policy/text_loss",  # None without ppo.text_mix_rows
    "value/loss",
    "value/explained_variance",
    "response/length",
    "response/eos_rate",
)
# The curves only an oracle can draw: header-only files without one (dvc.yaml lists them as plots).
GOLD_CURVES = ("objective_gold_score", "heldout_gold_score", "heldout_idk_rate", "heldout_correct_rate")


def run(ctx: StageContext) -> None:
    """PPO on the SFT model against the reward model, with a KL penalty to the SFT model."""
    params: PPOParams = ctx.params
    started = time.perf_counter()
    device = prepare(params.device, params.threads)
    template = ChatTemplate.from_file(params.tokenizer)
    policy, reference, reward_model = _read_models(params, device)
    prompts = prompt_sets(ctx.source, params, template, policy.config.max_seq_len - params.max_new_tokens)
    ctx.log.info(
        "ppo: %d training and %d held-out prompts (%s)",
        len(prompts.train),
        len(prompts.heldout),
        prompts.summary["from"],
    )
    trainer = _trainer(params, policy, reference, reward_model, template)
    gold = ctx.source.has_world  # an oracle exists only for the world's questions
    trained = train(params, trainer, prompts, gold, ctx.log)
    kept = samples(trained.latest, prompts.heldout, params.samples, params.seed, gold)
    _write(params, policy, template, trained.history, kept, prompts.heldout, gold, ctx.params_dict())
    metrics = _metrics(ctx, params, prompts, trained, gold)
    ctx.metrics.update(finite_tree({**metrics, "run_seconds": round(time.perf_counter() - started, 3)}))
    first, last = trained.history["heldout"][0], trained.history["heldout"][-1]
    ctx.log.info(
        "ppo: held-out reward model %.3f -> %.3f, KL %.3f%s",
        first["rm_score"],
        last["rm_score"],
        last["kl"],
        f", gold score {first['gold_score']:.3f} -> {last['gold_score']:.3f}" if gold else "",
    )


def _read_models(params: PPOParams, device: torch.device) -> tuple[Transformer, Transformer, RewardModel]:
    """(the policy, trained from the SFT model, all but its top ppo.trained_layers blocks frozen; the SFT
    model again, the frozen reference; the reward model)."""
    policy = load_model(params.sft / "model").to(device)
    depth = len(policy.layers)
    frozen = 0 if params.trained_layers is None else max(0, depth - params.trained_layers)
    freeze(policy, frozen, params.freeze_embeddings)
    reference = load_model(params.sft / "model").to(device)
    reward_model = load_reward_model(params.reward / "model").to(device)
    return policy, reference, reward_model


def _trainer(
    params: PPOParams, policy: Transformer, reference: Transformer, reward_model: RewardModel, template: ChatTemplate
) -> PPOTrainer:
    """The PPO trainer, its value model a copy of the reward model."""
    settings = PPOSettings(
        max_new_tokens=params.max_new_tokens,
        temperature=params.temperature,
        missing_eos_penalty=params.missing_eos_penalty,
        ppo_epochs=params.ppo_epochs,
        minibatch_size=params.minibatch_size,
        clip=params.clip,
        value_clip=params.value_clip,
        vf_coef=params.vf_coef,
        gamma=params.gamma,
        lam=params.lam,
        max_grad_norm=params.max_grad_norm,
        lr=params.lr,
    )
    kl = (
        AdaptiveKLController(params.beta, params.kl_target, params.kl_horizon)
        if params.adaptive_kl
        else FixedKLController(params.beta)
    )
    return PPOTrainer(
        policy,
        reference,
        reward_model,
        value_model_from(reward_model, params.value_init),
        template,
        settings,
        kl,
        seed=params.seed,
        text=text_mix(params, template.text_tokenizer, policy.config.max_seq_len - 1, "ppo"),
    )


@dataclass
class Training:
    history: dict[str, list[dict[str, Any]]]  # "train": one row per step; "heldout": one per evaluation
    latest: Rollout  # the newest held-out rollout, where the report's samples come from
    seconds: float  # in PPO steps (evaluations aside)


def train(params: PPOParams, trainer: PPOTrainer, prompts: PromptSets, gold: bool, log: logging.Logger) -> Training:
    """params.steps PPO steps on the training prompts; the held-out prompts scored before the first,
    every eval_every steps, and after the last."""
    sampler = PromptSampler(prompts.train, params.balance_kinds, params.seed)
    entry, latest = _evaluate(0, trainer, prompts.heldout, params, gold, log)
    history: dict[str, list[dict[str, Any]]] = {"train": [], "heldout": [entry]}
    train_seconds = 0.0
    for step in range(1, params.steps + 1):
        chosen = sampler.batch(params.batch_size)
        tick = time.perf_counter()
        result = trainer.step([p.tokens for p in chosen], seed=params.seed * 100_003 + step)
        train_seconds += time.perf_counter() - tick
        scores = gold_scores(result.rollout, chosen) if gold else []
        stats = {**result.stats, "objective/gold_score": sum(scores) / len(scores) if gold else None}
        history["train"].append(
            {"step": step, **{k: None if stats.get(k) is None else rounded(float(stats[k])) for k in TRAIN_STATS}}
        )
        if step % 10 == 0 or step == params.steps:
            log.info(
                "ppo: step %d/%d: rm %.3f kl %.3f entropy %.3f clipfrac %.3f ratio(first) %.6f%s",
                step,
                params.steps,
                stats["objective/rm_score"],
                stats["objective/kl"],
                stats["policy/entropy"],
                stats["policy/clipfrac"],
                stats["policy/ratio_first"],
                f" gold {stats['objective/gold_score']:.3f}" if gold else "",
            )
        if step % params.eval_every == 0 or step == params.steps:
            entry, latest = _evaluate(step, trainer, prompts.heldout, params, gold, log)
            history["heldout"].append(entry)
    return Training(history, latest, train_seconds)


def _evaluate(
    step: int, trainer: PPOTrainer, heldout: list[Prompt], params: PPOParams, gold: bool, log: logging.Logger
) -> tuple[dict[str, Any], Rollout]:
    """The policy's held-out figures at `step` (the same sampling seed every time), and the rollout."""
    batch = rollout(
        trainer.policy,
        trainer.reference,
        trainer.reward_model,
        trainer.value_model,
        [p.tokens for p in heldout],
        trainer.template,
        max_new_tokens=params.max_new_tokens,
        temperature=params.temperature,
        missing_eos_penalty=params.missing_eos_penalty,
        seed=params.seed + 10_000,
    )
    entry = {"step": step, **held_out_figures(batch, heldout, gold)}
    gold_text = (
        f", gold {entry['gold_score']:.3f} ± {entry['gold_score_stderr']} {entry['gold_by_kind']}" if gold else ""
    )
    log.info(
        "ppo: step %d held-out: reward model %.3f, KL %.3f, length %.1f, eos %.0f%%%s",
        step,
        entry["rm_score"],
        entry["kl"],
        entry["length"],
        100 * entry["eos_rate"],
        gold_text,
    )
    return entry, batch


def _metrics(
    ctx: StageContext, params: PPOParams, prompts: PromptSets, trained: Training, gold: bool
) -> dict[str, Any]:
    history, heldout = trained.history, prompts.heldout
    first, last = history["heldout"][0], history["heldout"][-1]
    return {
        "heldout_gold_score": last["gold_score"],
        "sft_heldout_gold_score": first["gold_score"],
        "heldout_rm_score": last["rm_score"],
        "sft_heldout_rm_score": first["rm_score"],
        "heldout_kl": last["kl"],
        "heldout": {"sft": first, "ppo": last, "prompts": len(heldout)},
        "training": {
            "steps": params.steps,
            "prompts": len(prompts.train),
            "seconds": round(trained.seconds, 3),
            "beta": params.beta,
            "adaptive_kl": params.adaptive_kl,
        },
        "last_step": history["train"][-1],
        "prompts": prompts.summary,
        "parts": {"gold": {"ran": True, "n": len(heldout)} if gold else ctx.source.not_run("gold score")},
    }


def _write(
    params: PPOParams, policy, template: ChatTemplate, history, kept, heldout: list[Prompt], gold: bool, provenance
) -> None:
    with atomic_dir(params.out) as tmp:
        save_model(policy.cpu(), tmp / "model", metadata={"params": provenance})
        export_chat_model(policy, tmp / "hf", params.tokenizer, template)
        write_json(tmp / "samples.json", kept)
        # The held-out prompts as the policy read them, so that evaluation can ask the same ones.
        (tmp / "heldout_prompts.jsonl").write_text(
            "".join(
                json.dumps(
                    {"id": p.id, "kind": p.kind, "messages": p.messages, "answer": p.answer, "source": p.source},
                    ensure_ascii=False,
                )
                + "\n"
                for p in heldout
            )
        )
    curves = {key.replace("/", "_"): ("step", key) for key in TRAIN_STATS}
    rows = {name: [{"step": r["step"], key: r[key]} for r in history["train"]] for name, (_, key) in curves.items()}
    heldout_curves = {f"heldout_{k}": ("step", k) for k in ("rm_score", "gold_score", "kl", "idk_rate", "correct_rate")}
    rows.update({name: history["heldout"] for name in heldout_curves})
    if not gold:
        rows.update({name: [] for name in GOLD_CURVES})
    write_plots(params.plots, {**curves, **heldout_curves}, rows)
