"""The loss-law fit: synthetic runs from a known law (Hoffmann et al.'s own estimates) with 1% noise
on an IsoFLOP grid are recovered within the bootstrap intervals; the compute-optimal split obeys
its closed form; the grid and its errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crisol.core.errors import ParamsError
from stages.scaling.fit import NAMES, Law, fit_law, sample_isoflop
from stages.scaling.grid import Family, plan_points, run_id
from stages.scaling.params import ScalingParams

CHINCHILLA = Law(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def _isoflop_runs(law: Law, noise: float, seed: int):
    return sample_isoflop(law, (1e18, 3e18, 1e19, 3e19, 1e20), noise=noise, seed=seed)


def test_synthetic_runs_recover_the_law_within_its_intervals():
    fit = fit_law(*_isoflop_runs(CHINCHILLA, noise=0.01, seed=0), bootstrap=50, seed=0)
    assert fit.converged and fit.agreeing_starts >= 2 and not fit.at_bounds
    intervals = fit.parameter_intervals()
    for name in NAMES:
        low, high = intervals[name]
        assert low <= getattr(CHINCHILLA, name) <= high, (name, getattr(fit.law, name), (low, high))
    # the quantities users act on are tighter than the parameters: the exponents of N_opt(C)
    low, high = fit.interval(lambda law: law.n_exponent)
    assert low <= CHINCHILLA.n_exponent <= high and high - low < 0.2


def test_noiseless_runs_give_the_law_back():
    fit = fit_law(*_isoflop_runs(CHINCHILLA, noise=0.0, seed=0), bootstrap=0)
    for name in NAMES:
        assert getattr(fit.law, name) == pytest.approx(getattr(CHINCHILLA, name), rel=2e-2), name
    assert fit.residual_rms < 1e-4 and fit.interval(lambda law: law.E) is None


def test_the_optimum_sits_where_the_isoflop_derivative_vanishes():
    budget = 1e21
    n_opt, d_opt = CHINCHILLA.optimal(budget)
    assert 6 * n_opt * d_opt == pytest.approx(budget)
    along = lambda n: CHINCHILLA.loss(n, budget / (6 * n))  # noqa: E731
    assert along(n_opt) < along(n_opt * 1.05) and along(n_opt) < along(n_opt / 1.05)
    # Hoffmann et al.'s approach 3: N_opt grows as C^0.45 with these estimates
    assert CHINCHILLA.n_exponent == pytest.approx(0.28 / 0.62)


def test_too_few_runs_or_bad_losses_are_errors():
    n, d, loss = _isoflop_runs(CHINCHILLA, 0.0, 0)
    with pytest.raises(ValueError, match="cannot determine"):
        fit_law(n[:5], d[:5], loss[:5])
    with pytest.raises(ValueError, match="finite loss"):
        fit_law(n, d, np.where(np.arange(len(n)) == 3, math.nan, loss))


def test_the_grid_spends_each_budget_and_refuses_runs_too_short():
    family = Family(d_model=64, vocab_size=1000, seq_len=128)
    points = plan_points([1e11, 1e12], family, [1, 2, 3], 3, 20.0, tokens_per_step=512, min_steps=10)
    assert len(points) == 6
    for p in points:
        assert p.flops == pytest.approx(p.budget, rel=0.02)  # rounding to whole steps
    with pytest.raises(ParamsError, match="under scaling.min_steps"):
        plan_points([1e9], family, [1, 2, 3], 3, 20.0, tokens_per_step=512, min_steps=10)
    # without depths the grid centres on the Chinchilla prior N = sqrt(C / 120)
    prior = plan_points([1e13], family.__class__(None, 1000, 128), None, 3, 20.0, 512, 1)
    centre = prior[1].params
    assert 0.3 < centre / math.sqrt(1e13 / 120) < 3


def test_a_run_id_follows_what_the_run_is():
    identity = {"pretrain": {"lr": 0.003}, "data": {"tokenizer_sha256": "ab"}}
    assert run_id(2, 100, identity) == run_id(2, 100, dict(identity))
    assert run_id(2, 100, identity) != run_id(2, 100, {**identity, "pretrain": {"lr": 0.001}})


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"budgets": [1e11, 1e11, 1e12]}, "distinct"),
        ({"budgets": [1e11]}, "at least 2"),
        ({"depths": [1, 1, 2]}, "at least 3 distinct"),
    ],
)
def test_grids_that_cannot_fit_the_law_are_refused(grid, message):
    with pytest.raises(ValueError, match=message):
        ScalingParams(**grid)
