"""The `scaling` section of params.yaml. Defaults are the `tiny` profile, PROFILES holds the other
profiles' values.

Compute is counted as C = 6 N D with N the non-embedding parameters (the convention of
stages/pretrain/sizing.py and Kaplan et al.) and D the training tokens. The runs inherit every
other setting (learning rate, batch, sequence length, ...) from the active profile's `pretrain`
section: the sweep measures the recipe the next pretraining run will use.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from crisol.core.params import Section
from crisol.core.path_roles import OutputDir, OutputFile, WorkDir

LAW_PARAMETERS = 5  # E, A, B, alpha, beta


class ScalingParams(Section):
    """The IsoFLOP sweep and the loss law it fits; sizes the next pretraining run (stages/scaling).
    Opt-in: no stage depends on it. Runs inherit the profile's pretrain recipe; docs/scaling.md.
    An IsoFLOP grid of pretraining runs -> the fitted law L(N, D) -> a size for `budget`."""

    # where things go: per-run directories (checkpoints, logs, metrics) live outside the DVC out,
    # because DVC deletes a stage's outs before running it and the runs are the sweep's cache
    runs_dir: WorkDir = Path("data/scaling-work")
    out: OutputDir = Path("data/scaling")  # fit.json, recommendation.json, runs.csv, table.json, report.md
    figures: OutputDir = Path("data/plots/scaling")  # isoflop.png, frontier.png, abilities.png (DVC image plots)
    metrics: OutputFile = Path("data/metrics/scaling.json")

    # the grid: every budget (FLOPs, C = 6 N D; an IsoFLOP curve each) gets `sizes_per_budget` depths,
    # either the given `depths` (each budget uses all of them) or, with `depths: null`, consecutive
    # depths centred on the depth closest to the Chinchilla prior N = sqrt(C / (6 x prior_tokens_per_param))
    budgets: list[float] = Field(default_factory=lambda: [2e11, 6e11, 2e12], min_length=2)
    depths: list[int] | None = Field(default_factory=lambda: [1, 2, 4])
    sizes_per_budget: int = Field(3, ge=3)
    prior_tokens_per_param: float = Field(20.0, gt=0)
    # The model family: d_model null follows depth (ModelConfig.from_depth: 64 x depth, the
    # project's one size knob); an integer fixes the width and depth alone sets the size.
    d_model: int | None = Field(128, ge=1)  # = pretrain.model.d_model (tiny's width)
    min_steps: int = Field(10, ge=1)  # a grid point with fewer optimiser steps is an error
    # Each run warms up for this share of its steps (= tiny pretrain's 100 of 2,000 steps).
    warmup_fraction: float = Field(0.05, ge=0, lt=1)
    checkpoints_per_run: int = Field(4, ge=1)  # resumable points per run (killed runs resume)
    keep_checkpoints: bool = False  # delete a finished run's checkpoints (disk)

    # the recommendation: the compute budget the next pretraining run has
    budget: float = Field(4.2e13, gt=0)  # tiny pretrain's: depth 4, 2,000 x 4,096 tokens

    # the fit (Hoffmann et al. 2022, approach 3): Huber loss on log-loss residuals
    huber_delta: float = Field(1e-3, gt=0)
    bootstrap: int = Field(200, ge=0)  # resamples of the runs for the intervals; 0: none
    confidence: float = Field(0.95, gt=0, lt=1)
    starts: int = Field(8, ge=1)  # L-BFGS starts: the best points of the initial grid
    seed: int = 0

    # execution: concurrent runs, each a `python -m stages.pretrain` subprocess with
    # (cores / workers) torch threads unless pretrain.threads is set
    workers: int = Field(2, ge=1, le=64)

    @model_validator(mode="after")
    def _grid(self) -> "ScalingParams":
        bad = [b for b in self.budgets if not b > 0]
        if bad:
            raise ValueError(f"budgets must be positive FLOPs (got {bad[0]!r})")
        if len(set(self.budgets)) != len(self.budgets):
            raise ValueError("budgets must be distinct (an IsoFLOP curve per budget)")
        if self.depths is not None:
            if len(set(self.depths)) < 3 or any(d < 1 for d in self.depths):
                raise ValueError(f"depths: at least 3 distinct positive depths per budget (got {self.depths})")
        # 2+ budgets x 3+ sizes: at least 6 runs for the law's LAW_PARAMETERS (5) parameters
        return self


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {
        "budgets": [3e10, 1e11, 3e11],
        "depths": [1, 2, 3],
        "d_model": 64,  # = micro's pretrain width
        "warmup_fraction": 0.1,
        "budget": 3e11,
        "bootstrap": 100,
    },
    # One GPU: the from_depth family (d_model = 64 x depth) around 20 tokens/param.
    "small": {"budgets": [1e16, 3e16, 1e17], "depths": None, "d_model": None, "budget": 1e18, "workers": 1},
    "large": {
        "budgets": [1e17, 3e17, 1e18, 3e18],
        "depths": None,
        "sizes_per_budget": 5,
        "d_model": None,
        "budget": 1e20,
        "workers": 1,
    },
}
