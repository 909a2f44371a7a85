"""The scaling stage:

params (budgets, depths) + the profile's pretrain recipe + the token shards
    ──(plan.py)──> IsoFLOP grid: per budget C and depth, N and max_steps = C / 6N / tokens per step
    ──(runs.py)──> `python -m stages.pretrain` per run, `workers` at a time, each in
                   <runs_dir>/runs/<id>/; done runs are skipped, failed ones resume on the next sweep
    ──(fit.py)──> L(N, D) = E + A/N^alpha + B/D^beta, Huber on log loss, bootstrap intervals
    ──(recommend.py)──> N_opt, D_opt for `budget`, the depth and pretrain command for it
    ──> <out>/{fit,recommendation}.json, runs.csv, table.json, report.md; <figures>/*.png; metrics
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from crisol.core.atomic import atomic_dir
from crisol.core.cli import StageContext
from crisol.core.errors import StageInputError
from stages.scaling import plots
from stages.scaling.fit import NAMES, Fit, fit_law
from stages.scaling.params import ScalingParams
from stages.scaling.plan import Plan, make_plan
from stages.scaling.recommend import Recommendation, recommend
from stages.scaling.report import write_outputs
from stages.scaling.results import RunResult, collect
from stages.scaling.runs import execute_all


class RunsFailed(StageInputError):
    """Some of the sweep's runs failed (the others finished and stay done): exit 1, one line."""


def run(ctx: StageContext, params_file: Path, overrides: list[str]) -> None:
    """Sweep the IsoFLOP grid (the runs not done yet), fit the loss law, recommend a size, report."""
    params: ScalingParams = ctx.params
    log = ctx.log
    started = time.perf_counter()
    plan = make_plan(params, params_file, overrides)
    log.info(
        "scaling: %d grid points -> %d runs (depths %s), %d at a time, in %s",
        len(plan.points),
        len(plan.runs),
        sorted({r.depth for r in plan.runs}),
        params.workers,
        params.runs_dir / "runs",
    )
    sweep(ctx, plan, started)
    results = collect(plan)
    fit = fit_law(
        [r.params for r in results],
        [r.tokens for r in results],
        [r.loss for r in results],
        delta=params.huber_delta,
        starts=params.starts,
        bootstrap=params.bootstrap,
        confidence=params.confidence,
        seed=params.seed,
    )
    if not fit.converged:
        log.warning("scaling: the fit did not converge (L-BFGS-B); its figures are reported but doubtful")
    rec = recommend(fit, plan)
    write_outputs(params.out, plan, results, fit, rec, _draw(params.figures, results, fit, rec))
    ctx.metrics.update(_fit_metrics(fit, rec))
    log.info(
        "scaling: L = %.3g + %.3g/N^%.3f + %.3g/D^%.3f; for C = %.3g: N_opt %.3g, D_opt %.3g (%.1f tokens/param) "
        "-> depth %d, %d steps (%s)",
        fit.law.E,
        fit.law.A,
        fit.law.alpha,
        fit.law.B,
        fit.law.beta,
        rec.budget,
        rec.n_opt,
        rec.d_opt,
        rec.tokens_per_param,
        rec.depth,
        rec.steps,
        rec.command,
    )


def sweep(ctx: StageContext, plan: Plan, started: float) -> None:
    """Run every run of the plan not done yet and count the outcomes in the metrics; RunsFailed
    when any failed (after all ran: the others stay done)."""
    outcomes = execute_all(plan, plan.runs, ctx.log)
    failed = [o for o in outcomes if o.status == "failed"]
    ctx.metrics.update(
        {
            "runs": len(plan.runs),
            "runs_ran": sum(o.status == "ran" for o in outcomes),
            "runs_cached": sum(o.status == "cached" for o in outcomes),
            "runs_failed": len(failed),
            "sweep_seconds": round(time.perf_counter() - started, 3),
        }
    )
    if failed:
        which = "; ".join(f"{o.run_id} (exit {o.returncode}, log {o.log})" for o in failed)
        raise RunsFailed(
            f"{len(failed)} of {len(plan.runs)} runs failed: {which}; the others are done, so running "
            f"the sweep again runs only these (resuming from their checkpoints)"
        )


def _draw(figures: Path, results: list[RunResult], fit: Fit, rec: Recommendation) -> list[Path]:
    """Draw the sweep's figures (isoFLOP curves, the frontier, abilities) into `figures`; returns
    the paths of those drawn (abilities is not without a fact accuracy to plot)."""
    with atomic_dir(figures) as tmp:
        drawn = [
            plots.isoflop(results, fit, rec, tmp / "isoflop.png"),
            plots.frontier(results, fit, rec, tmp / "frontier.png"),
            plots.abilities(results, tmp / "abilities.png"),
        ]
    return [figures / path.name for path in drawn if path is not None]


def _fit_metrics(fit: Fit, rec: Recommendation) -> dict[str, Any]:
    intervals = fit.parameter_intervals()
    return {
        "fit_converged": fit.converged,
        "fit_agreeing_starts": fit.agreeing_starts,
        "fit_residual_rms": round(fit.residual_rms, 6),
        **{f"law_{name}": getattr(fit.law, name) for name in NAMES},
        **{f"law_{name}_interval": intervals[name] for name in NAMES},
        "budget": rec.budget,
        "n_opt": rec.n_opt,
        "d_opt": rec.d_opt,
        "tokens_per_param": rec.tokens_per_param,
        "recommended_depth": rec.depth,
        "recommended_steps": rec.steps,
        "predicted_loss": rec.predicted_loss,
        "recommended_settings": rec.settings,
    }
