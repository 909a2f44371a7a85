"""The scaling-law sweep as a Prefect flow: every pretraining run of the IsoFLOP grid a task.

    python -m flows.scaling [--set section.key=value ...] [--then-pretrain]

1. the pipeline flow brings the data up to date (the `tokenizer` stage and what it needs);
2. each run of the grid (stages/scaling/plan.py) is a `scaling-run` task, `scaling.workers` at a
   time; a run done before is found in its directory and skipped, a failed one resumes from its
   checkpoints on the next sweep, and one failure never stops the others;
3. the pipeline flow runs the `scaling` DVC stage: every run is done, so it only fits the law,
   writes the recommendation and is recorded in dvc.lock; its report and run table are published
   as the artifacts `scaling-report` and `scaling-table`;
4. with --then-pretrain, `pretrain.size_from` is pointed at the recommendation and the pipeline
   flow runs `pretrain` at the recommended size.

Without Prefect, `dvc repro stages/scaling/dvc.yaml` does 2 and 3 in one process (stages/scaling/runs.py runs the
same runs the same way), and stages/scaling/experiments.py queues them as DVC experiments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from crisol.core.params import load
from flows.pipeline import REPO_ROOT, pipeline
from flows.workspace_lock import workspace_lock
from stages.scaling.params import ScalingParams
from stages.scaling.plan import Plan, Run, make_plan
from stages.scaling.runs import execute

UPSTREAM = "tokenizer"  # the stage whose token shards every run reads


class RunFailed(RuntimeError):
    pass


@task(name="scaling-run", task_run_name="{run.id}")
def train_run(plan: Plan, run: Run) -> dict[str, object]:
    """One pretraining run of the grid (skipped when done; resumes from its checkpoints)."""
    outcome = execute(plan, run, logging.getLogger("crisol.scaling"))
    get_run_logger().info(
        "run %s (depth %d, N %s, %d steps): %s in %.1f s",
        run.id,
        run.depth,
        f"{run.params:,}",
        run.steps,
        outcome.status,
        outcome.seconds,
    )
    if outcome.status == "failed":
        raise RunFailed(f"run {run.id} failed (exit {outcome.returncode}); log {outcome.log}")
    return {
        "run": run.id,
        "depth": run.depth,
        "steps": run.steps,
        "status": outcome.status,
        "seconds": round(outcome.seconds, 1),
    }


def sweep(root: Path) -> list[dict[str, object]]:
    """Step 2: the grid's runs as tasks, `workers` at a time; raises after all ended if any failed."""
    params_file = root / "params.yaml"
    params, _, _ = load("scaling", ScalingParams, params_file)
    plan = make_plan(params, params_file, workdir=root)
    get_run_logger().info(
        "scaling: %d runs (depths %s), %d at a time",
        len(plan.runs),
        sorted({r.depth for r in plan.runs}),
        params.workers,
    )
    with ThreadPoolTaskRunner(max_workers=params.workers) as runner:
        futures = [runner.submit(train_run, parameters={"plan": plan, "run": run}) for run in plan.runs]
        for future in futures:
            future.wait()
    failed = [run.id for run, future in zip(plan.runs, futures) if not future.state.is_completed()]
    if failed:
        raise RunFailed(
            f"{len(failed)} of {len(plan.runs)} runs failed: {', '.join(failed)}; the others are done, "
            "so the next sweep reruns only these"
        )
    return [future.result() for future in futures]


@flow(name="crisol-scaling")
def scaling_sweep(
    root: str = str(REPO_ROOT), set_params: list[str] | None = None, then_pretrain: bool = False
) -> dict[str, object]:
    """Sweep the IsoFLOP grid, fit L(N, D), recommend a size for `scaling.budget`; optionally train it."""
    workspace = Path(root).resolve()
    pipeline(root=str(workspace), targets=[UPSTREAM], set_params=set_params)
    with workspace_lock(workspace, get_run_logger()):  # no other flow changes the data under the runs
        runs = sweep(workspace)
    fitted = pipeline(root=str(workspace), targets=["scaling"])
    result: dict[str, object] = {"runs": runs, "scaling": fitted[-1]}
    if then_pretrain:
        params, _, _ = load("scaling", ScalingParams, workspace / "params.yaml")
        size_from = f"pretrain.size_from={params.out / 'recommendation.json'}"
        result["pretrain"] = pipeline(root=str(workspace), targets=["pretrain"], set_params=[size_from])[-1]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.scaling", description=scaling_sweep.__doc__)
    parser.add_argument("--root", default=str(REPO_ROOT))
    parser.add_argument(
        "--set",
        dest="set_params",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="write a parameter override into params.yaml first (e.g. profile=micro)",
    )
    parser.add_argument(
        "--then-pretrain",
        action="store_true",
        help="then train the recommended size (sets pretrain.size_from in params.yaml)",
    )
    args = parser.parse_args(argv)
    result = scaling_sweep(root=args.root, set_params=args.set_params, then_pretrain=args.then_pretrain)
    for row in result["runs"]:
        print(
            f"{row['run']:>22}  depth {row['depth']}  {row['steps']:>6} steps  {row['status']:<6} "
            f"{row['seconds']:>7.1f} s"
        )
    print(f"scaling: {result['scaling']['outcome']} ({result['scaling']['metrics']})")
    if "pretrain" in result:
        print(f"pretrain: {result['pretrain']['outcome']} ({result['pretrain']['metrics']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
