"""Scoring the three models on the suite, one after the other: held-out documents (rolling
log-likelihood), multiple choice, questions (a base model zero-shot and k-shot, a chat model through
its template), and for the chat models sampled replies judged by the reward model (and the gold
oracle where the world has one), RLHF's against SFT's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from crisol.chat.template import ChatTemplate
from crisol.model.reward import RewardModel
from crisol.model.transformer import Transformer
from stages.evaluate import alignment, questions
from stages.evaluate.hellaswag import score_multiple_choice
from stages.evaluate.loglikelihood import rolling_loglikelihoods
from stages.evaluate.metrics import text_perplexity
from stages.evaluate.own_suite import HELDOUT, heldout_breakdown
from stages.evaluate.params import EvaluateParams
from stages.evaluate.results import TaskResult, multiple_choice_result, perplexity_result
from stages.evaluate.suite import Suite


@dataclass
class Evaluated:
    name: str
    model: Transformer
    chat: bool


@dataclass
class Scores:
    """Per model name: each task's figures, its per-item records, its lm-eval task results."""

    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    tasks: dict[str, list[TaskResult]] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)  # the question-answering tasks' keys (replies go in the report)

    def add(self, model: str, task: str, figures: dict[str, Any], records: list[dict[str, Any]]) -> None:
        self.summary[model][task], self.samples[model][task] = figures, records


def score_models(
    models: list[Evaluated],
    reward_model: RewardModel,
    template: ChatTemplate,
    suite: Suite,
    params: EvaluateParams,
    log: logging.Logger,
) -> Scores:
    """Every model on every part of the suite; `models` is base, SFT, RLHF in that order (RLHF's
    alignment is compared with SFT's samples, and SFT is the reference of the KL)."""
    scores = Scores()
    sft_samples = None
    for m in models:
        tick = time.perf_counter()
        scores.summary[m.name], scores.samples[m.name], scores.tasks[m.name] = {}, {}, []
        _language_modelling(m, template, suite, params, scores)
        _multiple_choice(m, template, suite, params, scores)
        _questions(m, template, suite, params, scores)
        if m.chat and (suite.parts is None or suite.aligned):  # own: only with held-out prompts
            sampled = _alignment(m, models[1].model, reward_model, template, suite, params, scores, sft_samples)
            if m.name == "sft":
                sft_samples = sampled
        log.info("evaluate: %s scored in %.1f s", m.name, time.perf_counter() - tick)
    return scores


def _language_modelling(
    m: Evaluated, template: ChatTemplate, suite: Suite, params: EvaluateParams, scores: Scores
) -> None:
    documents = suite.documents
    encoded = [template.encode_text(d.text) for d in documents]
    rolled = rolling_loglikelihoods(
        m.model, encoded, template.eos_id, batch_size=params.batch_size, pad_id=template.pad_id
    )
    lls = [s.loglikelihood for s in rolled]
    figures = text_perplexity([d.text for d in documents], lls, [s.tokens for s in rolled])
    result, block = perplexity_result(HELDOUT, figures), figures.to_dict()
    if suite.unigram is not None:  # own: the unigram baseline beside it, and the figures per origin
        block.update(heldout_breakdown(documents, suite.origins, encoded, lls, suite.unigram))
        result = replace(result, extras={**result.extras, "unigram_bits_per_byte": block["unigram_bits_per_byte"]})
    scores.tasks[m.name].append(result)
    scores.add(
        m.name,
        HELDOUT,
        block,
        [{"doc_id": d.id, "loglikelihood": s.loglikelihood, "tokens": s.tokens} for d, s in zip(documents, rolled)],
    )


def _multiple_choice(
    m: Evaluated, template: ChatTemplate, suite: Suite, params: EvaluateParams, scores: Scores
) -> None:
    for name, items in suite.multiple_choice.items():
        records, aggregate = score_multiple_choice(
            m.model,
            template.encode_text,
            items,
            prefix=[template.eos_id],
            batch_size=params.batch_size,
            pad_id=template.pad_id,
        )
        scores.tasks[m.name].append(
            multiple_choice_result(name, aggregate, n_original=len(items), config={"prefix": "eos"})
        )
        scores.add(m.name, name, aggregate, records)


def _questions(m: Evaluated, template: ChatTemplate, suite: Suite, params: EvaluateParams, scores: Scores) -> None:
    for qs in suite.qsets:
        for label, shots in _shot_variants(m.chat, params.few_shot, qs):
            graded = questions.ask(m.model, template, m.chat, qs, params.max_new_tokens, shots)
            key = qs.task if m.chat else f"{qs.task}_{label}"
            scores.asked.add(key)
            scores.add(m.name, key, questions.figures(qs, graded), [g.to_row() for g in graded])
            scores.tasks[m.name].append(qa_result(key, scores.summary[m.name][key], shots))


def _alignment(
    m: Evaluated,
    reference: Transformer,
    reward_model: RewardModel,
    template: ChatTemplate,
    suite: Suite,
    params: EvaluateParams,
    scores: Scores,
    sft_samples: Any,
) -> Any:
    """A chat model's sampled replies to the alignment prompts, scored; returns the samples."""
    sampled = alignment.sample_and_score(
        m.model,
        reference,
        reward_model,
        template,
        suite.aligned,
        temperature=params.alignment_temperature,
        max_new_tokens=params.max_new_tokens,
        seed=params.seed,
        batch_size=params.batch_size,
        gold=suite.gold,
    )
    scores.add(
        m.name,
        "alignment",
        alignment.figures(sampled, None if m.name == "sft" else sft_samples),
        alignment.records(sampled),
    )
    scores.tasks[m.name].append(qa_result("alignment", scores.summary[m.name]["alignment"], 0))
    return sampled


def _shot_variants(chat: bool, few_shot: int, qs: questions.QuestionSet) -> list[tuple[str, int]]:
    """A chat model is asked through its template; a base model zero-shot and k-shot."""
    if chat:
        return [("chat", 0)]
    variants = [("0shot", 0)]
    if few_shot and qs.shots:
        variants.append((f"{min(few_shot, len(qs.shots))}shot", few_shot))
    return variants


def qa_result(name: str, figures: dict[str, Any], shots: int) -> TaskResult:
    """A generated-answers task as an lm-eval task result."""
    metrics = {
        k: v
        for k, v in figures.items()
        if isinstance(v, (int, float)) and not k.endswith("_stderr") and k != "n" and not k.startswith("chance")
    }
    extras = {k: v for k, v in figures.items() if k.startswith("chance")}
    lower_better = {"hallucination_rate", "kl"}
    return TaskResult(
        name=name,
        metrics=metrics,
        stderrs={k: figures.get(f"{k}_stderr") for k in metrics},
        higher_is_better={k: k not in lower_better for k in metrics},
        n_original=int(figures["n"]),
        n_effective=int(figures["n"]),
        extras=extras,
        config={"task": name, "output_type": "generate_until", "num_fewshot": shots},
        n_shot=shots,
    )
