"""The main Prefect flow: run the DVC stage graph, one Prefect task per stage, DVC deciding.

    python -m flows.pipeline [--force] [--target STAGE ...] [--set section.key=value ...]

dvc.yaml is first rendered for the data source params.yaml names (flows/graph.py). Each stage
runs as `dvc repro --single-item <root>/dvc.yaml:<stage>` in a subprocess, so DVC
skips what has not changed, and the stage's own log lines are streamed into the Prefect log.
The workspace lock (flows/workspace_lock.py, a file lock the kernel frees when its holder dies)
serialises whole runs, so two runs never fight over DVC's locks or each other's params. No Prefect
result cache on the tasks: caching is DVC's job (a Prefect INPUTS cache would skip a stage whose
DVC deps changed). After a run, a stage's speedrun.json (evaluate's) is appended to the results
log, results/speedrun.jsonl (flows/speedrun_log.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from crisol.core.cli import EXIT_INPUT, EXIT_PARAMS
from crisol.core.errors import ParamsError
from crisol.core.params import resolve_tree
from flows import speedrun_log
from flows.dvc_graph import StageInfo, stage_order
from flows.dvc_repair import repair_workspace
from flows.graph import write_graph
from flows.stage_group import note_stage_group, stop_leftover_stages
from flows.workspace import apply_param_overrides
from flows.workspace_lock import workspace_lock

REPO_ROOT = Path(__file__).resolve().parents[1]
TAIL_LINES = 30


# DVC's line for a stage command that failed: "... failed to run: <cmd>, exited with <status>".
EXIT_STATUS = re.compile(r"exited with (-?\d+)")
# A stage that exits by itself, 1 (its one-line error for unusable input, or an uncaught exception)
# or 2 (a params mistake), meets the same inputs and code again on a retry, so it would fail the
# same way after running again; a stage killed by a signal (out of memory, a Ctrl-C) may not.
DETERMINISTIC_EXITS = {EXIT_INPUT, EXIT_PARAMS}


class StageFailed(RuntimeError):
    def __init__(self, message: str, exit_status: int | None = None):
        super().__init__(message)
        self.exit_status = exit_status  # the stage command's, when DVC names it


def worth_retrying(task, task_run, state) -> bool:
    """Prefect's retry condition for a stage: retry what may pass a second time, not a stage that
    exited with its own error (DETERMINISTIC_EXITS)."""
    error = state.result(raise_on_failure=False)
    return not (isinstance(error, StageFailed) and error.exit_status in DETERMINISTIC_EXITS)


def tool_env() -> dict[str, str]:
    """Environment for DVC: this interpreter's bin first, so `python -m stages.x` is this venv."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def dvc_executable() -> str:
    candidate = Path(sys.executable).parent / "dvc"
    return str(candidate) if candidate.exists() else "dvc"


def _headline_metrics(root: Path, info: StageInfo) -> str:
    """A short summary of a stage's metrics.json for the outcome table (scalars only)."""
    parts = []
    for rel in info.metrics:
        path = root / rel
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        for key, value in data.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "seconds":
                parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts[:8])


@task(
    name="dvc-stage",
    task_run_name="{info.name}",
    retries=1,
    retry_delay_seconds=2,
    retry_condition_fn=worth_retrying,
)
def run_stage(root: str, info: StageInfo, force: bool = False) -> dict[str, object]:
    """Reproduce one DVC stage; returns its outcome (ran or skipped) and headline metrics."""
    logger = get_run_logger()
    cmd = [dvc_executable(), "repro", "--single-item", f"{root}/{info.dvcfile}:{info.name}"]
    if force:
        cmd.append("--force")
    start = time.perf_counter()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    ran = False
    # dvc runs in a process group of its own, named in the workspace (flows/stage_group.py): if this
    # process is killed alone, the next run stops what it left running.
    with subprocess.Popen(
        cmd,
        cwd=root,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    ) as proc:
        note_stage_group(root, proc.pid)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip()
                if not line:
                    continue
                ran = ran or line.startswith("Running stage")
                tail.append(line)
                logger.info("%s | %s", info.name, line)
        except BaseException:  # Ctrl-C (its own session no longer gets the terminal's) or an error
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            raise
        finally:
            proc.wait()
            note_stage_group(root, None)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        last_lines = "\n".join(tail)
        statuses = EXIT_STATUS.findall(last_lines)
        raise StageFailed(
            f"stage {info.name} failed (exit {proc.returncode}); last lines:\n{last_lines}",
            int(statuses[-1]) if statuses else None,
        )
    outcome = "ran" if ran else "skipped"
    logger.info("stage %s %s in %.1f s", info.name, outcome, seconds)
    return {
        "stage": info.name,
        "outcome": outcome,
        "seconds": round(seconds, 2),
        "metrics": _headline_metrics(Path(root), info),
    }


def publish_reports(root: Path, order: list[StageInfo]) -> list[str]:
    """Publish what stages leave for people as Prefect artifacts: a `report.md` in a stage's
    output (the evaluate stage's report card) as markdown, a `table.json` ({headers, rows}) as a
    table. Returns the artifact keys."""
    keys = []
    for info in order:
        name = re.sub(r"[^a-z0-9-]", "-", info.name.lower())  # artifact keys: lower case, digits, dashes
        for out in info.outs:
            report, table = root / out / "report.md", root / out / "table.json"
            if report.is_file():
                key = f"{name}-report"
                create_markdown_artifact(
                    key=key, markdown=report.read_text(encoding="utf-8"), description=f"{info.name}: {out}/report.md"
                )
                keys.append(key)
            if table.is_file():
                data = json.loads(table.read_text())
                key = f"{name}-table"
                create_table_artifact(
                    key=key,
                    table=[dict(zip(data["headers"], row)) for row in data["rows"]],
                    description=f"{info.name}: {out}/table.json",
                )
                keys.append(key)
    return keys


def log_speedruns(root: Path, order: list[StageInfo]) -> list[str]:
    """Append the speedrun line a stage left in its output (the evaluate stage's speedrun.json) to
    the results log, once per run (flows/speedrun_log.py). Reached only when every stage succeeded;
    returns where each line went."""
    return [
        speedrun_log.report(root, root / out / speedrun_log.LINE)
        for info in order
        for out in info.outs
        if (root / out / speedrun_log.LINE).is_file()
    ]


@flow(name="crisol-pipeline")
def pipeline(
    root: str = str(REPO_ROOT),
    targets: list[str] | None = None,
    force: bool = False,
    set_params: list[str] | None = None,
) -> list[dict[str, object]]:
    """Run the DVC stage graph (all stages, or `targets` and what they need) as Prefect tasks."""
    logger = get_run_logger()
    root = str(Path(root).resolve())
    results: list[dict[str, object]] = []
    with workspace_lock(root, logger):
        stop_leftover_stages(root, logger)  # a run killed alone leaves its stages running
        if set_params:
            apply_param_overrides(Path(root) / "params.yaml", set_params)
            logger.info("params.yaml updated: %s", ", ".join(set_params))
        for repaired in repair_workspace(root):  # what a killed run can leave behind (flows/dvc_repair.py)
            logger.warning("%s", repaired)
        source = write_graph(root)  # the graph differs by data source (flows/graph.py)
        logger.info("data source: %s%s", source.kind, f" ({source.root})" if source.is_own else "")
        order = stage_order(root, targets)
        logger.info("stage order: %s", " -> ".join(s.name for s in order))
        try:
            for info in order:
                results.append(run_stage(root, info, force))
        finally:
            done = {r["stage"] for r in results}
            rows = results + [
                {"stage": s.name, "outcome": "failed or not run", "seconds": None, "metrics": ""}
                for s in order
                if s.name not in done
            ]
            create_table_artifact(
                key="pipeline-stages", table=rows, description="Outcome of each DVC stage in this run"
            )
        published = publish_reports(Path(root), order)
        if published:
            logger.info("published artifacts: %s", ", ".join(published))
        for line in log_speedruns(Path(root), order):
            logger.info("%s", line)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.pipeline", description=pipeline.__doc__)
    parser.add_argument("--root", default=str(REPO_ROOT))
    parser.add_argument("--target", dest="targets", action="append", help="run only this stage and its upstream")
    parser.add_argument("--force", action="store_true", help="rerun stages even if DVC sees no change")
    parser.add_argument(
        "--set",
        dest="set_params",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="write a parameter override into params.yaml before running",
    )
    args = parser.parse_args(argv)
    try:  # a bad --set is a one-line error and exit 2 before the flow starts, as for a stage
        if args.set_params:
            resolve_tree(Path(args.root) / "params.yaml", args.set_params)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = pipeline(root=args.root, targets=args.targets, force=args.force, set_params=args.set_params)
    for row in results:
        print(f"{row['stage']:>10}  {row['outcome']:<8} {row['seconds']:>7.1f} s  {row['metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
