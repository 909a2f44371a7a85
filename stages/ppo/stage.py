"""The ppo stage:

    SFT model ──copy──> policy (trained)      SFT model ──> reference (frozen)
    reward model ──> scorer (frozen), and a copy as the value model (trained)
    SFT training questions ──(steps x: rollout through the KV cache, per-token KL rewards, GAE,
                              clipped PPO epochs)──> policy
    every eval_every steps, on held-out questions: reward-model score, gold (oracle) score of the
    same samples, KL to the reference  ──> plots, metrics, <out>/model, <out>/hf
"""

from __future__ import annotations

import time
from typing import Any

from stages.chat.hf_template import export_chat_model
from stages.chat.template import ChatTemplate
from stages.common.atomic import atomic_dir, write_json
from stages.common.cli import StageContext
from stages.common.conversations import Example, read_examples
from stages.common.errors import StageInputError
from stages.common.subsets import seeded_subset
from stages.common.hashsplit import VALIDATION
from stages.common.plots import write_plots
from stages.grading.oracle import judge
from stages.grading.text import mean_and_stderr
from stages.model.reward import load_reward_model
from stages.model.weights import load_model, save_model
from stages.ppo.advantages import AdaptiveKLController, FixedKLController, masked_mean
from stages.ppo.params import PPOParams
from stages.ppo.prompts import PromptSampler
from stages.ppo.rollout import Rollout, rollout
from stages.ppo.trainer import PPOSettings, PPOTrainer, value_model_from
from stages.training.device import prepare

TRAIN_STATS = ("objective/rm_score", "objective/gold_score", "objective/kl", "objective/rlhf_reward",
               "objective/beta", "policy/entropy", "policy/approxkl", "policy/clipfrac", "policy/ratio",
               "policy/ratio_first",
               "value/loss", "value/explained_variance", "response/length", "response/eos_rate")


def run(ctx: StageContext) -> None:
    """PPO on the SFT model against the reward model, with a KL penalty to the SFT model."""
    params: PPOParams = ctx.params
    log = ctx.log
    started = time.perf_counter()
    device = prepare(params.device, params.threads)
    template = ChatTemplate.from_file(params.tokenizer)
    policy = load_model(params.sft / "model").to(device)
    reference = load_model(params.sft / "model").to(device)
    reward_model = load_reward_model(params.reward / "model").to(device)
    examples = [e for e in read_examples(params.sft / "examples.parquet") if e.kind in params.kinds]
    train = [e for e in examples if e.split in params.prompt_splits]
    heldout = seeded_subset([e for e in examples if e.split == VALIDATION], params.heldout_prompts, params.seed)
    if not train or not heldout:
        raise StageInputError(f"ppo: {len(train)} training prompts (splits {params.prompt_splits}) and {len(heldout)} "
                              f"held-out prompts of kinds {params.kinds}")
    budget = policy.config.max_seq_len - params.max_new_tokens
    prompt_of = {e.id: template.generation_prompt(e.messages[:-1]) for e in [*train, *heldout]}
    train = [e for e in train if len(prompt_of[e.id]) <= budget]
    heldout = [e for e in heldout if len(prompt_of[e.id]) <= budget]

    settings = PPOSettings(max_new_tokens=params.max_new_tokens, temperature=params.temperature,
                           missing_eos_penalty=params.missing_eos_penalty, ppo_epochs=params.ppo_epochs,
                           minibatch_size=params.minibatch_size, clip=params.clip, value_clip=params.value_clip,
                           vf_coef=params.vf_coef, gamma=params.gamma, lam=params.lam,
                           max_grad_norm=params.max_grad_norm, lr=params.lr)
    kl = (AdaptiveKLController(params.beta, params.kl_target, params.kl_horizon) if params.adaptive_kl
          else FixedKLController(params.beta))
    trainer = PPOTrainer(policy, reference, reward_model, value_model_from(reward_model, params.value_init), template,
                         settings, kl, seed=params.seed)

    def evaluate(step: int) -> tuple[dict[str, Any], Rollout]:
        batch = rollout(policy, reference, reward_model, trainer.value_model, [prompt_of[e.id] for e in heldout],
                        template, max_new_tokens=params.max_new_tokens, temperature=params.temperature,
                        missing_eos_penalty=params.missing_eos_penalty, seed=params.seed + 10_000)
        entry = {"step": step, **_held_out_figures(batch, heldout)}
        log.info("ppo: step %d held-out: reward model %.3f, gold %.3f ± %.3f %s, KL %.3f, length %.1f, eos %.0f%%",
                 step, entry["rm_score"], entry["gold_score"], entry["gold_score_stderr"], entry["gold_by_kind"],
                 entry["kl"], entry["length"], 100 * entry["eos_rate"])
        return entry, batch

    sampler = PromptSampler(train, params.balance_kinds, params.seed)
    entry, latest = evaluate(0)         # latest: the newest held-out rollout, where the report's samples come from
    history: dict[str, list[dict[str, Any]]] = {"train": [], "heldout": [entry]}
    train_seconds = 0.0
    for step in range(1, params.steps + 1):
        chosen = sampler.batch(params.batch_size)
        tick = time.perf_counter()
        result = trainer.step([prompt_of[e.id] for e in chosen], seed=params.seed * 100_003 + step)
        train_seconds += time.perf_counter() - tick
        gold = [judge(r, e.answer, bool(f)).score for r, e, f in zip(result.rollout.replies, chosen,
                                                                      result.rollout.finished.tolist())]
        stats = {**result.stats, "objective/gold_score": sum(gold) / len(gold)}
        history["train"].append({"step": step, **{k: round(float(stats[k]), 5) for k in TRAIN_STATS}})
        if step % 10 == 0 or step == params.steps:
            log.info("ppo: step %d/%d: rm %.3f gold %.3f kl %.3f entropy %.3f clipfrac %.3f ratio(first) %.6f",
                     step, params.steps, stats["objective/rm_score"], stats["objective/gold_score"],
                     stats["objective/kl"], stats["policy/entropy"], stats["policy/clipfrac"],
                     stats["policy/ratio_first"])
        if step % params.eval_every == 0 or step == params.steps:
            entry, latest = evaluate(step)
            history["heldout"].append(entry)

    first, last = history["heldout"][0], history["heldout"][-1]
    samples = _samples(latest, heldout, params.samples, params.seed)
    _write(params, policy, template, history, samples, ctx.params_dict())
    ctx.metrics.update({
        "heldout_gold_score": last["gold_score"], "sft_heldout_gold_score": first["gold_score"],
        "heldout_rm_score": last["rm_score"], "sft_heldout_rm_score": first["rm_score"], "heldout_kl": last["kl"],
        "heldout": {"sft": first, "ppo": last, "prompts": len(heldout)},
        "training": {"steps": params.steps, "prompts": len(train), "seconds": round(train_seconds, 3),
                     "beta": params.beta, "adaptive_kl": params.adaptive_kl},
        "last_step": history["train"][-1],
        "run_seconds": round(time.perf_counter() - started, 3),
    })
    log.info("ppo: held-out gold score %.3f -> %.3f, reward model %.3f -> %.3f, KL %.3f",
             first["gold_score"], last["gold_score"], first["rm_score"], last["rm_score"], last["kl"])


def _held_out_figures(batch: Rollout, examples: list[Example]) -> dict[str, Any]:
    verdicts = [judge(r, e.answer, bool(f)) for r, e, f in zip(batch.replies, examples, batch.finished.tolist())]
    kl = ((batch.logprobs - batch.ref_logprobs) * batch.mask).sum(1)
    gold, gold_stderr = mean_and_stderr([v.score for v in verdicts])
    by_kind: dict[str, list[float]] = {}
    for example, verdict in zip(examples, verdicts):
        by_kind.setdefault(example.kind, []).append(verdict.score)
    return {"rm_score": round(float(batch.rm_scores.mean()), 5),
            "gold_score": round(gold, 5), "gold_score_stderr": round(gold_stderr, 5),
            "gold_by_kind": {kind: round(sum(s) / len(s), 5) for kind, s in sorted(by_kind.items())},
            "kl": round(float(kl.mean()), 5), "length": round(float(batch.lengths.float().mean()), 3),
            "eos_rate": round(float(batch.finished.float().mean()), 5),
            "idk_rate": round(sum(v.verdict in ("idk", "idk_invented") for v in verdicts) / len(verdicts), 5),
            "correct_rate": round(sum(v.verdict in ("correct", "idk_invented") for v in verdicts) / len(verdicts), 5),
            "entropy_proxy": round(float(-masked_mean(batch.logprobs, batch.mask)), 5)}


def _samples(batch: Rollout, examples: list[Example], limit: int, seed: int) -> list[dict[str, Any]]:
    """A seeded choice of the held-out rollout's replies, with both scores, for the report."""
    return [{"question": examples[i].messages[-2]["content"], "gold": examples[i].answer, "reply": batch.replies[i],
             "rm_score": round(float(batch.rm_scores[i]), 4),
             "gold_score": judge(batch.replies[i], examples[i].answer, bool(batch.finished[i])).score}
            for i in seeded_subset(list(range(len(examples))), limit, seed)]


def _write(params: PPOParams, policy, template: ChatTemplate, history, samples, provenance) -> None:
    with atomic_dir(params.out) as tmp:
        save_model(policy.cpu(), tmp / "model", metadata={"params": provenance})
        export_chat_model(policy, tmp / "hf", params.tokenizer, template)
        write_json(tmp / "samples.json", samples)
    curves = {key.replace("/", "_"): ("step", key) for key in TRAIN_STATS}
    rows = {name: [{"step": r["step"], key: r[key]} for r in history["train"]] for name, (_, key) in curves.items()}
    heldout_curves = {f"heldout_{k}": ("step", k) for k in ("rm_score", "gold_score", "kl", "idk_rate", "correct_rate")}
    rows.update({name: history["heldout"] for name in heldout_curves})
    write_plots(params.plots, {**curves, **heldout_curves}, rows)
