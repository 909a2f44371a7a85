"""The speedrun line: what a run cost and what it bought, in one row (issue 22's time to a good model).

    each stage's wall time (its metrics' `seconds`), the total, the machine, the commit, the profile,
    and the headline figures: held-out closed-book exact match of SFT and RLHF, RLHF's gold score
    minus SFT's, hallucination on invented entities (SFT, RLHF), the base model's bits per byte

It is the report card's first table and <evaluate.out>/speedrun.json, which flows/speedrun_log.py
appends to the git-tracked results log. The times are those recorded by the stages whose outputs
were evaluated: a stage DVC skipped keeps the time of the run that made its output, so the total is
what these models cost, not how long this invocation took. The evaluate stage's own time is its
time up to the report. A figure the run has no data for (a user's own data has no synthetic facts)
is null in the JSON and "n/a (own data)" in the table.
"""

from __future__ import annotations

import math
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from crisol.core.source import DataSource
from stages.evaluate.cells import table, with_error

STAGE_ORDER = ("web", "crawl", "ingest", "dedup", "tokenizer", "pretrain", "sft", "reward", "ppo", "evaluate")

# (figure, model, task, metric): the targets, under the names the metrics use
PICKS = (
    ("sft_closed_book_exact_match", "sft", "closed_book", "exact_match"),
    ("rlhf_closed_book_exact_match", "rlhf", "closed_book", "exact_match"),
    ("sft_hallucination_rate", "sft", "hallucination", "hallucination_rate"),
    ("rlhf_hallucination_rate", "rlhf", "hallucination", "hallucination_rate"),
    ("base_bits_per_byte", "base", "heldout_documents", "bits_per_byte"),
)
GOLD_GAIN = "rlhf_minus_sft_gold_score"
# (column, figure): the table's quality columns
COLUMNS = (
    ("closed-book EM SFT", "sft_closed_book_exact_match"),
    ("closed-book EM RLHF", "rlhf_closed_book_exact_match"),
    ("gold RLHF − SFT", GOLD_GAIN),
    ("hallucination SFT", "sft_hallucination_rate"),
    ("hallucination RLHF", "rlhf_hallucination_rate"),
    ("base bits per byte", "base_bits_per_byte"),
)


CPU_DETAILS = (("cpu family", "family"), ("model", "model"), ("cache size", "cache"))  # /proc/cpuinfo key, label


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name where the system says it (Linux), with its family, model number and cache
    size, else the architecture: two runs on the same "x86_64" were 28% apart in speed on different
    hosts, and a VM's model name can be as generic as "Intel(R) Xeon(R) Processor"; the number and
    cache tell its hosts apart (MKL sizes its blocking from the CPU it finds, so the last bits of a
    run's floats can move with the host too)."""
    first: dict[str, str] = {}
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if value.strip():  # an empty value never hides a later one
                first.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = first.get("model name")
    if not name:
        return platform.processor() or platform.machine()
    details = [f"{label} {first[key]}" for key, label in CPU_DETAILS if first.get(key)]
    return f"{name} ({', '.join(details)})" if details else name


def machine() -> dict[str, str]:
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return {
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # ATen's vector kernels: AVX2, AVX512, ...
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "accelerator": device,
    }


def stage_seconds(stage_metrics: Mapping[str, Mapping[str, Any]], *, wall: bool = False) -> dict[str, float]:
    """Each stage's seconds, in pipeline order: its own run time (`run_seconds`, the work the energy
    estimate counts) where it records one, or with `wall` the whole process's (`seconds`, loading
    included: what a speedrun waits for)."""
    keys = ("seconds", "run_seconds") if wall else ("run_seconds", "seconds")
    out = {}
    for stage in STAGE_ORDER:
        m = stage_metrics.get(stage) or {}
        seconds = m.get(keys[0], m.get(keys[1]))
        if isinstance(seconds, (int, float)):
            out[stage] = float(seconds)
    return out


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _task(models: Mapping[str, Any], model: str, task: str) -> Mapping[str, Any]:
    tasks = models.get(model) or {}
    return tasks.get(task) or tasks.get(f"{task}_0shot") or {}


def _gold_gain(models: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """RLHF minus SFT gold score: the paired figure where the metrics have it, else the difference
    of the means with the two errors combined as independent (larger: the pairing is lost)."""
    rlhf, sft = _task(models, "rlhf", "alignment"), _task(models, "sft", "alignment")
    if _number(rlhf.get("gold_gain_vs_sft")) is not None:
        return _number(rlhf["gold_gain_vs_sft"]), _number(rlhf.get("gold_gain_vs_sft_stderr"))
    a, b = _number(rlhf.get("gold_score")), _number(sft.get("gold_score"))
    if a is None or b is None:
        return None, None
    ea, eb = _number(rlhf.get("gold_score_stderr")), _number(sft.get("gold_score_stderr"))
    return a - b, (math.hypot(ea, eb) if ea is not None and eb is not None else None)


def headline_figures(models: Mapping[str, Any]) -> dict[str, float | None]:
    """The line's figures (and their standard errors) from the metrics' `models`; None where absent."""
    out: dict[str, float | None] = {}
    for name, model, task, metric in PICKS:
        figures = _task(models, model, task)
        out[name] = _number(figures.get(metric))
        if name != "base_bits_per_byte":  # corpus-level: no standard error
            out[f"{name}_stderr"] = _number(figures.get(f"{metric}_stderr"))
    out[GOLD_GAIN], out[f"{GOLD_GAIN}_stderr"] = _gold_gain(models)
    return {k: None if v is None else round(v, 5) for k, v in out.items()}  # as the metrics round


def speedrun_line(
    *,
    stage_metrics: Mapping[str, Mapping[str, Any]],
    models: Mapping[str, Any],
    evaluate_seconds: float,
    commit: str | None,
    profile: str,
    source: DataSource,
) -> dict[str, Any]:
    """The line (JSON-ready): date, commit, profile, source, machine, per-stage seconds, total, figures."""
    seconds = {**stage_seconds(stage_metrics, wall=True), "evaluate": round(evaluate_seconds, 3)}
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit,
        "profile": profile,
        "source": source.kind,
        "machine": machine(),
        "seconds": seconds,
        "total_seconds": round(sum(seconds.values()), 3),
        "figures": headline_figures(models),
    }


def _seconds(value: Any) -> str:
    if _number(value) is None:
        return "n/a"
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def _figure(line: Mapping[str, Any], name: str) -> str:
    figures = line.get("figures") or {}
    if figures.get(name) is None:
        return "n/a (own data)" if line.get("source") == "own" else "n/a"
    return with_error(figures[name], figures.get(f"{name}_stderr"))


def speedrun_table(lines: Sequence[Mapping[str, Any]]) -> str:
    """One row per line (the report card: this run; `speedrun_log --show`: the last runs), a column
    per stage any of them timed, in pipeline order."""
    stages = [s for s in STAGE_ORDER if any(s in (line.get("seconds") or {}) for line in lines)]
    headers = ["date", "commit", "profile", "machine", "total", *(f"{s} s" for s in stages), *(c for c, _ in COLUMNS)]
    rows = []
    for line in lines:
        m, seconds, total = line.get("machine") or {}, line.get("seconds") or {}, line.get("total_seconds")
        rows.append(
            [
                str(line.get("date", "n/a"))[:16].replace("T", " "),
                f"`{line.get('commit') or 'unknown'}`",
                str(line.get("profile", "n/a")),
                f"{m.get('processor', '?')}, {m.get('cpus', '?')} CPUs, {m.get('accelerator', '?')}",
                f"{total:,.0f} s ({total / 60:.1f} min)" if _number(total) is not None else "n/a",
                *(_seconds(seconds.get(s)) for s in stages),
                *(_figure(line, name) for _, name in COLUMNS),
            ]
        )
    return table(headers, rows)
