"""Seconds per loss-law fit: ours against Hoffmann et al.'s recipe of an L-BFGS from every start.

    .venv/bin/python benchmarks/bench_scaling.py [--sample 300] [--bootstrap 100]

Runs are drawn from Chinchilla's estimates (E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28) on a
5 x 5 IsoFLOP grid with 1% noise, the shape of a real sweep.
- baseline: L-BFGS-B from every point of the paper's grid of initialisations (4,500 starts), as
  the paper describes; timed on `--sample` random starts and scaled to 4,500 (the starts are
  independent, so the time is linear in their number).
- ours: stages.scaling.fit.fit_law: the 4,500 starts scored in one vectorised pass, L-BFGS-B from
  the best 8 only. Both reach the same optimum (checked: ours is at least as low as the best of
  the baseline's sample). With `--bootstrap`, the whole fit with its intervals (each resample warm-
  started from the full fit and its own best start) against the baseline recipe per resample.
Target: ours / baseline >= 100 x for one fit.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from scipy.optimize import minimize

from stages.scaling.fit import BOUNDS, Law, _grid, _objective, fit_law, sample_isoflop

TRUE = Law(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def runs():
    return sample_isoflop(TRUE, (1e18, 3e18, 1e19, 3e19, 1e20), noise=0.01, seed=0)


def baseline(n, d, loss, starts: np.ndarray) -> tuple[float, float]:
    """L-BFGS-B from each start; returns (seconds, best objective)."""
    args = (np.log(n), np.log(d), np.log(loss), np.ones(len(n)), 1e-3)

    def f(theta):
        value, grad = _objective(theta, *args)
        return float(value[0]), grad[0]

    t = time.perf_counter()
    best = min(
        minimize(
            f, x0, jac=True, method="L-BFGS-B", bounds=BOUNDS, options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-9}
        ).fun
        for x0 in starts
    )
    return time.perf_counter() - t, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--bootstrap", type=int, default=100)
    args = parser.parse_args()
    n, d, loss = runs()
    grid = _grid()
    sample = grid[np.random.default_rng(1).choice(len(grid), args.sample, replace=False)]
    seconds, best = baseline(n, d, loss, sample)
    per_fit = seconds / args.sample * len(grid)
    t = time.perf_counter()
    ours = fit_law(n, d, loss, bootstrap=0)
    ours_s = time.perf_counter() - t
    print(f"machine: {platform.processor() or platform.machine()}, {len(n)} runs")
    print(
        f"baseline: L-BFGS-B from all {len(grid):,} starts: {per_fit:.1f} s per fit "
        f"(measured {seconds:.1f} s on {args.sample}); best objective {best:.6g}"
    )
    print(
        f"ours: vectorised scoring + 8 starts: {ours_s:.3f} s per fit; objective {ours.objective:.6g} "
        f"({'as low' if ours.objective <= best + 1e-9 else 'HIGHER'}), {ours.agreeing_starts}/8 starts agree"
    )
    print(f"ratio: {per_fit / ours_s:.0f} x (target >= 100)")
    if args.bootstrap:
        t = time.perf_counter()
        fit_law(n, d, loss, bootstrap=args.bootstrap)
        boot_s = time.perf_counter() - t
        print(
            f"with {args.bootstrap} bootstrap resamples: ours {boot_s:.1f} s; the baseline recipe per resample "
            f"would take {per_fit * (args.bootstrap + 1) / 3600:.1f} h "
            f"({per_fit * (args.bootstrap + 1) / boot_s:.0f} x)"
        )


if __name__ == "__main__":
    main()
