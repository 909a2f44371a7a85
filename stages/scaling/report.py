"""The sweep's written results, in the stage's DVC out (replaced atomically as a whole):

fit.json             the law's parameters, their bootstrap intervals and the fit's diagnostics
recommendation.json  the size for the configured budget and the pretrain command that trains it
runs.csv, table.json the runs (table.json is {headers, rows}: the pipeline flow publishes it as
                     the Prefect table artifact `scaling-table`)
report.md            all of it for people (published as the markdown artifact `scaling-report`)
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from crisol.core.atomic import atomic_dir, write_json
from stages.scaling.fit import NAMES, Fit
from stages.scaling.plan import Plan
from stages.scaling.recommend import Recommendation
from stages.scaling.results import RunResult

HEADERS = (
    "run",
    "depth",
    "d_model",
    "params",
    "tokens",
    "steps",
    "flops",
    "budgets",
    "tokens_per_param",
    "epochs",
    "loss",
    "bits_per_byte",
    "fact_accuracy",
    "fact_chance",
    "train_seconds",
    "resumed_from_step",
)


def _g(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}g}"


def _interval(iv: tuple[float, float] | None) -> str:
    return "-" if iv is None else f"[{_g(iv[0])}, {_g(iv[1])}]"


def bracketing(fit: Fit, results: list[RunResult]) -> dict[str, bool]:
    """Per budget: whether the fitted N_opt(C) lies within the sizes tried at C. An IsoFLOP curve
    whose minimum is outside its runs is an extrapolation: add a smaller or larger depth there."""
    out = {}
    for budget in sorted({b for r in results for b in r.budgets}):
        sizes = [r.params for r in results if budget in r.budgets]
        out[f"{budget:.3g}"] = bool(min(sizes) <= float(fit.law.optimal(budget)[0]) <= max(sizes))
    return out


def fit_summary(fit: Fit, delta: float, results: list[RunResult]) -> dict[str, Any]:
    return {
        "law": fit.law.as_dict(),
        "intervals": fit.parameter_intervals(),
        "confidence": fit.confidence,
        "n_exponent": fit.law.n_exponent,
        "n_exponent_interval": fit.interval(lambda law: law.n_exponent),
        "converged": fit.converged,
        "agreeing_starts": fit.agreeing_starts,
        "starts": fit.starts,
        "objective": fit.objective,
        "residual_rms_log_loss": fit.residual_rms,
        "runs": fit.points,
        "bootstrap": len(fit.boot),
        "bootstrap_skipped": fit.boot_skipped,
        "huber_delta": delta,
        "at_bounds": fit.at_bounds,
        "optimum_bracketed": bracketing(fit, results),
    }


def _warnings(fit: Fit, results: list[RunResult], rec: Recommendation) -> list[str]:
    """What makes the numbers above less than they seem, one line each."""
    lines = []
    if fit.at_bounds:
        lines.append(
            f"- {', '.join(fit.at_bounds)} at the edge of the allowed range: the runs do not determine "
            f"{'it' if len(fit.at_bounds) == 1 else 'them'} (more budgets, or runs nearer convergence)."
        )
    outside = [b for b, inside in bracketing(fit, results).items() if not inside]
    if outside:
        lines.append(
            f"- the fitted optimum lies outside the sizes tried at C = {', '.join(outside)}: "
            "those IsoFLOP curves do not bracket their minimum (add depths on that side)."
        )
    if rec.depth == 1 and rec.n_opt < rec.params:
        lines.append("- N_opt is below the family's smallest model (depth 1): the recommendation is the smallest.")
    return (["**Caveats**", "", *lines, ""]) if lines else []


def _law_section(plan: Plan, results: list[RunResult], fit: Fit) -> list[str]:
    """The title, what was run, and the fitted law with its intervals and the fit's diagnostics."""
    law, pct = fit.law, int(round(fit.confidence * 100))
    family = (
        "d_model = 64 x depth (ModelConfig.from_depth)"
        if plan.params.d_model is None
        else f"d_model fixed at {plan.params.d_model}, depth varies"
    )
    return [
        "# Scaling: the loss law and the size for a compute budget",
        "",
        f"{len(results)} pretraining runs (profile `{plan.profile}`), {len(plan.params.budgets)} budgets "
        f"({', '.join(f'{b:.3g}' for b in sorted(plan.params.budgets))} FLOPs, C = 6ND with N non-embedding), "
        f"models from one family: {family}; {plan.tokens_per_step:,} tokens per step.",
        "",
        "## The fitted law: L(N, D) = E + A / N^alpha + B / D^beta",
        "",
        f"| parameter | estimate | {pct}% interval (bootstrap, {len(fit.boot)} resamples) |",
        "|---|---|---|",
        *(f"| {name} | {_g(getattr(law, name))} | {_interval(fit.parameter_intervals()[name])} |" for name in NAMES),
        f"| N_opt exponent beta/(alpha+beta) | {_g(law.n_exponent, 3)} | "
        f"{_interval(fit.interval(lambda lw: lw.n_exponent))} |",
        "",
        f"Huber loss on log-loss residuals (delta {plan.params.huber_delta:g}); "
        f"{'converged' if fit.converged else 'NOT converged'}, {fit.agreeing_starts} of {fit.starts} "
        f"starts reached the "
        f"same optimum; residual RMS {_g(fit.residual_rms, 3)} in log loss.",
        "",
    ]


def _recommendation_section(plan: Plan, rec: Recommendation) -> list[str]:
    """The size for the configured budget, the command that trains it, and the family's neighbours."""
    return [
        f"## Recommendation for C = {rec.budget:.3g} FLOPs",
        "",
        f"- compute-optimal N_opt = {_g(rec.n_opt, 3)} {_interval(rec.n_opt_interval)}, "
        f"D_opt = {_g(rec.d_opt, 3)} tokens {_interval(rec.d_opt_interval)}: "
        f"**{_g(rec.tokens_per_param, 3)} tokens per parameter** {_interval(rec.tokens_per_param_interval)} "
        "(Chinchilla: about 20)",
        f"- closest model of the family: **depth {rec.depth}** (N = {rec.params:,}), {rec.steps:,} steps = "
        f"{rec.tokens:,} tokens; predicted validation loss {_g(rec.predicted_loss)} "
        f"{_interval(rec.predicted_loss_interval)}",
        f"- the budget is {_g(rec.extrapolation, 3)} x the sweep's largest: "
        + ("a prediction inside the sweep's range" if rec.extrapolation <= 1 else "an extrapolation"),
        "",
        f"Train it: `pretrain.size_from: {plan.params.out / 'recommendation.json'}` in params.yaml (or "
        f"`--set pretrain.size_from=...`), or the same as explicit settings:",
        "",
        "```bash",
        rec.command,
        "```",
        "",
        "| depth | N | tokens | predicted loss |",
        "|---|---|---|---|",
        *(
            f"| {a['depth']}{' (recommended)' if a['depth'] == rec.depth else ''} | {a['params']:,} "
            f"| {a['tokens']:,} | "
            f"{_g(a['predicted_loss'])} |"
            for a in rec.alternatives
        ),
        "",
    ]


def _runs_section(results: list[RunResult]) -> list[str]:
    """A note when runs repeated data, then one row per run, by budget then depth."""
    lines = []
    over = [r for r in results if r.epochs > 1]
    if over:
        lines += [
            f"Note: {len(over)} of {len(results)} runs saw the train split more than once (up to "
            f"{max(r.epochs for r in over):.1f} epochs); the law assumes unique tokens, so with repeated "
            "data it describes this dataset, not a larger one.",
            "",
        ]
    lines += [
        "## Runs",
        "",
        "| run | depth | N | D | C | loss | bits/byte | facts | epochs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r.flops, r.depth)):
        lines.append(
            f"| {r.id} | {r.depth} | {r.params:,} | {r.tokens:,} | {r.flops:.3g} | {r.loss:.4f} | "
            f"{r.bits_per_byte:.4f} | {_g(r.fact_accuracy, 3)} | {r.epochs:.2f} |"
        )
    return lines


def _markdown(
    plan: Plan, results: list[RunResult], fit: Fit, rec: Recommendation, figures: list[Path], out: Path
) -> str:
    lines = [
        *_law_section(plan, results, fit),
        *_warnings(fit, results, rec),
        *_recommendation_section(plan, rec),
        *_runs_section(results),
        "",
        "## Figures",
        "",
        *(f"![{path.stem}]({os.path.relpath(path, out)})" for path in figures),
    ]
    return "\n".join(lines) + "\n"


def write_outputs(
    out: Path, plan: Plan, results: list[RunResult], fit: Fit, rec: Recommendation, figures: list[Path]
) -> None:
    rows = [r.row() for r in sorted(results, key=lambda r: (r.flops, r.depth))]
    with atomic_dir(out) as tmp:
        write_json(tmp / "fit.json", fit_summary(fit, plan.params.huber_delta, results))
        write_json(tmp / "recommendation.json", rec.to_dict())
        write_json(tmp / "table.json", {"headers": list(HEADERS), "rows": [[row[h] for h in HEADERS] for row in rows]})
        with open(tmp / "runs.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(HEADERS))
            writer.writeheader()
            writer.writerows(rows)
        (tmp / "report.md").write_text(_markdown(plan, results, fit, rec, figures, out))


def read_recommendation(out: Path) -> dict[str, Any]:
    return json.loads((out / "recommendation.json").read_text())
