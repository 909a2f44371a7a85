"""The sweep's plan: the grid of (budget, depth) points, the pretraining run behind each, and the
exact `python -m stages.pretrain` command that trains it.

A run inherits the active profile's whole `pretrain` section (and any `--set` given to the sweep)
and changes only what makes it a grid point: the depth, the family's shape (width, heads, MLP),
max_steps, a warm-up of `warmup_fraction` of its steps, one evaluation at the end, and its own
directory for outputs, metrics and checkpoints. Its id digests the resulting training config and
the data (tokenizer hash, token counts): the same config on the same data is found again, so a
rerun of the sweep reruns only the runs that are not done, and a changed recipe or dataset starts
new ones beside the old.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crisol.core.errors import ParamsError
from crisol.core.params import apply_override, resolve_tree
from crisol.formats.tokens import TokenSplit
from stages.scaling.grid import Family, Point, plan_points, run_id
from stages.scaling.params import ScalingParams

# Shape keys the family derives from depth (a profile's fixed heads or MLP width would not fit
# every depth: large's 6 key/value heads divide only some head counts).
DERIVED_SHAPE = ("n_heads", "n_kv_heads", "ffn_hidden")
# pretrain keys that do not change what a run learns, left out of its identity (paths are
# replaced by the data's own identity: tokenizer hash and token counts).
NOT_IDENTITY = frozenset(
    {
        "train",
        "validation",
        "tokenizer",
        "facts",
        "pages",
        "documents",
        "out",
        "plots",
        "metrics",
        "checkpoint_dir",
        "checkpoint_every",
        "keep_checkpoints",
        "on_incompatible_checkpoint",
        "threads",
        "log_every",
        "cpu_watts_per_core",
        "fsdp",
    }
)


def _value(value: Any) -> str:
    """A --set value as YAML reads it back (null, 3, 0.5)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def shape_settings(depth: int, d_model: int | None) -> list[str]:
    """The family's model at `depth`, as pretrain overrides."""
    return [
        f"pretrain.model.depth={depth}",
        f"pretrain.model.d_model={_value(d_model)}",
        *(f"pretrain.model.{key}=null" for key in DERIVED_SHAPE),
    ]


def schedule_settings(steps: int, warmup_fraction: float) -> list[str]:
    return [f"pretrain.max_steps={steps}", f"pretrain.warmup_steps={round(warmup_fraction * steps)}"]


@dataclass(frozen=True)
class Run:
    """One pretraining run; it may serve several grid points (the same depth and steps)."""

    id: str
    depth: int
    params: int  # N (non-embedding)
    steps: int
    tokens: int  # D
    settings: tuple[str, ...]  # the pretrain overrides that make it this grid point
    identity: dict[str, Any]


@dataclass
class Plan:
    params: ScalingParams
    params_file: Path
    overrides: tuple[str, ...]  # the sweep's --set items that concern a run (profile, pretrain.*), passed on
    profile: str
    pretrain: dict[str, Any]  # the resolved pretrain section the runs start from
    family: Family
    tokens_per_step: int
    train_tokens: int
    threads: int | None  # torch threads per run (None: pretrain.threads as set)
    points: list[Point]
    runs: list[Run] = field(default_factory=list)
    point_runs: list[str] = field(default_factory=list)  # run id of each point
    workdir: Path = Path(".")  # relative paths in the params (and the runs' commands) start here

    def directory(self, run: Run) -> Path:
        return (self.workdir / self.params.runs_dir / "runs" / run.id).absolute()

    def command(self, run: Run) -> list[str]:
        """The run's `python -m stages.pretrain` command line (this interpreter)."""
        where = self.directory(run)
        operational = [
            f"pretrain.out={where / 'pretrain'}",
            f"pretrain.plots={where / 'plots'}",
            f"pretrain.metrics={where / 'metrics.json'}",
            f"pretrain.checkpoint_dir={where / 'work'}",
            f"pretrain.checkpoint_every={max(1, run.steps // self.params.checkpoints_per_run)}",
            "pretrain.fsdp=false",
        ]  # one process per run (FSDP needs torchrun; same maths)
        if self.threads is not None:
            operational.append(f"pretrain.threads={self.threads}")
        command = [sys.executable, "-m", "stages.pretrain", "--params", str(self.params_file)]
        for assignment in (*self.overrides, *run.settings, *operational):
            command += ["--set", assignment]
        return command

    def run(self, run_id_: str) -> Run:
        for run in self.runs:
            if run.id == run_id_:
                return run
        raise ParamsError(f"no run {run_id_!r} in the sweep's plan (runs: {', '.join(r.id for r in self.runs)})")


def _section(tree: dict[str, Any], key: str) -> Any:
    value: Any = tree
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ParamsError(f"{key}: missing from params (the sweep's runs inherit it)")
        value = value[part]
    return value


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def make_plan(
    params: ScalingParams, params_file: Path, overrides: list[str] | tuple[str, ...] = (), workdir: Path = Path(".")
) -> Plan:
    """Resolve the runs' pretrain section, read the data's identity, and lay out the grid; the
    params' relative paths are read from `workdir` (the DVC workspace), where the runs start too."""
    tree = resolve_tree(Path(params_file), list(overrides))
    pretrain = _section(tree, "pretrain")
    train = TokenSplit(workdir / _section(tree, "pretrain.train"))
    validation = TokenSplit(workdir / _section(tree, "pretrain.validation"))
    seq_len = int(_section(tree, "pretrain.seq_len"))
    tokens_per_step = int(_section(tree, "pretrain.batch_size")) * int(_section(tree, "pretrain.grad_accum")) * seq_len
    family = Family(
        d_model=params.d_model,
        vocab_size=train.manifest.vocab_size,
        seq_len=seq_len,
        tie_embeddings=bool(_section(tree, "pretrain.model.tie_embeddings")),
    )
    points = plan_points(
        params.budgets,
        family,
        params.depths,
        params.sizes_per_budget,
        params.prior_tokens_per_param,
        tokens_per_step,
        params.min_steps,
    )
    threads = None if pretrain.get("threads") else max(1, _cores() // params.workers)
    for_runs = tuple(o for o in overrides if o.partition("=")[0] == "profile" or o.startswith("pretrain."))
    plan = Plan(
        params=params,
        params_file=Path(params_file).absolute(),
        overrides=for_runs,
        profile=tree.get("profile", "tiny"),
        pretrain=copy.deepcopy(pretrain),
        family=family,
        tokens_per_step=tokens_per_step,
        train_tokens=train.manifest.tokens,
        threads=threads,
        points=points,
        workdir=Path(workdir),
    )
    data = {
        "tokenizer_sha256": train.manifest.tokenizer_sha256,
        "train_tokens": train.manifest.tokens,
        "validation_tokens": validation.manifest.tokens,
    }
    by_id: dict[str, Run] = {}
    for point in points:
        # one evaluation, at the end (pretrain always scores step 0 too): only the final loss is fitted
        settings = (
            *shape_settings(point.depth, params.d_model),
            *schedule_settings(point.steps, params.warmup_fraction),
            f"pretrain.eval_every={point.steps}",
            "pretrain.size_from=null",
        )  # a run is its grid point, whatever sizes the next pretrain
        effective = {"pretrain": copy.deepcopy(pretrain)}
        for assignment in settings:
            apply_override(effective, assignment)
        identity = {"pretrain": {k: v for k, v in effective["pretrain"].items() if k not in NOT_IDENTITY}, "data": data}
        rid = run_id(point.depth, point.steps, identity)
        if rid not in by_id:
            by_id[rid] = Run(
                id=rid,
                depth=point.depth,
                params=point.params,
                steps=point.steps,
                tokens=point.tokens,
                settings=settings,
                identity=identity,
            )
        plan.point_runs.append(rid)
    plan.runs = list(by_id.values())
    return plan
