"""The sft stage:

    ground truth + user data ──(build_sft_data)──> examples: train / validation / test (held-out
                                                   entities' questions, invented entities, held-out
                                                   user rows)
    pretrained model (or, init=random, the untrained control) ──> few-shot baseline on the world's
        test questions, assistant-token loss on the user's test rows
        ──(fine_tune: loss on assistant tokens; eval every eval_every; best kept by select_by)──> chat model
        ──> exact match on the world's test questions, loss on the user's test rows, sample
            conversations ──> <out>/model, <out>/hf, plots, metrics

With `source: own` nothing is generated from the world: the user's rows are the data, the step is
kept by validation loss (select_by auto), and the world-only figures are null, `parts` saying why.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import torch

from crisol.chat.template import ChatTemplate
from crisol.core.cli import StageContext
from crisol.core.errors import StageInputError
from crisol.core.source import DataSource
from crisol.core.subsets import seeded_subset
from crisol.formats.conversations import Example
from crisol.grading.answers import chance_exact_match, chat_replies, grade, summarize
from crisol.grading.text import mean_and_stderr
from crisol.model.transformer import Transformer
from crisol.model.weights import load_model, read_model_config
from crisol.training.device import bf16_switch, prepare
from crisol.training.freeze import freeze
from crisol.training.text_mix import text_mix
from stages.sft.batches import to_sequences
from stages.sft.dataset import SftData, build_sft_data
from stages.sft.evaluation import Baseline, HeldOut, Tested, baseline, evaluate_tuned, evaluation_file
from stages.sft.outputs import write_outputs
from stages.sft.params import SftParams
from stages.sft.split import TEST, TRAIN, VALIDATION
from stages.sft.train import Result as TrainResult
from stages.sft.train import fine_tune, selection
from stages.sft.user_data import USER_KIND

QA_KINDS = ("fact", "idk")  # short answers: what validation exact match asks


def run(ctx: StageContext) -> None:
    """Fine-tune the pretrained model on instructions in the chat template; keep the best by validation."""
    params: SftParams = ctx.params
    started = time.perf_counter()
    device = prepare(params.device, params.threads)
    bf16 = bf16_switch(params.bf16, device)
    template = ChatTemplate.from_file(params.tokenizer)
    model = _initial_model(params, template).to(device)
    splits = read_data(ctx, template)
    before = baseline(model, splits.held_out, splits.train, template, params, device, bf16)
    result, trainable = train(model, splits, template, params, device, bf16, ctx.log)
    after = evaluate_tuned(model, splits.held_out, before, template, params, device, bf16)
    metrics = _metrics(ctx, splits, before, after, result, model, trainable)
    write_outputs(
        params.out,
        params.plots,
        model.cpu(),
        template,
        params.tokenizer,
        splits.data.examples,
        evaluation_file(before, after),
        result.history.to_dict(),
        {
            "params": ctx.params_dict(),
            "base": str(params.base),
            "init": params.init,
            "best_step": result.best_step,
            "select_by": splits.select_by,
        },
    )
    _log_outcome(ctx.log, metrics, result, bool(splits.held_out.world))
    metrics["run_seconds"] = round(time.perf_counter() - started, 3)
    ctx.metrics.update(metrics)


@dataclass
class SftSplits:
    """The stage's examples by split, and the criterion the kept step is chosen by."""

    data: SftData
    train: list[Example]
    validation: list[Example]
    held_out: HeldOut
    select_by: str
    why: str  # why that criterion (metrics)


def read_data(ctx: StageContext, template: ChatTemplate) -> SftSplits:
    """The examples (generated from the world and the user's), split; an error without training or
    validation examples."""
    params: SftParams = ctx.params
    data = build_sft_data(params, template, ctx.source)
    train, validation, test_split = (data.split(s) for s in (TRAIN, VALIDATION, TEST))
    if not train:
        raise StageInputError(f"sft: no training examples (data: {data.summary})")
    if not validation:
        raise StageInputError(
            "sft: no validation examples to select the best step with "
            "(raise sft.generated.validation_fraction or sft.user.validation_fraction)"
        )
    world_test = [e for e in test_split if e.kind != USER_KIND]  # short gold answers: exact match
    user_test = [e for e in test_split if e.kind == USER_KIND]  # free text: assistant-token loss
    select_by, why = selection(params.select_by, data.world_questions)
    ctx.log.info(
        "sft: %d train, %d validation, %d test examples; %s; kept step chosen by %s (%s)",
        len(train),
        len(validation),
        len(test_split),
        data.summary["splits"],
        select_by,
        why,
    )
    # Samples: the graded world questions, then kinds they lack from validation; own data: held-out rows.
    held_out = HeldOut(
        world_test,
        user_test,
        to_sequences(user_test, template),
        samples_from=validation if data.world_questions else (user_test or validation),
    )
    return SftSplits(data, train, validation, held_out, select_by, why)


def train(
    model: Transformer,
    splits: SftSplits,
    template: ChatTemplate,
    params: SftParams,
    device: torch.device,
    bf16: bool,
    log: logging.Logger,
) -> tuple[TrainResult, int]:
    """(fine_tune's result, the trainable parameters): `model` holds the step kept on return."""
    trainable = freeze(model, params.freeze_layers, params.freeze_embeddings)
    # Exact match is asked where the world's short answers are (its curve is drawn even when loss
    # selects), or where the user chose it; free text alone is selected by loss without asking.
    validation_exact_match = None
    if splits.data.world_questions or splits.select_by == "exact_match":
        validation_questions = seeded_subset(
            [e for e in splits.validation if e.kind in QA_KINDS] or splits.validation, params.eval_examples, params.seed
        )

        def validation_exact_match(m: Transformer) -> float:
            graded = grade(validation_questions, chat_replies(m, template, validation_questions, params.max_new_tokens))
            return mean_and_stderr([float(g.exact) for g in graded])[0]

    result = fine_tune(
        model,
        to_sequences(splits.train, template),
        to_sequences(splits.validation, template),
        validation_exact_match,
        splits.select_by,
        params,
        template.pad_id,
        device,
        bf16,
        log,
        text_mix(params, template.text_tokenizer, params.max_tokens - 1, "sft"),
    )
    return result, trainable


def _metrics(
    ctx: StageContext,
    splits: SftSplits,
    before: Baseline,
    after: Tested,
    result: TrainResult,
    model: Transformer,
    trainable: int,
) -> dict[str, Any]:
    params: SftParams = ctx.params
    data, world_test, user_figures = splits.data, splits.held_out.world, after.user_figures
    test_summary = summarize(after.graded) if world_test else None
    baseline_summary = summarize(before.graded) if world_test else None
    fact_questions = [e for e in world_test if e.kind == "fact"]
    return {
        # headline scalars first: the flow's outcome table and `dvc metrics diff` read these
        "heldout_fact_exact_match": _exact(test_summary, "fact"),
        "invented_idk_exact_match": _exact(test_summary, "idk"),
        "heldout_two_hop_exact_match": _exact(test_summary, "two_hop"),
        "few_shot_base_fact_exact_match": _exact(baseline_summary, "fact"),
        # did SFT help on held-out instructions: the user's test rows, SFT model vs the model it started from
        "heldout_user_loss": user_figures["sft"]["loss"] if user_figures else None,
        "base_heldout_user_loss": user_figures["base"]["loss"] if user_figures else None,
        "best_step": result.best_step,
        "init": params.init,
        "selection": {"select_by": splits.select_by, "asked": params.select_by, "why": splits.why},
        "parts": _parts(data, ctx.source, world_test, user_figures),
        "data": data.summary,
        "model": {
            "parameters": model.config.num_params(),
            "trainable_parameters": trainable,
            "depth": model.config.depth,
            "d_model": model.config.d_model,
        },
        "training": _training_figures(result, params.epochs),
        "validation": result.best,
        "test": test_summary,
        "baseline_few_shot": {"shots": before.shots_used, **baseline_summary} if baseline_summary else None,
        "user_test": user_figures,
        "chance": {
            "fact_exact_match": chance_exact_match(fact_questions, [e for e in data.examples if e.kind == "fact"])
        },
        "samples": [g.to_row() for g in after.samples],
    }


def _training_figures(result: TrainResult, epochs: int) -> dict[str, Any]:
    return {
        "steps": result.steps,
        "epochs": epochs,
        "best_step": result.best_step,
        "train_loss": result.history.train_loss[-1]["loss"] if result.history.train_loss else None,
        "assistant_tokens": result.trained_tokens,
        "text_mix_tokens": result.text_tokens,
        "seconds": round(result.seconds, 3),
        "assistant_tokens_per_second": round(result.trained_tokens / result.seconds, 1) if result.seconds else None,
    }


def _log_outcome(log: logging.Logger, metrics: dict[str, Any], result: TrainResult, world_test: bool) -> None:
    if world_test:
        log.info(
            "sft: held-out facts exact match %s (few-shot base %s, chance %s); invented entities "
            '"I don\'t know" %s; kept step %d of %d',
            _percent(metrics["heldout_fact_exact_match"]),
            _percent(metrics["few_shot_base_fact_exact_match"]),
            _percent(metrics["chance"]["fact_exact_match"]),
            _percent(metrics["invented_idk_exact_match"]),
            result.best_step,
            result.steps,
        )
    user_figures = metrics["user_test"]
    if user_figures:
        log.info(
            "sft: held-out user rows (%d, %d assistant tokens): loss %.4f (perplexity %.2f), base %.4f "
            "(%.2f); kept step %d of %d",
            user_figures["n"],
            user_figures["assistant_tokens"],
            user_figures["sft"]["loss"],
            user_figures["sft"]["perplexity"],
            user_figures["base"]["loss"],
            user_figures["base"]["perplexity"],
            result.best_step,
            result.steps,
        )
    for sample in metrics["samples"]:
        log.info(
            "sft: sample %s: %r -> %r (gold %r)", sample["kind"], sample["question"], sample["reply"], sample["gold"]
        )


def _exact(summary: dict[str, Any] | None, kind: str) -> float | None:
    """A kind's exact match, None when the test split has no question of that kind (or none at all)."""
    return None if summary is None else summary["by_kind"].get(kind, {}).get("exact_match")


def _parts(
    data: SftData, source: DataSource, world_test: list[Example], user_figures: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Which parts of the stage ran, on how many examples, and why the others did not."""
    parts = dict(data.parts)
    parts["world_test"] = (
        {"ran": True, "n": len(world_test)}
        if data.world_questions
        else source.not_run("exact match on held-out world questions")
    )
    parts["user_test"] = (
        {"ran": True, "n": user_figures["n"]}
        if user_figures
        else {"ran": False, "n": 0, "why": "no user rows in the test split (sft.user.test_fraction, or no user data)"}
    )
    return parts


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _initial_model(params: SftParams, template: ChatTemplate) -> Transformer:
    """The pretrained model, or (init=random) a fresh one of its shape; checked against the template."""
    config, _ = read_model_config(params.base)
    vocab = template.text_tokenizer.get_vocab_size()
    if config.vocab_size != vocab:
        raise StageInputError(
            f"{params.base}: the model's vocabulary ({config.vocab_size}) differs from the "
            f"tokenizer's ({vocab}, {params.tokenizer})"
        )
    if params.max_tokens > config.max_seq_len:
        raise StageInputError(
            f"sft.max_tokens ({params.max_tokens}) exceeds the model's context "
            f"({config.max_seq_len} = pretrain.seq_len); lower sft.max_tokens"
        )
    if params.init == "pretrained":
        return load_model(params.base)
    torch.manual_seed(params.seed)
    return Transformer(config)
