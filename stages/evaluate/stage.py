"""The evaluate stage:

    base (pretrain), SFT and RLHF (ppo) models ──> one suite, one scoring primitive:
        held-out documents ──rolling log-likelihood──> perplexity, bits per byte
        completion choice (held-out text) and HellaSwag-format files ──> acc, acc_norm, acc_bytes
        closed-book and open-book questions ──greedy replies──> exact match, F1
        invented-entity questions ──> hallucination rate
        (chat models) sampled replies ──> reward-model score, gold score, KL to SFT, win rate
    ──> <out>/results/<model>.json (lm-eval's shape), <out>/samples/<model>/<task>.jsonl,
        <out>/table.json, <out>/report.md (the report card, the speedrun line first),
        <out>/speedrun.json (that line: flows/speedrun_log.py logs it), <figures>/*.png, metrics

What the suite holds depends on the data source (suite.py): the synthetic world's, or with
`source: own` a user's (own_suite.py: held-out text against the unigram baseline, HellaSwag-format
and QA files, the reward model's held-out human pairs, RLHF vs SFT on held-out prompts judged by
the reward model), where every section reports its n or why it did not run (`parts`), and the
report's funnel reads this run's metrics only. No JSON written here holds a NaN (safe_json.py).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from crisol.chat.template import ChatTemplate
from crisol.core.atomic import atomic_dir
from crisol.core.cli import StageContext
from crisol.core.source import DataSource
from crisol.core.subsets import seeded_subset
from crisol.formats.conversations import read_examples
from crisol.model.reward import RewardModel, load_reward_model
from crisol.model.weights import load_model
from crisol.training.device import prepare
from stages.evaluate import preferences
from stages.evaluate.own_suite import ALIGNMENT, HELDOUT, RM_ACCURACY, fit_to_context, own_suite
from stages.evaluate.params import EvaluateParams
from stages.evaluate.plots import comparison_bars, training_curves
from stages.evaluate.report import render, with_error
from stages.evaluate.results import current_git_hash, results_document, write_results, write_samples
from stages.evaluate.safe_json import json_safe, write_strict_json
from stages.evaluate.scoring import Evaluated, Scores, score_models
from stages.evaluate.speedrun import speedrun_line
from stages.evaluate.suite import Suite, synthetic_suite

METRICS_READ = ("web", "crawl", "ingest", "dedup", "tokenizer", "pretrain", "sft", "reward", "ppo")
WORLD_STAGES = ("web", "crawl")  # source own: never read, even where their metrics are on disk
WATTS_PER_CORE = 10.0  # the report's energy assumption for stages that record none (= pretrain's default)


def run(ctx: StageContext) -> None:
    """Score the base, SFT and RLHF models on one suite and write the report card."""
    params: EvaluateParams = ctx.params
    started = time.perf_counter()
    device = prepare(params.device, params.threads)
    template = ChatTemplate.from_file(params.tokenizer)
    models = [
        Evaluated("base", load_model(params.base / "model").to(device), False),
        Evaluated("sft", load_model(params.sft / "model").to(device), True),
        Evaluated("rlhf", load_model(params.rlhf / "model").to(device), True),
    ]
    reward_model = load_reward_model(params.reward / "model").to(device)
    suite = read_suite(ctx, template, models, reward_model)
    scores = score_models(models, reward_model, template, suite, params, ctx.log)
    extra = (
        _own_results(suite, scores.summary, reward_model, template, params, device) if suite.parts is not None else {}
    )
    headers, rows = _table(scores.summary, suite, params.few_shot)
    stage_metrics, stale = read_stage_metrics(params.metrics_in, ctx.source)
    line = speedrun_line(
        stage_metrics=stage_metrics,
        models=_clean(scores.summary),
        evaluate_seconds=time.perf_counter() - started,
        commit=current_git_hash(),
        profile=ctx.profile,
        source=ctx.source,
    )
    _write(params, ctx, scores, headers, rows, stage_metrics, suite, stale, line)
    metrics = {
        **headline(scores.summary, params.few_shot),
        **extra,
        "models": _clean(scores.summary),
        "skipped": suite.skipped,
        "run_seconds": round(time.perf_counter() - started, 3),
    }
    ctx.metrics.update(json_safe(metrics))
    for row in rows:
        ctx.log.info("evaluate: %s", " | ".join(str(c) for c in row))


def read_suite(ctx: StageContext, template: ChatTemplate, models: list[Evaluated], reward_model: RewardModel) -> Suite:
    """The suite: the synthetic world's (from SFT's examples), or with source own the user's, each
    item fitted to the smallest context of the models."""
    params: EvaluateParams = ctx.params
    examples = read_examples(params.sft / "examples.parquet")
    if ctx.source.is_own:
        suite = own_suite(ctx.source, params, ctx.log)
        context = min(reward_model.body.config.max_seq_len, *(m.model.config.max_seq_len for m in models))
        fit_to_context(suite, template, context, params.max_new_tokens)
    else:
        suite = synthetic_suite(params, examples, ctx.log)
    ctx.log.info(
        "evaluate: %d held-out documents, %s, questions %s, %d alignment prompts",
        len(suite.documents),
        {k: len(v) for k, v in suite.multiple_choice.items()},
        {q.task: len(q.questions) for q in suite.qsets},
        len(suite.aligned),
    )
    return suite


def _table(summary: dict[str, dict[str, Any]], suite: Suite, few_shot: int) -> tuple[list[str], list[list[str]]]:
    """The report card's table: the user's rows with source own, else the synthetic world's."""
    if suite.parts is not None:
        return evaluation_table(
            summary,
            few_shot,
            list(suite.multiple_choice),
            table_rows=own_table_rows(suite),
            chance_header=OWN_CHANCE_HEADER,
        )
    return evaluation_table(summary, few_shot, [n for n in suite.multiple_choice if n != "completion_choice"])


def _own_results(
    suite: Suite,
    summary: dict[str, dict[str, Any]],
    reward_model,
    template: ChatTemplate,
    params: EvaluateParams,
    device,
) -> dict[str, Any]:
    """Source own: the reward model's held-out accuracy, and every part's n from what was scored.
    Returns the metrics' own keys (`parts`, and the accuracy's headline)."""
    parts = suite.parts or {}
    out: dict[str, Any] = {}
    if suite.preference_pairs is not None:
        figures = preferences.accuracy(
            reward_model,
            template,
            suite.preference_pairs,
            limit=params.preference_pairs,
            seed=params.seed,
            device=device,
        )
        parts[RM_ACCURACY] = {"ran": True, **figures, "pairs_in_file": len(suite.preference_pairs)}
        if figures["n"]:
            out["rm_heldout_accuracy"] = round(figures["accuracy"], 5)
    for name in suite.multiple_choice:  # items whose choice alone outgrows the context are not scored
        if parts.get(name, {}).get("ran"):
            parts[name]["over_length"] = summary["base"][name]["skipped_choice_longer_than_context"]
    for name, part in parts.items():
        scored = summary["sft"].get(name) or summary["base"].get(name) or summary["base"].get(f"{name}_0shot")
        if part.get("ran") and scored:
            part["n"] = scored.get("n", scored.get("documents"))
        if part.get("ran") and not part.get("n"):
            part.update(ran=False, why="nothing could be scored: every item is longer than the models' context")
    return {"parts": _clean(parts), **out}


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


OWN_CHANCE_HEADER = "chance (bits per byte: unigram)"


def own_table_rows(suite: Suite) -> list[tuple[str, str, str, str | None]]:
    """Source own: held-out text beside the unigram baseline, each multiple-choice file's acc and
    acc_norm, each QA file's exact match and F1, RLHF vs SFT (win rate judged by the reward model)."""
    rows: list[tuple[str, str, str, str | None]] = [
        ("held-out text: bits per byte (lower is better)", HELDOUT, "bits_per_byte", "unigram_bits_per_byte"),
        ("held-out text: word perplexity", HELDOUT, "word_perplexity", None),
    ]
    for name in suite.multiple_choice:
        rows += [
            (f"{name}: acc", name, "acc", "random_baseline"),
            (f"{name}: acc_norm", name, "acc_norm", "random_baseline"),
        ]
    for qs in suite.qsets:
        rows += [(f"{qs.task}: exact match", qs.task, "exact_match", None), (f"{qs.task}: F1", qs.task, "f1", None)]
    return rows + [
        ("reward-model score", ALIGNMENT, "rm_score", None),
        ("KL to SFT (nats per reply)", ALIGNMENT, "kl", None),
        ("win rate over SFT (reward model)", ALIGNMENT, "win_rate_vs_sft", None),
    ]


def evaluation_table(
    summary: dict[str, dict[str, Any]],
    few_shot: int,
    mc_files: list[str],
    *,
    table_rows: list[tuple[str, str, str, str | None]] | None = None,
    chance_header: str = "chance",
) -> tuple[list[str], list[list[str]]]:
    """Rows of metrics, columns base 0-shot, base k-shot, SFT, RLHF, chance; each cell value ± stderr (n).
    table_rows: (label, task, metric, chance key) rows; default: the synthetic world's (TABLE_ROWS,
    the multiple-choice files' acc_norm after completion choice)."""
    k = f"{few_shot}shot"
    if table_rows is None:
        table_rows = [
            *TABLE_ROWS[:3],
            *((f"{name}: acc_norm", name, "acc_norm", "random_baseline") for name in mc_files),
            *TABLE_ROWS[3:],
        ]
    zero_shot_only = {"heldout_documents", "completion_choice", *mc_files}
    columns = [
        ("base 0-shot", "base", "_0shot"),
        (f"base {few_shot}-shot", "base", f"_{k}"),
        ("SFT", "sft", ""),
        ("RLHF", "rlhf", ""),
    ]
    headers = ["metric", *[c[0] for c in columns], chance_header]
    rows = []
    for label, task, metric, chance_key in table_rows:
        cells, chance = [], None
        for _, model, suffix in columns:
            figures = summary.get(model, {}).get(task + suffix) or summary.get(model, {}).get(task)
            if model == "base" and task in zero_shot_only and suffix != "_0shot":
                figures = None  # zero-shot only: the same figure twice says nothing
            if figures is None or metric not in figures:
                cells.append("")
                continue
            n = figures.get("n", figures.get("documents"))
            cells.append(f"{with_error(figures[metric], figures.get(f'{metric}_stderr'))} (n={n})")
            if chance_key and chance_key in figures:
                chance = figures[chance_key]
        if any(cells):
            rows.append([label, *cells, "" if _undefined(chance) else f"{chance:.3f}"])
    return headers, rows


def _undefined(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def headline(summary: dict[str, dict[str, Any]], few_shot: int) -> dict[str, Any]:
    """The scalars the flow's outcome table and `dvc metrics diff` show first (the base model's
    k-shot figure where it has one)."""
    out: dict[str, Any] = {}
    picks = (
        ("bits_per_byte", "heldout_documents", "bits_per_byte"),
        ("closed_book_exact_match", "closed_book", "exact_match"),
        ("hallucination_rate", "hallucination", "hallucination_rate"),
        ("gold_score", "alignment", "gold_score"),
        ("kl", "alignment", "kl"),
        ("win_rate_vs_sft", "alignment", "win_rate_vs_sft"),
    )
    for model, tasks in summary.items():
        for name, task, metric in picks:
            figures = tasks.get(task) or tasks.get(f"{task}_{few_shot}shot") or tasks.get(f"{task}_0shot")
            # an undefined figure (NaN: nothing to average) is left out: JSON has no NaN
            if (
                figures
                and metric in figures
                and isinstance(figures[metric], (int, float))
                and not _undefined(float(figures[metric]))
            ):
                out[f"{model}_{name}"] = round(float(figures[metric]), 5)
    return out


def _clean(value: Any) -> Any:
    """JSON-safe and rounded: NaN becomes None."""
    return json_safe(value, digits=5)


def read_stage_metrics(directory: Path, source: DataSource) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The other stages' metrics (the report's funnel, sizes, time), and those left out with why.

    Source own: this run's only. The world's stages (web, crawl) are never read, and a stage's
    metrics count only when they say they came from the same source and own.root (every stage's
    metrics carry `source` and `own_root`): a file left by an earlier synthetic run is not this run's."""
    out, stale = {}, {}
    for stage in METRICS_READ:
        path = directory / f"{stage}.json"
        if not path.is_file() or (source.is_own and stage in WORLD_STAGES):
            continue
        metrics = json.loads(path.read_text())
        if source.is_own and (metrics.get("source"), metrics.get("own_root")) != (source.kind, str(source.root)):
            stale[stage] = (
                f"{path} is from another run (source {metrics.get('source', 'not recorded')}, "
                f"own_root {metrics.get('own_root', 'not recorded')})"
            )
            continue
        out[stage] = metrics
    return out, stale


def _report_samples(
    samples: dict[str, dict[str, list[dict[str, Any]]]], limit: int, seed: int, asked: set[str]
) -> dict[str, list]:
    """A few replies per model to the questions (`asked`: the QA tasks' keys): closed-book,
    hallucination and open-book questions (with own, the QA files'), chat models' replies and the
    base model's k-shot ones."""
    out = {}
    for model, by_task in samples.items():
        rows = []
        for task, records in by_task.items():
            if task not in asked or task.endswith("0shot"):
                continue
            for r in seeded_subset(records, max(1, limit // 3), seed):
                rows.append({"task": task, "question": r["question"], "reply": r["reply"], "gold": r["gold"]})
        out[model] = rows[:limit]
    return out


def _write(
    params: EvaluateParams,
    ctx: StageContext,
    scores: Scores,
    headers: list[str],
    rows: list[list[str]],
    stage_metrics: dict[str, dict[str, Any]],
    suite: Suite,
    stale: dict[str, str],
    speedrun: dict[str, Any],
) -> None:
    commit = speedrun["commit"]
    with atomic_dir(params.figures) as tmp:
        figures = [p.name for p in training_curves(params.plots_in, tmp)]
        figures += [p.name for p in _comparison_figures(scores.summary, suite, tmp)]
    link = Path(os.path.relpath(params.figures, params.out))
    with atomic_dir(params.out) as tmp:
        for model, model_tasks in scores.tasks.items():
            config = {"model": "crisol", "model_args": f"{model}", "batch_size": params.batch_size}
            write_results(tmp / "results" / f"{model}.json", results_document(model_tasks, config, git_hash=commit))
            for task, records in scores.samples[model].items():
                write_samples(tmp / "samples" / model / f"{task}.jsonl", records)
        write_strict_json(tmp / "table.json", {"headers": headers, "rows": rows})
        write_strict_json(tmp / "speedrun.json", speedrun)
        report = render(
            commit=commit,
            profile=ctx.profile,
            params=ctx.params_dict(),
            stage_metrics=stage_metrics,
            evaluation_rows=rows,
            evaluation_headers=headers,
            figures=[str(link / name) for name in figures],
            samples=_report_samples(scores.samples, params.samples, params.seed, scores.asked),
            skipped=suite.skipped,
            watts_per_core=WATTS_PER_CORE,
            source=ctx.source,
            sections=suite.parts,
            stale=stale,
            speedrun=speedrun,
        )
        (tmp / "report.md").write_text(report, encoding="utf-8")


def _comparison_figures(summary: dict[str, dict[str, Any]], suite: Suite, out: Path) -> list[Path]:
    """Base vs SFT vs RLHF bars: accuracies (closed book, hallucination; with own, the multiple-choice
    and QA files) and bits per byte (with own, the unigram baseline as its dashed line)."""

    def pick(task: str, metric: str) -> dict[str, tuple[float, float | None]]:
        cells = {}
        for model in ("base", "sft", "rlhf"):
            figures = summary.get(model, {}).get(task) or summary.get(model, {}).get(f"{task}_0shot")
            if figures and metric in figures and not _undefined(figures[metric]):
                cells[model] = (float(figures[metric]), figures.get(f"{metric}_stderr"))
        return cells

    rates = {
        "closed-book exact match": pick("closed_book", "exact_match"),
        "open-book exact match": pick("open_book", "exact_match"),
        "hallucination rate": pick("hallucination", "hallucination_rate"),
        "completion choice acc_norm": pick("completion_choice", "acc_norm"),
    }
    baselines = {}
    if "completion_choice" in summary["base"]:
        baselines["completion choice acc_norm"] = summary["base"]["completion_choice"]["random_baseline"]
    if suite.parts is not None:
        for name in suite.multiple_choice:
            rates[f"{name} acc_norm"] = pick(name, "acc_norm")
            baselines[f"{name} acc_norm"] = summary["base"][name]["random_baseline"]
        rates.update({f"{qs.task} exact match": pick(qs.task, "exact_match") for qs in suite.qsets})
    rates = {k: v for k, v in rates.items() if v}
    written = (
        [comparison_bars(rates, out / "models_accuracy.png", title="base vs SFT vs RLHF", baselines=baselines)]
        if rates
        else []
    )
    label = "bits per byte (held-out documents)"
    bpb = {label: pick("heldout_documents", "bits_per_byte")}
    unigram = summary["base"]["heldout_documents"].get("unigram_bits_per_byte")
    written.append(
        comparison_bars(
            bpb,
            out / "models_bits_per_byte.png",
            title="language modelling (lower is better)",
            baselines={label: unigram} if unigram is not None else None,
        )
    )
    return written
