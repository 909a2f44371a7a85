"""The Chinchilla loss law fitted to the sweep's runs (Hoffmann et al. 2022, approach 3):

    L(N, D) = E + A / N^alpha + B / D^beta

fitted in log space as log L = LSE(a - alpha log N, b - beta log D, e) with A = exp a, B = exp b,
E = exp e, minimising the Huber loss (delta 1e-3 in the paper) of the log-loss residuals, so one
bad run moves the fit little. L-BFGS-B runs from the best points of the paper's grid of
initialisations (every grid point is scored first, vectorised; only the best `starts` are
optimised). Confidence intervals are percentile bootstrap intervals: the runs resampled with
replacement, each resample fitted the same way (from the full fit and the resample's own best
grid points).

For a budget C = 6 N D the loss is lowest at
    N_opt(C) = G (C / 6)^(beta / (alpha + beta)),  G = (alpha A / (beta B))^(1 / (alpha + beta)),
    D_opt(C) = C / (6 N_opt(C)),
(setting dL/dN = 0 along D = C / 6N), with D_opt / N_opt tokens per parameter.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.optimize import minimize

from stages.scaling.params import LAW_PARAMETERS

NAMES = ("E", "A", "B", "alpha", "beta")
# Hoffmann et al.'s grid of initialisations (theta = a, b, e, alpha, beta)
INIT_GRID = {
    "a": np.arange(0, 30, 5.0),
    "b": np.arange(0, 30, 5.0),
    "e": np.arange(-1, 1.5, 0.5),
    "alpha": np.arange(0, 2.5, 0.5),
    "beta": np.arange(0, 2.5, 0.5),
}
# Keep the optimiser in a region where the law means something (exponents positive, finite scales).
BOUNDS = [(-20.0, 80.0), (-20.0, 80.0), (-10.0, 5.0), (1e-3, 3.0), (1e-3, 3.0)]
AGREE = 1e-6  # starts whose objective is within this (relative) of the best agree with it
BOOT_STARTS = 1  # grid points per bootstrap resample, besides the full fit's optimum


@dataclass(frozen=True)
class Law:
    E: float
    A: float
    B: float
    alpha: float
    beta: float

    @classmethod
    def from_theta(cls, theta: np.ndarray) -> "Law":
        a, b, e, alpha, beta = (float(x) for x in theta)
        return cls(E=math.exp(e), A=math.exp(a), B=math.exp(b), alpha=alpha, beta=beta)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in NAMES}

    def loss(self, n, d):
        """Predicted loss for N parameters trained on D tokens (arrays broadcast)."""
        return self.E + self.A / np.power(n, self.alpha) + self.B / np.power(d, self.beta)

    @property
    def n_exponent(self) -> float:
        """N_opt grows as C to this power (Chinchilla's a; 0.5 means D / N is the same at every budget)."""
        return self.beta / (self.alpha + self.beta)

    def optimal(self, flops):
        """(N_opt, D_opt) for compute `flops` (C = 6 N D)."""
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))
        n = g * np.power(np.asarray(flops, dtype=float) / 6.0, self.n_exponent)
        return n, np.asarray(flops, dtype=float) / (6.0 * n)

    def optimal_loss(self, flops):
        n, d = self.optimal(flops)
        return self.loss(n, d)


def _objective(
    theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_l: np.ndarray, weights: np.ndarray, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean Huber loss of the log-loss residuals (over delta, so its scale is ~|residual|)
    and its gradient; theta may be one parameter vector (5,) or a stack of them (K, 5)."""
    theta = np.atleast_2d(theta)
    a, b, e, alpha, beta = (theta[:, i : i + 1] for i in range(LAW_PARAMETERS))
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.broadcast_to(e, (len(theta), len(log_n)))])
    top = terms.max(axis=0)
    exp = np.exp(terms - top)
    total = exp.sum(axis=0)
    residual = top + np.log(total) - log_l
    share = exp / total  # d LSE / d term
    small = np.abs(residual) <= delta
    huber = np.where(small, 0.5 * residual**2, delta * (np.abs(residual) - 0.5 * delta))
    slope = np.where(small, residual, delta * np.sign(residual))
    norm = weights / (weights.sum() * delta)
    value = (huber * norm).sum(axis=1)
    g = slope * norm
    grad = np.stack(
        [
            (g * share[0]).sum(1),
            (g * share[1]).sum(1),
            (g * share[2]).sum(1),
            -(g * share[0] * log_n).sum(1),
            -(g * share[1] * log_d).sum(1),
        ],
        axis=1,
    )
    return value, grad


def _grid() -> np.ndarray:
    return np.array(
        list(itertools.product(INIT_GRID["a"], INIT_GRID["b"], INIT_GRID["e"], INIT_GRID["alpha"], INIT_GRID["beta"]))
    )


@dataclass
class Optimum:
    theta: np.ndarray
    value: float
    success: bool
    agreeing: int  # starts that reached the best value
    starts: int


def _optimise(log_n, log_d, log_l, weights, delta: float, starts: np.ndarray) -> Optimum:
    def f(theta):
        value, grad = _objective(theta, log_n, log_d, log_l, weights, delta)
        return float(value[0]), grad[0]

    results = [
        minimize(
            f, x0, jac=True, method="L-BFGS-B", bounds=BOUNDS, options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-9}
        )
        for x0 in starts
    ]
    best = min(results, key=lambda r: r.fun)
    agreeing = sum(r.fun <= best.fun + AGREE * max(abs(best.fun), 1e-12) for r in results)
    return Optimum(
        theta=np.asarray(best.x),
        value=float(best.fun),
        success=bool(best.success),
        agreeing=agreeing,
        starts=len(results),
    )


def _best_grid_points(grid: np.ndarray, log_n, log_d, log_l, weights, delta: float, count: int) -> np.ndarray:
    values, _ = _objective(grid, log_n, log_d, log_l, weights, delta)
    return grid[np.argsort(values, kind="stable")[:count]]


@dataclass
class Fit:
    law: Law
    theta: np.ndarray
    objective: float
    converged: bool  # L-BFGS-B reported convergence for the best start
    agreeing_starts: int
    starts: int
    residual_rms: float  # of log L, at the fitted law
    points: int
    confidence: float
    boot: list[Law] = field(default_factory=list)
    boot_skipped: int = 0  # resamples with too few distinct runs to fit 5 parameters

    @property
    def at_bounds(self) -> list[str]:
        """Parameters the optimum pressed against a bound: the data do not determine them (e.g.
        E -> 0 when every run is far from the irreducible loss)."""
        names = ("A", "B", "E", "alpha", "beta")  # theta's order: a, b, e, alpha, beta
        return [
            name
            for name, value, (low, high) in zip(names, self.theta, BOUNDS)
            if min(value - low, high - value) < 1e-6 * max(1.0, abs(value))
        ]

    def interval(self, of: Callable[[Law], float]) -> tuple[float, float] | None:
        """Percentile bootstrap interval of any quantity of the law; None without bootstrap."""
        values = np.array([of(law) for law in self.boot], dtype=float)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return None
        tail = (1.0 - self.confidence) / 2.0 * 100.0
        low, high = np.percentile(values, [tail, 100.0 - tail])
        return float(low), float(high)

    def parameter_intervals(self) -> dict[str, tuple[float, float] | None]:
        return {name: self.interval(lambda law, name=name: getattr(law, name)) for name in NAMES}


def fit_law(
    n, d, loss, *, delta: float = 1e-3, starts: int = 8, bootstrap: int = 200, confidence: float = 0.95, seed: int = 0
) -> Fit:
    """Fit L(N, D) to runs (N parameters, D tokens, final loss), with bootstrap intervals."""
    n, d, loss = (np.asarray(x, dtype=float) for x in (n, d, loss))
    if not (len(n) == len(d) == len(loss)):
        raise ValueError("n, d and loss must have the same length")
    if len(n) <= LAW_PARAMETERS:
        raise ValueError(
            f"{len(n)} runs cannot determine the law's {LAW_PARAMETERS} parameters (at least {LAW_PARAMETERS + 1})"
        )
    if not (np.all(n > 0) and np.all(d > 0) and np.all(loss > 0) and np.all(np.isfinite(loss))):
        raise ValueError("every run needs N > 0, D > 0 and a finite loss > 0")
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(loss)
    ones = np.ones_like(log_n)
    grid = _grid()
    first = _optimise(
        log_n, log_d, log_l, ones, delta, _best_grid_points(grid, log_n, log_d, log_l, ones, delta, starts)
    )
    law = Law.from_theta(first.theta)
    residual = np.log(law.loss(n, d)) - log_l
    result = Fit(
        law=law,
        theta=first.theta,
        objective=first.value,
        converged=first.success,
        agreeing_starts=first.agreeing,
        starts=first.starts,
        residual_rms=float(np.sqrt(np.mean(residual**2))),
        points=len(n),
        confidence=confidence,
    )
    rng = np.random.default_rng(seed)
    while len(result.boot) < bootstrap:
        counts = rng.multinomial(len(n), np.full(len(n), 1.0 / len(n))).astype(float)
        if np.count_nonzero(counts) <= LAW_PARAMETERS:
            result.boot_skipped += 1
            if result.boot_skipped > 10 * bootstrap:  # never: with > 5 runs most resamples have enough
                break
            continue
        seeds = np.vstack([first.theta, _best_grid_points(grid, log_n, log_d, log_l, counts, delta, BOOT_STARTS)])
        result.boot.append(Law.from_theta(_optimise(log_n, log_d, log_l, counts, delta, seeds).theta))
    return result


def sample_isoflop(law: Law, budgets, sizes: int = 5, spread: float = 4.0, noise: float = 0.01, seed: int = 0):
    """Runs as an IsoFLOP sweep under `law` would measure them: per budget, `sizes` models from
    N_opt / spread to N_opt x spread, each loss times exp(normal(0, noise)). For checking the fit
    (tests, benchmarks) against known parameters."""
    rng = np.random.default_rng(seed)
    n = np.concatenate([law.optimal(budget)[0] * np.geomspace(1 / spread, spread, sizes) for budget in budgets])
    d = np.repeat(np.asarray(budgets, dtype=float), sizes) / (6 * n)
    return n, d, law.loss(n, d) * np.exp(rng.normal(0.0, noise, len(n)))
