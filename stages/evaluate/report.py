"""The report card (report.md): what was run, on what, for how much, and how the models score.

Everything in it is read from the pipeline's own records: the stages' metrics files (the data
funnel, tokenizer compression, model size, FLOPs, time), this stage's results, and the machine it
runs on. With `source: own` the funnel starts at ingest (the world's web and crawl stages did not
run: their metrics are never read), and a "Sections" table gives every evaluation section's n or
why it did not run. Energy is an estimate and says so: pretraining records its own (device TDP, or an
assumed wattage per CPU core); the other stages' time is converted at the same wattage per core.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from crisol.core.params import lookup
from stages.evaluate.cells import fmt as _fmt
from stages.evaluate.cells import table, with_error
from stages.evaluate.speedrun import machine, speedrun_table, stage_seconds


def _after_ingest(stage_metrics: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Any]]:
    """The funnel from ingest's output on, the same for both sources."""
    return [
        ("documents kept by ingest", lookup(stage_metrics, "ingest.kept")),
        ("documents dropped by ingest (language, quality)", lookup(stage_metrics, "ingest.dropped_total")),
        ("documents after dedup", lookup(stage_metrics, "dedup.documents_out")),
        (
            "duplicates removed (exact, near)",
            f"{_fmt(lookup(stage_metrics, 'dedup.dropped.exact'))}, "
            f"{_fmt(lookup(stage_metrics, 'dedup.dropped.near'))}",
        ),
        ("training tokens", lookup(stage_metrics, "tokenizer.tokens.train")),
        ("validation tokens", lookup(stage_metrics, "tokenizer.tokens.validation")),
    ]


def funnel_rows(stage_metrics: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Any]]:
    return [
        ("pages crawled (stored)", lookup(stage_metrics, "crawl.pages_stored")),
        ("pages refused by the crawler", lookup(stage_metrics, "crawl.refused_total")),
        *_after_ingest(stage_metrics),
    ]


def own_funnel_rows(stage_metrics: Mapping[str, Mapping[str, Any]], own_root: Path) -> list[tuple[str, Any]]:
    """Source own: from ingest on (files in by kind, documents kept, dedup, tokens), this run's metrics only."""
    return [
        ("input files read by ingest", lookup(stage_metrics, "ingest.files")),
        (f"crawl files ({own_root / 'crawl'})", lookup(stage_metrics, "ingest.inputs.crawl_files")),
        (f"text files ({own_root / 'text'})", lookup(stage_metrics, "ingest.inputs.text_files")),
        ("WARC/WET records read", lookup(stage_metrics, "ingest.records")),
        ("documents read from text files", lookup(stage_metrics, "ingest.text_documents")),
        *_after_ingest(stage_metrics),
    ]


def section_rows(parts: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """One row per evaluation section: ran or not, its n, and what it was measured on or why it
    did not run."""
    rows = []
    for name, part in parts.items():
        if not part.get("ran"):
            rows.append([name, "not run", _fmt(part.get("n")), f"not run: {part.get('why', 'no reason recorded')}"])
            continue
        notes = []
        if "bytes" in part:
            notes.append(
                f"{_fmt(part['bytes'])} bytes ({_fmt(part.get('validation_split_documents'))} documents of "
                f"the validation split, {_fmt(part.get('eval_file_documents'))} from eval files)"
            )
        if "accuracy" in part:
            notes.append(
                f"reward-model accuracy {with_error(part['accuracy'], part.get('accuracy_stderr'))} on "
                "held-out human pairs (the reward stage's test split: never trained on, nor used to "
                "pick its step)"
            )
        if "prompts" in part:
            notes.append(f"prompts: {part['prompts']}; win rate judged by the {part.get('win_judge', 'gold oracle')}")
        if "section" in part:
            notes.append(
                part["section"]
                + (
                    f" ({_fmt(part.get('open_book'))} open book); shots for the base model: {_fmt(part['shots'])}"
                    if "shots" in part
                    else ""
                )
            )
        if part.get("over_length"):
            notes.append(f"{_fmt(part['over_length'])} left out, longer than the models' context")
        rows.append([name, "ran", _fmt(part.get("n")), "; ".join(notes)])
    return rows


def energy_kwh(stage_metrics: Mapping[str, Mapping[str, Any]], watts_per_core: float, cores: int) -> tuple[float, str]:
    """(kWh, how it was estimated): pretraining's own figure plus the other stages' seconds at
    watts_per_core x cores."""
    seconds = stage_seconds(stage_metrics)
    pretrain = lookup(stage_metrics, "pretrain.energy_kwh")
    others = sum(s for stage, s in seconds.items() if stage != "pretrain" or pretrain is None)
    total = (pretrain or 0.0) + others * watts_per_core * cores / 3.6e6
    basis = (
        f"pretraining: {lookup(stage_metrics, 'pretrain.energy_basis') or 'n/a'}; other stages: "
        f"{watts_per_core:g} W per core x {cores} cores x their run time (an assumption, not a measurement)"
    )
    return total, basis


def _header(commit: str | None, profile: str, m: Mapping[str, str]) -> list[str]:
    return [
        "# crisol report card",
        "",
        f"- commit: `{commit or 'unknown'}`; profile: `{profile}`; written "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {m['processor']}, {m['cpus']} CPUs, {m['accelerator']}; {m['platform']}; "
        f"Python {m['python']}, torch {m['torch']}",
    ]


def _tokenizer_table(stage_metrics: Mapping[str, Mapping[str, Any]]) -> str:
    return table(
        ["vocabulary", "bytes per token", "characters per token", "tokens per word"],
        [
            [
                lookup(stage_metrics, "tokenizer.vocab_size"),
                lookup(stage_metrics, "tokenizer.validation.bytes_per_token"),
                lookup(stage_metrics, "tokenizer.validation.chars_per_token"),
                lookup(stage_metrics, "tokenizer.validation.tokens_per_word"),
            ]
        ],
    )


def _model_table(stage_metrics: Mapping[str, Mapping[str, Any]]) -> str:
    return table(
        [
            "parameters",
            "non-embedding",
            "depth",
            "d_model",
            "pretraining tokens",
            "pretraining FLOPs",
            "tokens/s",
            "MFU",
        ],
        [
            [
                lookup(stage_metrics, "pretrain.parameters"),
                lookup(stage_metrics, "pretrain.parameters_non_embedding"),
                lookup(stage_metrics, "pretrain.model.depth"),
                lookup(stage_metrics, "pretrain.model.d_model"),
                lookup(stage_metrics, "pretrain.tokens"),
                lookup(stage_metrics, "pretrain.flops"),
                lookup(stage_metrics, "pretrain.tokens_per_s"),
                lookup(stage_metrics, "pretrain.mfu"),
            ]
        ],
    )


def _time_and_energy(stage_metrics: Mapping[str, Mapping[str, Any]], watts_per_core: float, cores: int) -> list[str]:
    kwh, basis = energy_kwh(stage_metrics, watts_per_core, cores)
    seconds = stage_seconds(stage_metrics)
    return [
        (
            "Time per stage (s): "
            + ", ".join(f"{stage} {s:,.0f}" for stage, s in seconds.items())
            + f"; total {sum(seconds.values()):,.0f} s."
            if seconds
            else "Time per stage: n/a (no other stage's metrics of this run were found)."
        ),
        f"Energy (estimate): {kwh:.4f} kWh ({basis}).",
    ]


def _speedrun_section(line: Mapping[str, Any]) -> list[str]:
    return [
        "",
        "## Speedrun",
        "",
        "Each stage's wall time (s) as its metrics recorded it (a stage DVC skipped: the run that made its "
        "output), the total, and the headline figures (± standard error; gold: RLHF's gain over SFT on the "
        "same prompts). The same line is in speedrun.json and, after a pipeline run, results/speedrun.jsonl.",
        "",
        speedrun_table([line]),
    ]


def _own_sections(sections: Mapping[str, Mapping[str, Any]] | None, stale: Mapping[str, str] | None) -> list[str]:
    """Source own only: the baseline's meaning, every section's n or why it did not run, and the
    stages whose metrics were left out as another run's."""
    lines = [
        "",
        "For bits per byte the baseline column is the unigram model (the train split's token "
        "frequencies, add-one smoothed) on the same text. The reward model's held-out accuracy and the "
        "sections that did not run are in the table below.",
        "",
        "### Sections",
        "",
        table(["section", "status", "n", "measured on / why not"], section_rows(sections or {})),
    ]
    if stale:
        lines += [
            "",
            "Left out of the funnel and times (not this run's metrics): "
            + "; ".join(f"{k}: {v}" for k, v in stale.items()),
        ]
    return lines


def _sample_sections(samples: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """One table per model with samples; a model without any gets no heading."""
    lines: list[str] = []
    for model, rows in samples.items():
        if not rows:
            continue
        lines += [
            "",
            f"## Sample generations: {model}",
            "",
            table(
                ["task", "question", "reply", "gold"],
                [[r["task"], _cell(r["question"]), _cell(r["reply"]), _cell(r["gold"])] for r in rows],
            ),
        ]
    return lines


def render(
    *,
    commit: str | None,
    profile: str,
    params: Mapping[str, Any],
    stage_metrics: Mapping[str, Mapping[str, Any]],
    evaluation_rows: Sequence[Sequence[Any]],
    evaluation_headers: Sequence[str],
    figures: Sequence[str],
    samples: Mapping[str, Sequence[Mapping[str, Any]]],
    skipped: Mapping[str, str],
    watts_per_core: float,
    source: Any = None,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
    stale: Mapping[str, str] | None = None,
    speedrun: Mapping[str, Any] | None = None,
) -> str:
    """The report card. source (a DataSource): with own, the funnel from ingest and, from
    `sections` (the metrics' parts), each section's n or why it did not run; `stale`: stages'
    metrics left out (another run's); `speedrun`: the speedrun line (speedrun.py), the first table."""
    own = source is not None and source.is_own
    m = machine()
    funnel = own_funnel_rows(stage_metrics, source.root) if own else funnel_rows(stage_metrics)
    parts = [
        *_header(commit, profile, m),
        *(_speedrun_section(speedrun) if speedrun else []),
        "",
        "## Data funnel",
        "",
        table(["step", "count"], funnel),
        "",
        "## Tokenizer",
        "",
        _tokenizer_table(stage_metrics),
        "",
        "## Model and compute",
        "",
        _model_table(stage_metrics),
        "",
        *_time_and_energy(stage_metrics, watts_per_core, int(m["cpus"] or 1)),
        "",
        "## Evaluation",
        "",
        "Every figure is a mean with its standard error (±) over the items (n); perplexities are "
        "corpus-level (lm-evaluation-harness's definitions). Chance: a random choice, or for exact "
        "match a guesser who knows the relation.",
        "",
        table(evaluation_headers, evaluation_rows),
    ]
    if own:
        parts += _own_sections(sections, stale)
    if skipped:
        parts += ["", "Skipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())]
    if figures:
        parts += ["", "## Figures", ""] + [f"![{name}]({name})" for name in figures]
    parts += _sample_sections(samples)
    parts += ["", "## Params", "", "```yaml", _yaml(params), "```", ""]
    return "\n".join(parts)


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _yaml(params: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(params), sort_keys=False, default_flow_style=False).rstrip()
