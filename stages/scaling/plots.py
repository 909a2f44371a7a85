"""The sweep's figures, as PNGs for `dvc plots` and the report:

    isoflop.png    loss against N, one curve per budget: the runs, the fitted law along the
                   budget's IsoFLOP line (D = C / 6N), its minimum N_opt(C) marked; the configured
                   budget's curve dashed (a prediction), the recommended depth on it
    frontier.png   the loss-vs-compute frontier L(N_opt(C), D_opt(C)) with its bootstrap band and
                   the runs; below it N_opt and D_opt against C, with the 20 tokens/parameter line
    abilities.png  closed-book fact completion at the end of each run against its compute, one
                   line per depth, with chance: where the ability appears as scale grows

Rendering follows stages/evaluate/plots.py: a Figure on the Agg canvas (no pyplot, no global
state), fixed size and dpi, no "Software" PNG chunk, written atomically, so the same sweep makes
byte-identical files and DVC sees no spurious change. (The few lines of `_save` repeat that
module's; a stage may not import another stage, and the shared library is out of this change.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from crisol.core.atomic import atomic_file
from stages.scaling.fit import Fit
from stages.scaling.recommend import Recommendation
from stages.scaling.results import RunResult

DPI = 100
SIZE = (8.0, 5.0)
PANELS = (8.0, 8.0)
PNG_METADATA = {"Software": None}
CHINCHILLA_RATIO = 20.0
CURVE_POINTS = 200


def _save(fig: Figure, out: Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic_file(out) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata=PNG_METADATA)
    return out


def _budgets(results: list[RunResult]) -> list[float]:
    return sorted({b for r in results for b in r.budgets})


def isoflop(results: list[RunResult], fit: Fit, rec: Recommendation, out: Path) -> Path:
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    law = fit.law
    budgets = _budgets(results)
    n_all = np.array([r.params for r in results], dtype=float)
    lo, hi = n_all.min() / 2, max(n_all.max() * 2, rec.params * 2, rec.n_opt * 2)
    grid = np.geomspace(lo, hi, CURVE_POINTS)
    for i, budget in enumerate(budgets):
        color = f"C{i % 10}"
        mine = [r for r in results if budget in r.budgets]
        ax.scatter([r.params for r in mine], [r.loss for r in mine], color=color, zorder=3, label=f"C = {budget:.2g}")
        curve = law.loss(grid, budget / (6 * grid))
        ax.plot(grid, curve, color=color, linewidth=1.2)
        n_opt, d_opt = law.optimal(budget)
        ax.plot([n_opt], [law.loss(n_opt, d_opt)], marker="*", markersize=11, color=color, markeredgecolor="k")
    curve = law.loss(grid, rec.budget / (6 * grid))
    ax.plot(grid, curve, color="0.3", linestyle="--", linewidth=1.2, label=f"C = {rec.budget:.2g} (predicted)")
    ax.plot([rec.n_opt], [law.loss(rec.n_opt, rec.d_opt)], marker="*", markersize=13, color="0.3", markeredgecolor="k")
    ax.plot(
        [rec.params],
        [rec.predicted_loss],
        marker="D",
        markersize=7,
        color="w",
        markeredgecolor="k",
        label=f"recommended: depth {rec.depth}",
    )
    ax.set_xscale("log")
    ax.set_xlabel("N, non-embedding parameters")
    ax.set_ylabel("validation loss (nats/token)")
    losses = [r.loss for r in results] + [rec.predicted_loss]
    span = max(losses) - min(losses)
    ax.set_ylim(min(losses) - 0.15 * span - 1e-3, max(losses) + 0.3 * span + 1e-3)
    ax.set_title("IsoFLOP curves: the fitted law along D = C / 6N (stars: N_opt)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, out)


def _band(fit: Fit, of, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    if not fit.boot:
        return None
    values = np.array([of(law, xs) for law in fit.boot], dtype=float)
    tail = (1 - fit.confidence) / 2 * 100
    return np.nanpercentile(values, tail, axis=0), np.nanpercentile(values, 100 - tail, axis=0)


def frontier(results: list[RunResult], fit: Fit, rec: Recommendation, out: Path) -> Path:
    fig = Figure(figsize=PANELS, dpi=DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    law = fit.law
    c_runs = np.array([r.flops for r in results])
    cs = np.geomspace(c_runs.min() / 2, max(c_runs.max(), rec.budget) * 2, CURVE_POINTS)
    pct = int(round(fit.confidence * 100))
    depths = sorted({r.depth for r in results})
    for i, depth in enumerate(depths):
        mine = [r for r in results if r.depth == depth]
        top.scatter(
            [r.flops for r in mine], [r.loss for r in mine], color=f"C{i % 10}", zorder=3, label=f"runs, depth {depth}"
        )
    top.plot(cs, law.optimal_loss(cs), color="k", linewidth=1.5, label="frontier L(N_opt, D_opt)")
    band = _band(fit, lambda lw, x: lw.optimal_loss(x), cs)
    if band:
        top.fill_between(cs, *band, color="0.5", alpha=0.25, label=f"{pct}% bootstrap band")
    top.axvline(rec.budget, color="0.3", linestyle=":", linewidth=1)
    top.plot(
        [rec.budget],
        [rec.predicted_loss],
        marker="D",
        color="w",
        markeredgecolor="k",
        label=f"recommended: depth {rec.depth}, {rec.predicted_loss:.3f}",
    )
    top.set_xscale("log")
    top.set_ylabel("validation loss (nats/token)")
    top.set_title("loss against compute C = 6ND")
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize="small")

    n_opt, d_opt = law.optimal(cs)
    bottom.plot(cs, n_opt, color="C0", label="N_opt (parameters)")
    bottom.plot(cs, d_opt, color="C1", label="D_opt (tokens)")
    for which, color in ((0, "C0"), (1, "C1")):
        band = _band(fit, lambda lw, x, w=which: lw.optimal(x)[w], cs)
        if band:
            bottom.fill_between(cs, *band, color=color, alpha=0.2)
    chin = np.sqrt(cs / (6 * CHINCHILLA_RATIO))
    bottom.plot(cs, chin, color="C0", linestyle="--", linewidth=0.9, label="N at 20 tokens/parameter")
    bottom.plot(
        cs, CHINCHILLA_RATIO * chin, color="C1", linestyle="--", linewidth=0.9, label="D at 20 tokens/parameter"
    )
    bottom.scatter([r.flops for r in results], [r.params for r in results], color="C0", s=12, alpha=0.6)
    bottom.axvline(rec.budget, color="0.3", linestyle=":", linewidth=1)
    bottom.set_xscale("log")
    bottom.set_yscale("log")
    bottom.set_xlabel("compute C (FLOPs)")
    bottom.set_ylabel("compute-optimal size")
    bottom.set_title(f"N_opt ~ C^{law.n_exponent:.2f}, D_opt ~ C^{1 - law.n_exponent:.2f}")
    bottom.grid(True, which="both", alpha=0.3)
    bottom.legend(fontsize="small")
    return _save(fig, out)


def abilities(results: list[RunResult], out: Path) -> Path | None:
    """Fact completion against compute, a line per depth; None when no run measured it."""
    measured = [r for r in results if r.fact_accuracy is not None]
    if not measured:
        return None
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for i, depth in enumerate(sorted({r.depth for r in measured})):
        mine = sorted((r for r in measured if r.depth == depth), key=lambda r: r.flops)
        ax.plot(
            [r.flops for r in mine],
            [r.fact_accuracy for r in mine],
            marker="o",
            color=f"C{i % 10}",
            label=f"depth {depth}",
        )
    chance = [r.fact_chance for r in measured if r.fact_chance is not None]
    if chance:
        ax.axhline(float(np.mean(chance)), color="0.2", linestyle="--", linewidth=1, label="chance")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("compute C = 6ND (FLOPs)")
    ax.set_ylabel("closed-book fact completion")
    ax.set_title("where memorising facts appears as scale grows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, out)
