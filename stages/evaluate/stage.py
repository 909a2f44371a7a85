"""The evaluate stage:

    base (pretrain), SFT and RLHF (ppo) models ──> one suite, one scoring primitive:
        held-out documents ──rolling log-likelihood──> perplexity, bits per byte
        completion choice (held-out text) and HellaSwag-format files ──> acc, acc_norm, acc_bytes
        closed-book and open-book questions ──greedy replies──> exact match, F1
        invented-entity questions ──> hallucination rate
        (chat models) sampled replies ──> reward-model score, gold score, KL to SFT, win rate
    ──> <out>/results/<model>.json (lm-eval's shape), <out>/samples/<model>/<task>.jsonl,
        <out>/table.json, <out>/report.md (the report card), <figures>/*.png, metrics
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.chat.template import ChatTemplate
from stages.common.atomic import atomic_dir, write_json
from stages.common.cli import StageContext
from stages.common.conversations import read_examples
from stages.common.errors import StageInputError
from stages.common.hashsplit import TEST
from stages.common.subsets import seeded_subset
from stages.evaluate import alignment, questions
from stages.evaluate.heldout import completion_items, heldout_documents
from stages.evaluate.hellaswag import Item, read_hellaswag, score_multiple_choice
from stages.evaluate.loglikelihood import rolling_loglikelihoods
from stages.evaluate.metrics import text_perplexity
from stages.evaluate.params import EvaluateParams
from stages.evaluate.plots import comparison_bars, training_curves
from stages.evaluate.report import render, with_error
from stages.evaluate.results import (TaskResult, current_git_hash, multiple_choice_result, perplexity_result,
                                     results_document, write_results, write_samples)
from stages.model.reward import load_reward_model
from stages.model.transformer import Transformer
from stages.model.weights import load_model
from stages.training.device import prepare

METRICS_READ = ("web", "crawl", "ingest", "dedup", "tokenizer", "pretrain", "sft", "reward", "ppo")
ALIGNMENT_KINDS = ("fact", "two_hop", "idk")
WATTS_PER_CORE = 10.0        # the report's energy assumption for stages that record none (= pretrain's default)


@dataclass
class Evaluated:
    name: str
    model: Transformer
    chat: bool


def run(ctx: StageContext) -> None:
    """Score the base, SFT and RLHF models on one suite and write the report card."""
    params: EvaluateParams = ctx.params
    log = ctx.log
    started = time.perf_counter()
    device = prepare(params.device, params.threads)
    template = ChatTemplate.from_file(params.tokenizer)
    models = [Evaluated("base", load_model(params.base / "model").to(device), False),
              Evaluated("sft", load_model(params.sft / "model").to(device), True),
              Evaluated("rlhf", load_model(params.rlhf / "model").to(device), True)]
    reward_model = load_reward_model(params.reward / "model").to(device)
    examples = read_examples(params.sft / "examples.parquet")

    documents = heldout_documents(params.validation_tokens, params.documents, params.heldout_documents)
    multiple_choice, skipped = _multiple_choice_tasks(params, documents, log)
    qsets = questions.question_sets(examples, params.open_book_items, params.few_shot, params.seed)
    aligned = [e for e in examples if e.split == TEST and e.kind in ALIGNMENT_KINDS]
    log.info("evaluate: %d held-out documents, %s, questions %s, %d alignment prompts", len(documents),
             {k: len(v) for k, v in multiple_choice.items()}, {q.task: len(q.questions) for q in qsets}, len(aligned))

    summary: dict[str, dict[str, Any]] = {}
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {}
    tasks: dict[str, list[TaskResult]] = {}
    sft_samples = None
    for m in models:
        tick = time.perf_counter()
        summary[m.name], samples[m.name], tasks[m.name] = {}, {}, []
        _language_modelling(m, template, documents, params, summary, samples, tasks)
        for name, items in multiple_choice.items():
            records, aggregate = score_multiple_choice(m.model, template.encode_text, items, prefix=[template.eos_id],
                                                       batch_size=params.batch_size, pad_id=template.pad_id)
            tasks[m.name].append(multiple_choice_result(name, aggregate, n_original=len(items), config={"prefix": "eos"}))
            summary[m.name][name], samples[m.name][name] = aggregate, records
        for qs in qsets:
            for label, shots in (_shot_variants(m.chat, params.few_shot, qs)):
                graded = questions.ask(m.model, template, m.chat, qs, params.max_new_tokens, shots)
                key = qs.task if m.chat else f"{qs.task}_{label}"
                summary[m.name][key] = questions.figures(qs, graded)
                samples[m.name][key] = [g.to_row() for g in graded]
                tasks[m.name].append(_qa_result(key, summary[m.name][key], shots))
        if m.chat:
            reference = models[1].model
            sampled = alignment.sample_and_score(m.model, reference, reward_model, template, aligned,
                                                 temperature=params.alignment_temperature,
                                                 max_new_tokens=params.max_new_tokens, seed=params.seed,
                                                 batch_size=params.batch_size)
            summary[m.name]["alignment"] = alignment.figures(sampled, None if m.name == "sft" else sft_samples)
            samples[m.name]["alignment"] = alignment.records(sampled)
            tasks[m.name].append(_qa_result("alignment", summary[m.name]["alignment"], 0))
            if m.name == "sft":
                sft_samples = sampled
        log.info("evaluate: %s scored in %.1f s", m.name, time.perf_counter() - tick)

    headers, rows = evaluation_table(summary, params.few_shot, [n for n in multiple_choice if n != "completion_choice"])
    stage_metrics = _read_stage_metrics(params.metrics_in)
    _write(params, ctx, tasks, samples, summary, headers, rows, stage_metrics, skipped)
    ctx.metrics.update({**headline(summary, params.few_shot), "models": _clean(summary), "skipped": skipped,
                        "run_seconds": round(time.perf_counter() - started, 3)})
    for row in rows:
        log.info("evaluate: %s", " | ".join(str(c) for c in row))


def _shot_variants(chat: bool, few_shot: int, qs: questions.QuestionSet) -> list[tuple[str, int]]:
    """A chat model is asked through its template; a base model zero-shot and k-shot."""
    if chat:
        return [("chat", 0)]
    variants = [("0shot", 0)]
    if few_shot and qs.shots:
        variants.append((f"{min(few_shot, len(qs.shots))}shot", few_shot))
    return variants


def _language_modelling(m: Evaluated, template: ChatTemplate, documents, params: EvaluateParams,
                        summary, samples, tasks) -> None:
    encoded = [template.encode_text(d.text) for d in documents]
    scores = rolling_loglikelihoods(m.model, encoded, template.eos_id, batch_size=params.batch_size,
                                    pad_id=template.pad_id)
    figures = text_perplexity([d.text for d in documents], [s.loglikelihood for s in scores], [s.tokens for s in scores])
    tasks[m.name].append(perplexity_result("heldout_documents", figures))
    summary[m.name]["heldout_documents"] = figures.to_dict()
    samples[m.name]["heldout_documents"] = [{"doc_id": d.id, "loglikelihood": s.loglikelihood, "tokens": s.tokens}
                                            for d, s in zip(documents, scores)]


def _multiple_choice_tasks(params: EvaluateParams, documents, log) -> tuple[dict[str, list[Item]], dict[str, str]]:
    """The completion-choice items, and the items of every multiple-choice file that exists (a
    missing one is skipped with its reason; bad rows are counted by the reader and logged)."""
    tasks = {"completion_choice": completion_items(documents, params.completion_items, params.completion_choices,
                                                   params.completion_context_chars, params.seed)}
    skipped: dict[str, str] = {}
    for path in params.multiple_choice_files:
        name = f"{path.parent.name}_{path.stem}".replace("-", "_").replace(".", "_")
        if not path.is_file():
            skipped[name] = f"{path} not found"
            log.warning("evaluate: %s skipped: %s not found", name, path)
            continue
        data = read_hellaswag(path)
        if data.skipped:
            log.warning("evaluate: %s: skipped rows %s (at %s)", path, dict(data.skipped), dict(data.where))
            skipped[f"{name} rows"] = ", ".join(f"{reason} {count}" for reason, count in data.skipped.items())
        tasks[name] = data.items[:params.multiple_choice_items]
    if not tasks["completion_choice"]:
        raise StageInputError(f"evaluate: no completion-choice item from {len(documents)} held-out documents")
    return tasks, skipped


def _qa_result(name: str, figures: dict[str, Any], shots: int) -> TaskResult:
    metrics = {k: v for k, v in figures.items() if isinstance(v, (int, float)) and not k.endswith("_stderr")
               and k != "n" and not k.startswith("chance")}
    extras = {k: v for k, v in figures.items() if k.startswith("chance")}
    lower_better = {"hallucination_rate", "kl"}
    return TaskResult(name=name, metrics=metrics, stderrs={k: figures.get(f"{k}_stderr") for k in metrics},
                      higher_is_better={k: k not in lower_better for k in metrics},
                      n_original=int(figures["n"]), n_effective=int(figures["n"]), extras=extras,
                      config={"task": name, "output_type": "generate_until", "num_fewshot": shots}, n_shot=shots)


# (row label, task key in the summary (a base model's k-shot key gets its suffix), metric, chance key);
# the multiple-choice files' rows go after completion choice.
TABLE_ROWS = (
    ("held-out documents: bits per byte (lower is better)", "heldout_documents", "bits_per_byte", None),
    ("held-out documents: word perplexity", "heldout_documents", "word_perplexity", None),
    ("completion choice: acc_norm", "completion_choice", "acc_norm", "random_baseline"),
    ("closed-book QA: exact match", "closed_book", "exact_match", "chance_exact_match"),
    ("closed-book QA: F1", "closed_book", "f1", None),
    ("open-book QA: exact match", "open_book", "exact_match", None),
    ("open-book QA: F1", "open_book", "f1", None),
    ("hallucination rate, invented entities (lower is better)", "hallucination", "hallucination_rate", None),
    ("reward-model score", "alignment", "rm_score", None),
    ("gold score", "alignment", "gold_score", None),
    ("KL to SFT (nats per reply)", "alignment", "kl", None),
    ("win rate over SFT (gold)", "alignment", "win_rate_vs_sft", None),
)


def evaluation_table(summary: dict[str, dict[str, Any]], few_shot: int,
                     mc_files: list[str]) -> tuple[list[str], list[list[str]]]:
    """Rows of metrics, columns base 0-shot, base k-shot, SFT, RLHF, chance; each cell value ± stderr (n)."""
    k = f"{few_shot}shot"
    table_rows = [*TABLE_ROWS[:3], *((f"{name}: acc_norm", name, "acc_norm", "random_baseline") for name in mc_files),
                  *TABLE_ROWS[3:]]
    zero_shot_only = {"heldout_documents", "completion_choice", *mc_files}
    columns = [("base 0-shot", "base", "_0shot"), (f"base {few_shot}-shot", "base", f"_{k}"),
               ("SFT", "sft", ""), ("RLHF", "rlhf", "")]
    headers = ["metric", *[c[0] for c in columns], "chance"]
    rows = []
    for label, task, metric, chance_key in table_rows:
        cells, chance = [], None
        for _, model, suffix in columns:
            figures = summary.get(model, {}).get(task + suffix) or summary.get(model, {}).get(task)
            if model == "base" and task in zero_shot_only and suffix != "_0shot":
                figures = None      # zero-shot only: the same figure twice says nothing
            if figures is None or metric not in figures:
                cells.append("")
                continue
            n = figures.get("n", figures.get("documents"))
            cells.append(f"{with_error(figures[metric], figures.get(f'{metric}_stderr'))} (n={n})")
            if chance_key and chance_key in figures:
                chance = figures[chance_key]
        if any(cells):
            rows.append([label, *cells, "" if chance is None else f"{chance:.3f}"])
    return headers, rows


def headline(summary: dict[str, dict[str, Any]], few_shot: int) -> dict[str, Any]:
    """The scalars the flow's outcome table and `dvc metrics diff` show first (the base model's
    k-shot figure where it has one)."""
    out: dict[str, Any] = {}
    picks = (("bits_per_byte", "heldout_documents", "bits_per_byte"),
             ("closed_book_exact_match", "closed_book", "exact_match"),
             ("hallucination_rate", "hallucination", "hallucination_rate"),
             ("gold_score", "alignment", "gold_score"), ("kl", "alignment", "kl"),
             ("win_rate_vs_sft", "alignment", "win_rate_vs_sft"))
    for model, tasks in summary.items():
        for name, task, metric in picks:
            figures = tasks.get(task) or tasks.get(f"{task}_{few_shot}shot") or tasks.get(f"{task}_0shot")
            if figures and metric in figures and isinstance(figures[metric], (int, float)):
                out[f"{model}_{name}"] = round(float(figures[metric]), 5)
    return out


def _clean(value: Any) -> Any:
    """JSON-safe and rounded: NaN becomes None."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 5)
    return value


def _read_stage_metrics(directory: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for stage in METRICS_READ:
        path = directory / f"{stage}.json"
        if path.is_file():
            out[stage] = json.loads(path.read_text())
    return out


def _report_samples(samples: dict[str, dict[str, list[dict[str, Any]]]], limit: int, seed: int) -> dict[str, list]:
    """A few replies per model: closed-book, hallucination and open-book questions, chat models'
    replies and the base model's k-shot ones."""
    out = {}
    for model, by_task in samples.items():
        rows = []
        for task, records in by_task.items():
            if not any(task.startswith(t) for t in ("closed_book", "hallucination", "open_book")) or task.endswith("0shot"):
                continue
            for r in seeded_subset(records, max(1, limit // 3), seed):
                rows.append({"task": task, "question": r["question"], "reply": r["reply"], "gold": r["gold"]})
        out[model] = rows[:limit]
    return out


def _write(params: EvaluateParams, ctx: StageContext, tasks, samples, summary, headers, rows, stage_metrics,
           skipped) -> None:
    commit = current_git_hash()
    with atomic_dir(params.figures) as tmp:
        figures = [p.name for p in training_curves(params.plots_in, tmp)]
        figures += [p.name for p in _comparison_figures(summary, tmp)]
    link = Path(os.path.relpath(params.figures, params.out))
    with atomic_dir(params.out) as tmp:
        for model, model_tasks in tasks.items():
            config = {"model": "crisol", "model_args": f"{model}", "batch_size": params.batch_size}
            write_results(tmp / "results" / f"{model}.json", results_document(model_tasks, config, git_hash=commit))
            for task, records in samples[model].items():
                write_samples(tmp / "samples" / model / f"{task}.jsonl", records)
        write_json(tmp / "table.json", {"headers": headers, "rows": rows})
        report = render(commit=commit, profile=ctx.profile, params=ctx.params_dict(), stage_metrics=stage_metrics,
                        evaluation_rows=rows, evaluation_headers=headers,
                        figures=[str(link / name) for name in figures],
                        samples=_report_samples(samples, params.samples, params.seed), skipped=skipped,
                        watts_per_core=WATTS_PER_CORE)
        (tmp / "report.md").write_text(report, encoding="utf-8")


def _comparison_figures(summary: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """Base vs SFT vs RLHF bars: accuracies (closed book, hallucination) and bits per byte."""
    def pick(task: str, metric: str) -> dict[str, tuple[float, float | None]]:
        cells = {}
        for model in ("base", "sft", "rlhf"):
            figures = summary.get(model, {}).get(task) or summary.get(model, {}).get(f"{task}_0shot")
            if figures and metric in figures:
                cells[model] = (float(figures[metric]), figures.get(f"{metric}_stderr"))
        return cells

    rates = {"closed-book exact match": pick("closed_book", "exact_match"),
             "open-book exact match": pick("open_book", "exact_match"),
             "hallucination rate": pick("hallucination", "hallucination_rate"),
             "completion choice acc_norm": pick("completion_choice", "acc_norm")}
    rates = {k: v for k, v in rates.items() if v}
    baselines = {"completion choice acc_norm": summary["base"]["completion_choice"]["random_baseline"]}
    written = [comparison_bars(rates, out / "models_accuracy.png", title="base vs SFT vs RLHF",
                               baselines=baselines)] if rates else []
    bpb = {"bits per byte (held-out documents)": pick("heldout_documents", "bits_per_byte")}
    written.append(comparison_bars(bpb, out / "models_bits_per_byte.png", title="language modelling (lower is better)"))
    return written
