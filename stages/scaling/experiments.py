"""The sweep as DVC experiments, for those who run neither Prefect nor the stage's own runner:

    python -m stages.scaling.experiments queue [--set ...]   # `dvc exp run --queue pretrain -S ...` per run
    dvc queue start --jobs 2                                 # DVC trains them (each in its own temp workspace)
    python -m stages.scaling.experiments collect             # finished experiments -> the runs' directories
    dvc repro stages/scaling/dvc.yaml                        # every run done: the fit and the recommendation

Each run of the plan is the experiment `scaling-<run id>` of the `pretrain` stage with the run's
settings (`-S pretrain.model.depth=2 -S pretrain.max_steps=305 ...`). `collect` reads each
finished experiment's pretrain metrics from its commit (data/metrics is tracked in git) into
<runs_dir>/runs/<id>/ exactly as stages/scaling/runs.py leaves a run it trained, so the scaling
stage finds them done. `queue` leaves out runs already done, so queueing again after a failure
queues only what failed; DVC's run cache skips training a pretrain it has run before.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from crisol.core.atomic import write_json
from crisol.core.errors import ParamsError, StageInputError
from crisol.core.params import DEFAULT_PARAMS_FILE, load, resolve_tree
from stages.scaling.params import ScalingParams
from stages.scaling.plan import Plan, Run, make_plan
from stages.scaling.runs import METRICS, is_done, write_record

PREFIX = "scaling-"


def experiment_name(run: Run) -> str:
    return PREFIX + run.id


def queue_command(plan: Plan, run: Run) -> list[str]:
    """`dvc exp run --queue` of the pretrain stage as this run (the sweep's overrides first).

    Each `pretrain.<key>=value` goes to the active profile's table (`++profiles.<profile>.pretrain.<key>`,
    Hydra's add-or-override, as DVC parses --set-param): a profile's value wins over the base
    section's (micro's `max_steps: 40` would otherwise train every run 40 steps)."""
    command = ["dvc", "exp", "run", "--queue", "pretrain", "--name", experiment_name(run)]
    for assignment in (*plan.overrides, *run.settings):
        command += ["--set-param", f"++profiles.{plan.profile}.{assignment}"]
    return command


def experiment_refs(workdir: Path) -> dict[str, str]:
    """Experiment name -> its git ref (DVC keeps experiments under refs/exps/)."""
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {ref.rsplit("/", 1)[-1]: ref for ref in out.split()}


def collect(plan: Plan, metrics_path: str) -> tuple[list[str], list[str]]:
    """Copy every finished experiment's pretrain metrics into its run's directory; returns the
    run ids collected and those with no finished experiment (still queued, running or failed)."""
    refs = experiment_refs(plan.workdir)
    collected, missing = [], []
    for run in plan.runs:
        directory = plan.directory(run)
        if is_done(directory, run):
            continue
        ref = refs.get(experiment_name(run))
        shown = ref and subprocess.run(
            ["git", "show", f"{ref}:{metrics_path}"], cwd=plan.workdir, capture_output=True, text=True
        )
        if not shown or shown.returncode != 0:
            missing.append(run.id)
            continue
        metrics = json.loads(shown.stdout)
        if metrics.get("steps") != run.steps:
            raise StageInputError(
                f"experiment {experiment_name(run)} trained {metrics.get('steps')} steps, "
                f"the plan's run {run.steps}: queued from other params?"
            )
        directory.mkdir(parents=True, exist_ok=True)
        write_record(directory, run, experiment=ref)
        write_json(directory / METRICS, metrics)
        collected.append(run.id)
    return collected, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.scaling.experiments", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["queue", "collect"])
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS_FILE)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--dry-run", action="store_true", help="queue: print the commands, queue nothing")
    args = parser.parse_args(argv)
    try:
        params, _, _ = load("scaling", ScalingParams, args.params, args.overrides)
        plan = make_plan(params, args.params, args.overrides)
        if args.action == "queue":
            if any(o.partition("=")[0] == "profile" for o in args.overrides):
                # an experiment with another profile reruns the data stages too: its runs would
                # train on other tokens than the plan (and its run ids) were made from
                raise ParamsError(
                    "queue: set the profile in params.yaml, not with --set (each experiment would "
                    "rebuild the data under that profile)"
                )
            pending = [run for run in plan.runs if not is_done(plan.directory(run), run)]
            for run in pending:
                command = queue_command(plan, run)
                print(" ".join(command))
                if not args.dry_run:
                    subprocess.run(command, check=True)
            print(
                f"{len(pending)} of {len(plan.runs)} runs queued; `dvc queue start --jobs {params.workers}`, then "
                "`python -m stages.scaling.experiments collect`",
                file=sys.stderr,
            )
            return 0
        metrics_path = resolve_tree(args.params, args.overrides)["pretrain"]["metrics"]
        collected, missing = collect(plan, str(metrics_path))
        print(
            f"collected {len(collected)} runs; {len(missing)} without a finished experiment"
            + (f" ({', '.join(missing)}): see `dvc queue status`, queue again after a failure" if missing else "")
        )
        return 0 if not missing else 1
    except (ParamsError, StageInputError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ParamsError) else 1


if __name__ == "__main__":
    sys.exit(main())
