"""Results in lm-evaluation-harness's shape, so its tools and anyone who reads its files can read ours.

The document is the one `lm_eval --output_path` writes (0.4.13, lm_eval/result_schema.py
EvalResults), with the keys that describe an evaluation and none of its environment dump:

    {"results": {task: {"name": task, "alias": task, "sample_len": N,
                        "acc,none": 0.29, "acc_stderr,none": 0.02, ...}},
     "group_subtasks": {}, "configs": {task: {...}}, "versions": {task: 1.0},
     "n-shot": {task: 0}, "higher_is_better": {task: {"acc": true, ...}},
     "n-samples": {task: {"original": N, "effective": N}},
     "config": {"model": ..., ...}, "git_hash": "1a2b3c4", "date": 1790000000.0}

Metric keys are "<metric>,<filter>" with lm-eval's filter "none"; a standard error that is not
defined (corpus-level perplexities, one item) is the string "N/A", as lm-eval writes it. Figures
lm-eval would not report (the random baseline, requests truncated) sit beside the metrics as
"<name>,none" with no stderr, so `lm_eval.utils.make_table` shows them too. `date` is a UNIX
time, `git_hash` lm-eval's `git describe --always`. JSON has no NaN or infinity: a NaN value is
written "N/A" and an infinite one "inf" (a random model's perplexity can overflow).

Per-sample records go to a JSONL file, one object per item, in the items' order.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from crisol.core.atomic import atomic_file
from stages.evaluate.metrics import MC_METRICS, Perplexity

FILTER = "none"
NOT_AVAILABLE = "N/A"
PERPLEXITY_METRICS = ("word_perplexity", "byte_perplexity", "bits_per_byte", "token_perplexity")


@dataclass(frozen=True)
class TaskResult:
    """One task's figures: metrics with their standard errors (absent or NaN: "N/A"), extras
    shown without one, and what lm-eval records beside them."""

    name: str
    metrics: Mapping[str, float]
    stderrs: Mapping[str, float]
    higher_is_better: Mapping[str, bool]
    n_original: int  # items in the task's data
    n_effective: int  # items scored (after a limit)
    extras: Mapping[str, float | int] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    version: float | str = 1.0
    n_shot: int = 0


def multiple_choice_result(
    name: str, aggregate: Mapping[str, Any], *, n_original: int | None = None, config: Mapping[str, Any] | None = None
) -> TaskResult:
    """From hellaswag.score_multiple_choice's aggregate: acc, acc_norm, acc_bytes (higher is
    better), the random baseline and the truncated requests as extras."""
    n = int(aggregate["n"])
    return TaskResult(
        name=name,
        metrics={m: aggregate[m] for m in MC_METRICS},
        stderrs={m: aggregate[f"{m}_stderr"] for m in MC_METRICS},
        higher_is_better={m: True for m in MC_METRICS},
        n_original=n if n_original is None else n_original,
        n_effective=n,
        extras={
            k: aggregate[k]
            for k in ("random_baseline", "truncated_requests", "skipped_choice_longer_than_context")
            if k in aggregate
        },
        config={
            "task": name,
            "output_type": "multiple_choice",
            "target_delimiter": " ",
            "num_fewshot": 0,
            **(config or {}),
        },
    )


def perplexity_result(
    name: str, figures: Perplexity, *, n_original: int | None = None, config: Mapping[str, Any] | None = None
) -> TaskResult:
    """Corpus-level perplexities (lower is better), no standard error (lm-eval reports none for
    them); the document, token, word and byte counts as extras."""
    return TaskResult(
        name=name,
        metrics={m: getattr(figures, m) for m in PERPLEXITY_METRICS},
        stderrs={},
        higher_is_better={m: False for m in PERPLEXITY_METRICS},
        n_original=figures.documents if n_original is None else n_original,
        n_effective=figures.documents,
        extras={"tokens": figures.tokens, "words": figures.words, "bytes": figures.bytes},
        config={"task": name, "output_type": "loglikelihood_rolling", "num_fewshot": 0, **(config or {})},
    )


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return NOT_AVAILABLE if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _task_block(task: TaskResult) -> dict[str, Any]:
    block: dict[str, Any] = {"name": task.name, "alias": task.name, "sample_len": task.n_effective}
    for metric, value in task.metrics.items():
        block[f"{metric},{FILTER}"] = _number(value)
        stderr = task.stderrs.get(metric)
        block[f"{metric}_stderr,{FILTER}"] = NOT_AVAILABLE if stderr is None else _number(stderr)
    for name, value in task.extras.items():
        block[f"{name},{FILTER}"] = _number(value)
    return block


def current_git_hash(root: Path | str = ".") -> str | None:
    """The checkout's `git describe --always` (lm-eval's git_hash), None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def results_document(
    tasks: Sequence[TaskResult], config: Mapping[str, Any], *, git_hash: str | None = None, date: float | None = None
) -> dict[str, Any]:
    """lm-eval's results JSON for these tasks. config: the model and run ("model", "model_args",
    "batch_size", ...). date: UNIX time the evaluation started (default: now)."""
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"results: task names repeat: {names}")
    by_name = sorted(tasks, key=lambda t: t.name)
    return {
        "results": {t.name: _task_block(t) for t in tasks},
        "group_subtasks": {},
        "configs": {t.name: dict(t.config) for t in by_name},
        "versions": {t.name: t.version for t in by_name},
        "n-shot": {t.name: t.n_shot for t in by_name},
        "higher_is_better": {t.name: dict(t.higher_is_better) for t in by_name},
        "n-samples": {t.name: {"original": t.n_original, "effective": t.n_effective} for t in tasks},
        "config": dict(config),
        "git_hash": git_hash,
        "date": time.time() if date is None else date,
    }


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return _number(value)


def write_results(path: Path | str, document: Mapping[str, Any]) -> None:
    """The results JSON, atomically (strict JSON: non-finite numbers as strings, see above)."""
    text = json.dumps(_clean(dict(document)), indent=2, ensure_ascii=False, allow_nan=False, default=str)
    with atomic_file(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


def write_samples(path: Path | str, records: Iterable[Mapping[str, Any]]) -> int:
    """Per-sample records as JSONL, atomically; returns the number written."""
    count = 0
    with atomic_file(path) as tmp:
        with tmp.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(_clean(dict(record)), ensure_ascii=False, allow_nan=False, default=str) + "\n")
                count += 1
    return count
