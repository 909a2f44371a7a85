"""From the fitted law to the next pretraining run: for the configured budget C, the compute-optimal
N_opt and D_opt, the family's depth whose N is closest to N_opt (on a log scale), and its
max_steps = C / (6 N_depth) / tokens per step.

The recommendation's `size` is what one setting, `pretrain.size_from: <out>/recommendation.json`,
applies to the next pretraining run: the family's shape at that depth, max_steps, and warm-up as
the sweep's runs had it (so the prediction holds for the run that follows). `settings` and
`command` say the same as explicit overrides: the depth (the family derives the rest of the
shape), shape keys only where the profile pins them otherwise (tiny and micro pin d_model), and
the schedule.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from stages.scaling.fit import Fit
from stages.scaling.plan import DERIVED_SHAPE, Plan, schedule_settings, shape_settings

NEIGHBOURS = 1  # depths either side shown with their predicted loss


@dataclass
class Recommendation:
    budget: float
    n_opt: float
    d_opt: float
    tokens_per_param: float
    n_opt_interval: tuple[float, float] | None
    d_opt_interval: tuple[float, float] | None
    tokens_per_param_interval: tuple[float, float] | None
    depth: int
    params: int  # N of the recommended depth
    steps: int
    tokens: int
    predicted_loss: float
    predicted_loss_interval: tuple[float, float] | None
    extrapolation: float  # budget / the sweep's largest budget
    settings: list[str]  # the pretrain --set list (what differs from the sweep's pretrain section)
    command: str
    size: dict[str, Any]  # what pretrain.size_from applies: the whole shape, max_steps, warmup_steps
    alternatives: list[dict[str, Any]] = field(default_factory=list)  # neighbouring depths at the same budget

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _differs(plan: Plan, assignment: str) -> bool:
    """Whether `section.key=value` changes the resolved pretrain section the next run starts from."""
    key, _, raw = assignment.partition("=")
    node: Any = {"pretrain": plan.pretrain}
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node != yaml.safe_load(raw)


def size(plan: Plan, depth: int, steps: int) -> dict[str, Any]:
    """The recommendation as pretrain values (pretrain.size_from reads it)."""
    shape = {"depth": depth, "d_model": plan.params.d_model, **{key: None for key in DERIVED_SHAPE}}
    return {"model": shape, "max_steps": steps, "warmup_steps": round(plan.params.warmup_fraction * steps)}


def _steps(plan: Plan, budget: float, params: int) -> int:
    return max(1, round(budget / (6.0 * params) / plan.tokens_per_step))


def recommend(fit: Fit, plan: Plan) -> Recommendation:
    budget = plan.params.budget
    law = fit.law
    n_opt, d_opt = (float(x) for x in law.optimal(budget))
    depth = plan.family.closest_depth(n_opt)
    params = plan.family.params(depth)
    steps = _steps(plan, budget, params)
    tokens = steps * plan.tokens_per_step
    settings = [
        s
        for s in (*shape_settings(depth, plan.params.d_model), *schedule_settings(steps, plan.params.warmup_fraction))
        if _differs(plan, s)
    ]
    command = shlex.join(
        ["python", "-m", "stages.pretrain", *[a for s in (*plan.overrides, *settings) for a in ("--set", s)]]
    )
    alternatives = []
    for d in range(max(1, depth - NEIGHBOURS), depth + NEIGHBOURS + 1):
        n = plan.family.params(d)
        t = _steps(plan, budget, n) * plan.tokens_per_step
        alternatives.append({"depth": d, "params": n, "tokens": t, "predicted_loss": float(law.loss(n, t))})
    return Recommendation(
        budget=budget,
        n_opt=n_opt,
        d_opt=d_opt,
        tokens_per_param=d_opt / n_opt,
        n_opt_interval=fit.interval(lambda lw: float(lw.optimal(budget)[0])),
        d_opt_interval=fit.interval(lambda lw: float(lw.optimal(budget)[1])),
        tokens_per_param_interval=fit.interval(lambda lw: float(lw.optimal(budget)[1] / lw.optimal(budget)[0])),
        depth=depth,
        params=params,
        steps=steps,
        tokens=tokens,
        predicted_loss=float(law.loss(params, tokens)),
        predicted_loss_interval=fit.interval(lambda lw: float(lw.loss(params, tokens))),
        extrapolation=budget / max(plan.params.budgets),
        settings=settings,
        command=command,
        size=size(plan, depth, steps),
        alternatives=alternatives,
    )
